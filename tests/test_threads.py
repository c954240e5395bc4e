"""Threads (docs/api.md, "Threads"): independent Models run in parallel threads and give their serial results to the
last bit, on both engines; a run lets other threads run Python meanwhile; an engine busy in one thread is refused to
another; ``python -m cablesim.selftest --threads-check``, which test_wheels runs on free-threaded Python."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import threading
import time
from typing import Callable, Optional

import numpy as np
import pytest

import cablesim
from cablesim import selftest
from cablesim.networks import ring

ENGINES = cablesim.build_info()["engines"]
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
IN_USE = (
    "this Simulation is in use by another thread: a call that changes it (run, finitialize, a setter) runs alone, "
    'calls that only read it run together; give each thread its own Model (docs/api.md, "Threads")'
)


def ring_run(index: int, engine: str, threads: Optional[int]) -> Callable[[], tuple[np.ndarray, ...]]:
    """A ring of its own size and stimulus per index, with every-step and interval recordings."""
    network = ring(5 + index, dend_nseg=41)
    model = network.model
    model.IClamp(network.dends[1](0.3), delay=20 + index, dur=2, amp=0.3 + 0.05 * index)
    traces = [model.record(network.somas[0](0.5)), model.record(network.dends[2](0.7)._ref_v, 0.1)]
    traces.append(model.record(network.synapses[1]._ref_g))

    def run() -> tuple[np.ndarray, ...]:
        done = model.run(80, engine=engine, threads=threads)
        return (done.t, *(trace.values.copy() for trace in traces), network.spike_array())

    return run


def engine_and_threads() -> list[tuple[str, Optional[int]]]:
    cases: list[tuple[str, Optional[int]]] = [("default", None)]
    if "coreneuron" in ENGINES:
        cases += [("coreneuron", 1), ("coreneuron", 2)]  # 2: an OpenMP team in each Python thread
    return cases


@pytest.mark.parametrize(("engine", "threads"), engine_and_threads())
def test_independent_models_in_threads_equal_their_serial_runs_bit_for_bit(engine, threads):
    n = 4
    serial = [ring_run(k, engine, threads)() for k in range(n)]
    threaded = selftest.run_in_threads([ring_run(k, engine, threads) for k in range(n)])
    for mine, alone in zip(threaded, serial):
        assert len(mine) == len(alone)
        for got, expected in zip(mine, alone):
            assert got.shape == expected.shape
            assert np.array_equal(got, expected)  # to the last bit
    assert all(len(result[-1]) > 0 for result in serial)  # every ring fired


def continued_run(index: int, engine: str) -> Callable[[], tuple[np.ndarray, ...]]:
    """finitialize, continuerun, parameter changes, continuerun, fadvance: every call that steps."""
    network = ring(4 + index, dend_nseg=21)
    model = network.model
    v = model.record(network.somas[-1](0.5))
    m = model.record(network.somas[0](0.5)._ref_m_hh, 0.1)

    def run() -> tuple[np.ndarray, ...]:
        model.finitialize(-65, engine=engine, threads=1 if engine == "coreneuron" else None)
        model.continuerun(25)
        network.synapses[0].tau = 3.0
        network.somas[1].hh.gnabar = 0.15
        model.continuerun(50.0125)
        for _ in range(5):
            model.fadvance()
        return v.values.copy(), m.values.copy(), network.spike_array(), np.array([model.time])

    return run


@pytest.mark.parametrize("engine", ENGINES)
def test_finitialize_continuerun_and_fadvance_in_threads_equal_serial_runs(engine):
    serial = [continued_run(k, engine)() for k in range(3)]
    threaded = selftest.run_in_threads([continued_run(k, engine) for k in range(3)])
    for mine, alone in zip(threaded, serial):
        for got, expected in zip(mine, alone):
            assert np.array_equal(got, expected)


def test_a_run_lets_other_threads_run_python_meanwhile():
    network = ring(100, dend_nseg=41)
    took: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        network.model.run(100)
        took.append(time.perf_counter() - started)

    worker = threading.Thread(target=run)
    longest_wait = 0.0  # [s] between two turns of this loop
    worker.start()
    last = time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        longest_wait, last = max(longest_wait, now - last), now
    worker.join()
    # A run holding the GIL would stop this loop for about as long as it steps.
    assert longest_wait < 0.5 * took[0], f"this thread waited {longest_wait:.3f} s during a {took[0]:.3f} s run"


def test_a_model_running_in_another_thread_is_refused_not_corrupted():
    network = ring(60, dend_nseg=41)
    model = network.model
    expected = model.run(100).t.copy()
    refusals: list[str] = []
    outcome: list[str] = []

    def run() -> None:
        try:
            model.run(100)
            outcome.append("done")
        except RuntimeError as error:  # only without a GIL: a read that met the run as it started
            outcome.append(str(error))

    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():
        try:
            model.time  # noqa: B018 - reads the engine, which the run holds
        except RuntimeError as error:
            refusals.append(str(error))
    worker.join()
    # With the GIL, a read (which keeps the GIL) can only meet the run while it steps: the read is refused.
    assert refusals[:1] == [IN_USE] or (FREE_THREADED and outcome == [IN_USE])
    assert outcome == ["done"] or FREE_THREADED
    if outcome == ["done"]:
        assert np.array_equal(model.t, expected)


@pytest.mark.skipif(FREE_THREADED, reason="with a GIL only")
def test_the_threads_check_passes_and_says_the_gil_is_released():
    summary = selftest.threads_check(workers=3)
    assert summary.startswith("cablesim threads check passed: Python with a GIL, released while runs step; 3 models")


@pytest.mark.skipif(not FREE_THREADED, reason="free-threaded Python only")
def test_importing_cablesim_leaves_the_gil_disabled():
    assert not sys._is_gil_enabled()  # type: ignore[attr-defined]
    assert selftest.threads_check(workers=3).startswith("cablesim threads check passed: free-threaded Python, GIL")


def test_threads_check_command_prints_one_line_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "cablesim.selftest", "--threads-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith("cablesim threads check passed: ")
    assert "4 models in 4 threads equal serial runs bit for bit" in done.stdout
