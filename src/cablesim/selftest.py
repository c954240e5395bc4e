"""``cablesim.test()``: real simulations checked against values measured with NEURON 9.0.2.

Runs in about a second, so that an installed wheel can prove its compiled core works. When the build has the
coreneuron engine, it also checks that engine against the default one on a small ring network.

``python -m cablesim.selftest`` runs the same checks; ``python -m cablesim.selftest --ring`` runs the ring
network instead and prints ONE JSON object on stdout, for comparing engines, thread counts and builds:
``{"engine": ..., "threads": N, "ranks": 1, "spikes": [[gid, t_ms], ...]}`` with the spikes sorted by (t, gid).
``--ring --mpi`` (under ``mpirun -n N``) spreads the ring over the MPI ranks and prints the object on rank 0 only,
with ``"ranks": N`` and every rank's spikes, which must equal the serial run's. ``--threads-check`` runs independent
models in threads against serial runs and, on free-threaded Python, checks that importing cablesim left the GIL off
(docs/api.md, "Threads").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import sysconfig
import threading
import time
from typing import Callable, Optional, Sequence, TypeVar

import numpy as np

from .model import ENGINES, Model, ModelError, Reference
from .networks import ring
from .parallel import MPIError, ParallelContext

__all__ = ["SelfTestError", "main", "test", "threads_check"]

log = logging.getLogger(__name__)


class SelfTestError(AssertionError):
    """A self-test simulation disagreed with NEURON's result: this build of cablesim is broken."""


def _check(name: str, got: float, expected: float, tolerance: float, unit: str) -> None:
    if not abs(got - expected) <= tolerance:
        raise SelfTestError(
            f"{name}: got {got:.6f} {unit}, NEURON gives {expected:.6f} {unit} (tolerance {tolerance} {unit}); "
            "this build of cablesim computes wrong results: reinstall it or report the platform"
        )


def _hh_soma() -> None:
    model = Model()
    soma = model.Section("soma", L=18.8, diam=18.8, nseg=1, Ra=123, cm=1).insert("hh")
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.1)
    v = model.record(soma(0.5))
    detector = model.NetCon(soma(0.5), None, threshold=0)
    model.run(40, dt=0.025, v_init=-65, celsius=6.3)
    spikes = detector.spike_times
    if len(spikes) != 1:
        raise SelfTestError(f"HH soma: expected exactly 1 spike, got {len(spikes)} at {list(spikes)} ms")
    _check("HH soma spike time", float(spikes[0]), 7.625, 1e-9, "ms")
    _check("HH soma peak", float(np.max(v.values)), 38.09992, 1e-3, "mV")
    _check("HH soma v(5 ms)", float(v.values[200]), -64.94918, 1e-3, "mV")


def _passive_cable() -> None:
    model = Model()
    cable = model.Section("cable", L=1000, diam=1, nseg=101, Ra=100, cm=1).insert("pas", g=1e-4, e=-65)
    model.IClamp(cable(0), delay=0, dur=1e9, amp=0.01)
    traces = [model.record(cable(x)) for x in (0, 0.25, 0.5, 0.75, 1)]
    model.run(200, dt=0.025, v_init=-65)
    for x, trace, expected in zip((0, 0.25, 0.5, 0.75, 1), traces, (-58.3959, -60.8892, -62.2914, -63.0161, -63.2446)):
        _check(f"passive cable v(x={x}, 200 ms)", float(trace.values[-1]), expected, 1e-3, "mV")


def _coreneuron_ring() -> None:
    # The default engine is checked against NEURON above; the coreneuron engine must give its results exactly.
    network = ring(10, dend_nseg=21)
    network.model.run(60, engine="default")
    expected = network.spike_array()
    for threads in (1, 2):
        network.model.run(60, engine="coreneuron", threads=threads)
        got = network.spike_array()
        if got.shape != expected.shape or not np.all(got[:, 0] == expected[:, 0]):
            raise SelfTestError(
                f"coreneuron ring ({threads} threads): spikes {got.tolist()}, the default engine gives "
                f"{expected.tolist()}; this build's coreneuron engine is broken: reinstall it or report the platform"
            )
        difference = float(np.max(np.abs(got[:, 1] - expected[:, 1]), initial=0.0))  # [ms]
        if not difference <= 1e-9:
            raise SelfTestError(
                f"coreneuron ring ({threads} threads): spike times differ from the default engine's by up to "
                f"{difference:g} ms (tolerance 1e-9 ms); this build's coreneuron engine is broken: reinstall it or "
                "report the platform"
            )


def test(verbose: bool = False) -> bool:
    """Run the self-test simulations; raise SelfTestError on a wrong result, return True otherwise."""
    checks = [_hh_soma, _passive_cable] + ([_coreneuron_ring] if "coreneuron" in ENGINES else [])
    for check in checks:
        started = time.perf_counter()
        check()
        message = "cablesim self-test %s passed in %.3f s"
        log.info(message, check.__name__.lstrip("_"), time.perf_counter() - started)
        if verbose:
            print(message % (check.__name__.lstrip("_"), time.perf_counter() - started))  # noqa: T201 - asked for
    return True


Results = tuple[np.ndarray, ...]


def _threaded_workload(index: int, engine: str) -> Callable[[], Results]:
    """A small ring, different for each index, run as NEURON users continue runs: finitialize, continuerun, a
    parameter change, continuerun, fadvance. Returns what it recorded and its spikes."""
    network = ring(4 + index)
    model = network.model
    v = model.record(network.somas[0](0.5))
    m = model.record(Reference(network.somas[-1](0.5), "m_hh"), 0.1)
    threads = 1 + index % 2 if engine == "coreneuron" else None  # OpenMP teams in several Python threads too

    def run() -> Results:
        model.finitialize(-65, engine=engine, threads=threads)
        model.continuerun(30)
        network.synapses[0].tau = 3.0
        model.continuerun(60)
        for _ in range(3):
            model.fadvance()
        return v.values.copy(), m.values.copy(), network.spike_array()

    return run


T = TypeVar("T")


def run_in_threads(runs: Sequence[Callable[[], T]]) -> list[T]:
    """Each run in its own thread, all started at once (a barrier); the results in order; re-raises the first
    failure in the calling thread."""
    start = threading.Barrier(len(runs))
    results: list[Optional[T]] = [None] * len(runs)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            start.wait()
            results[k] = runs[k]()
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(k,), name=f"cablesim-check-{k}") for k in range(len(runs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def threads_check(workers: int = 4) -> str:
    """Check that cablesim runs in threads: on free-threaded Python, importing it left the GIL disabled; on any
    Python, ``workers`` independent models run in as many threads give their serial results to the last bit, on
    every engine of this build. Raise SelfTestError if not; return a one-line summary."""
    started = time.perf_counter()
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if free_threaded and sys._is_gil_enabled():  # type: ignore[attr-defined] # 3.13+, which free-threading needs
        raise SelfTestError(
            "free-threaded Python, but the GIL is enabled after importing cablesim: an extension module it imports "
            "(cablesim._core, or NumPy before 2.1) did not declare that it runs without the GIL, which Python named "
            "in a RuntimeWarning at import (cablesim._core declares it when built with pybind11 >= 2.13), or the GIL "
            "was asked for (PYTHON_GIL=1 or -X gil=1)"
        )
    for engine in ENGINES:
        expected = [_threaded_workload(k, engine)() for k in range(workers)]
        got = run_in_threads([_threaded_workload(k, engine) for k in range(workers)])
        for k, (mine, serial) in enumerate(zip(got, expected)):
            for name, a, b in zip(("v", "m_hh", "spikes"), mine, serial):
                if a.shape != b.shape or not np.array_equal(a, b):
                    raise SelfTestError(
                        f"{engine} engine: model {k} run in a thread next to {workers - 1} others recorded another "
                        f"{name} than the same model run alone; cablesim is not thread-safe in this build: report "
                        "the platform"
                    )
    kind = "free-threaded Python, GIL disabled" if free_threaded else "Python with a GIL, released while runs step"
    return (
        f"cablesim threads check passed: {kind}; {workers} models in {workers} threads equal serial runs bit for "
        f"bit (engines: {', '.join(ENGINES)}; {time.perf_counter() - started:.1f} s)"
    )


def ring_spikes(
    cells: int, tstop: float, engine: str, threads: Optional[int], pc: Optional[ParallelContext] = None
) -> dict[str, object]:
    """The ring network's spikes as the --ring JSON object (with ``pc``: spread over its ranks)."""
    network = ring(cells, pc=pc)
    result = network.model.run(tstop, engine=engine, threads=threads, pc=pc)
    return {
        "engine": engine,
        "threads": result.threads,
        "ranks": result.ranks,
        "spikes": [[gid, t] for gid, t in network.spikes()],
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cablesim.selftest",
        description="Check this build of cablesim against NEURON's results (exit 1 if wrong); with --ring, print "
        "the ring network's spikes as one JSON object instead.",
    )
    parser.add_argument("--ring", action="store_true", help="run the ring network and print its spikes as JSON")
    parser.add_argument("--engine", default="default", help="engine for --ring: default or coreneuron (default)")
    parser.add_argument("--threads", type=int, help="threads for --ring (coreneuron: OpenMP's default if not given)")
    parser.add_argument("--cells", type=int, default=100, help="cells in the ring (100)")
    parser.add_argument("--tstop", type=float, default=100.0, metavar="MS", help="simulated time [ms] (100)")
    parser.add_argument("--mpi", action="store_true", help="spread the ring over the MPI ranks (under mpirun)")
    parser.add_argument(
        "--threads-check",
        action="store_true",
        help="run independent models in threads against serial runs; on free-threaded Python, check that the GIL "
        "stays off (exit 1 if not)",
    )
    args = parser.parse_args(argv)
    if args.mpi and not args.ring:
        parser.error("--mpi goes with --ring")
    if args.threads_check and args.ring:
        parser.error("--threads-check and --ring are separate checks: give one")
    if args.threads_check:
        try:
            print(threads_check())  # noqa: T201 - the check's one line
        except SelfTestError as error:
            print(f"cablesim threads check FAILED: {error}", file=sys.stderr)  # noqa: T201
            return 1
        return 0
    if not args.ring:
        try:
            test(verbose=True)
        except SelfTestError as error:
            print(f"cablesim self-test FAILED: {error}", file=sys.stderr)  # noqa: T201
            return 1
        return 0
    if args.cells < 1:
        parser.error(f"--cells must be >= 1, got {args.cells}")
    pc = None
    try:
        if args.mpi:
            pc = ParallelContext(mpi=True)
        document = ring_spikes(args.cells, args.tstop, args.engine, args.threads, pc)
    except (ModelError, MPIError) as error:
        rank = f" (rank {pc.rank} of {pc.size})" if pc is not None and pc.size > 1 else ""
        print(f"cablesim.selftest --ring{' --mpi' if args.mpi else ''}{rank}: {error}", file=sys.stderr)  # noqa: T201
        return 2
    if pc is None or pc.rank == 0:
        print(json.dumps(document))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
