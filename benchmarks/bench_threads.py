#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = ["cablesim", "numpy>=1.21"]
# ///
"""Time two independent ring networks run in two threads against the same two runs one after the other, and check
that the threads give the serial runs' spikes to the last bit. See benchmarks/README.md, "Threads".

    python benchmarks/bench_threads.py --repeat 5 --json threads.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

import cablesim
from cablesim.networks import Ring, ring

log = logging.getLogger("bench_threads")

GOAL = 1.7  # speed-up of two threads over two runs in sequence, on 2 cores


@dataclass
class Case:
    """One engine's contest: its two rings, and every repeat's time [s] for each way of running them."""

    engine: str
    threads: Optional[int]  # the coreneuron engine's OpenMP threads per run
    rings: list[Ring]
    tstop: float  # [ms]
    sequential: list[float] = field(default_factory=list)
    threaded: list[float] = field(default_factory=list)
    agree: bool = True

    def run(self, network: Ring) -> None:
        network.model.run(self.tstop, engine=self.engine, threads=self.threads)

    def time_sequential(self) -> np.ndarray:
        started = time.perf_counter()
        for network in self.rings:
            self.run(network)
        self.sequential.append(time.perf_counter() - started)
        return np.vstack([network.spike_array() for network in self.rings])

    def time_threaded(self) -> np.ndarray:
        start = threading.Barrier(len(self.rings) + 1)
        errors: list[BaseException] = []

        def work(network: Ring) -> None:
            start.wait()
            try:
                self.run(network)
            except BaseException as error:  # noqa: BLE001 - re-raised below
                errors.append(error)

        workers = [threading.Thread(target=work, args=(network,)) for network in self.rings]
        for worker in workers:
            worker.start()
        started = time.perf_counter()
        start.wait()
        for worker in workers:
            worker.join()
        self.threaded.append(time.perf_counter() - started)
        if errors:
            raise errors[0]
        return np.vstack([network.spike_array() for network in self.rings])

    @property
    def speedup(self) -> float:
        return min(self.sequential) / min(self.threaded)


def busy_cpu_seconds() -> Optional[float]:
    """CPU seconds every process on the machine has used since boot (Linux), to tell how busy others kept it."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_threads.py", description="Two rings in two threads against the same two runs in sequence."
    )
    parser.add_argument("--cells", type=int, default=100, help="cells per ring (100)")
    parser.add_argument("--tstop", type=float, default=100.0, metavar="MS", help="simulated time [ms] (100)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats of each way; the best is kept (5)")
    parser.add_argument("--runs", type=int, default=2, help="rings, and threads (2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every repeat's time and the setup")
    args = parser.parse_args(argv)
    for name in ("cells", "repeat", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parse_args(argv)
    engines: list[tuple[str, Optional[int]]] = [("default", None)]
    if "coreneuron" in cablesim.model.ENGINES:
        engines.append(("coreneuron", 1))  # one OpenMP thread per run: the threads are the runs
    cases = [
        Case(engine, threads, [ring(args.cells) for _ in range(args.runs)], args.tstop)
        for engine, threads in engines
    ]
    load_before = os.getloadavg()
    busy_before, own_before, wall_before = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    gc.disable()
    try:
        for k in range(args.repeat):
            for case in cases:
                # The way that goes first alternates: a machine warming up or cooling down favours neither.
                ways = (case.time_sequential, case.time_threaded)
                first, second = ways if k % 2 == 0 else ways[::-1]
                a, b = first(), second()
                case.agree &= a.shape == b.shape and bool(np.array_equal(a, b))
                log.info("repeat %d %s: in sequence %.3f s, in threads %.3f s", k + 1, case.engine,
                         case.sequential[-1], case.threaded[-1])
    finally:
        gc.enable()
    load_after = os.getloadavg()
    busy_after, own_after, wall_after = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    others = None  # [cores] the CPU other processes used while this ran
    if busy_before is not None and busy_after is not None:
        others = max(0.0, (busy_after - busy_before) - (own_after - own_before)) / (wall_after - wall_before)

    print(f"{args.runs} rings of {args.cells} cells, {args.tstop:g} ms each; best of {args.repeat} (--repeat)")  # noqa: T201
    print(f"{'engine':<16}{'in sequence s':>14}{'in threads s':>14}{'speed-up':>10}  same spikes")  # noqa: T201
    for case in cases:
        name = case.engine + (f" x{case.threads}" if case.threads else "")
        print(f"{name:<16}{min(case.sequential):>14.4f}{min(case.threaded):>14.4f}{case.speedup:>10.2f}  "  # noqa: T201
              f"{'yes, bit for bit' if case.agree else 'NO'}")
    busy = "" if others is None else f"; other processes used {others:.2f} cores meanwhile"
    speedup = cases[0].speedup
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (this run adds up to 2){busy}; "  # noqa: T201
          f"{os.cpu_count()} cores. Goal: {args.runs} threads >= {GOAL}x on 2 cores (default engine): "
          f"{speedup:.2f}x, {'met' if speedup >= GOAL else 'not met'}")
    if args.json:
        document: dict[str, Any] = {
            "cells": args.cells, "tstop": args.tstop, "runs": args.runs, "repeat": args.repeat,
            "load_before": load_before, "load_after": load_after, "other_processes_cores": others,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "cablesim": cablesim.__version__,
            "cases": [{"engine": c.engine, "threads": c.threads, "sequential": c.sequential, "threaded": c.threaded,
                       "speedup": c.speedup, "agree": c.agree} for c in cases],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0 if all(case.agree for case in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
