#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = ["cablesim", "numpy>=1.21"]
# ///
"""Time cablesim's engines against NEURON on the ring network, and check that they all fire the same spikes.

Contestants, on one ring of --cells ball-and-stick cells (cablesim.networks.ring: NEURON's ring tutorial, dend
nseg 101, so 105 nodes per cell; dt 0.025 ms, celsius 6.3 degC, v_init -65 mV, backward Euler):

  default         cablesim's serial engine
  coreneuron x1   cablesim's coreneuron engine on 1 thread
  coreneuron x2   ... on 2 threads
  NEURON          NEURON 9.0.2, fixed step, one thread (when `import neuron` works; the same ring, built by
                  bench_simulator.py's neuron_ring)

Only the run is timed: cablesim's Model.run(tstop) (which also builds the engine's layout from the model) and
NEURON's h.finitialize(-65) + h.continuerun(tstop). Repeats are interleaved, the order rotating from one repeat
to the next, and the best of --repeat is kept for each. Ratios are best time over NEURON's best time.

Agreement: every contestant has the default engine's spikes (same cells, same count); spike times within
1e-9 ms of the default engine's for the coreneuron engine, within 1e-6 ms for NEURON (whose threshold
detection reports t + 1e-10 ms). Exit 0 when they agree, 1 when not, 2 on bad arguments.

    python benchmarks/bench_engines.py --repeat 5 --json engines.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

import cablesim
from cablesim.networks import ring

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_simulator: NEURON's side of the ring
from bench_simulator import CELSIUS, DT, V_INIT, load_neuron, neuron_ring  # noqa: E402

log = logging.getLogger("bench_engines")

ENGINE_TOLERANCE = 1e-9  # [ms] coreneuron vs default
NEURON_TOLERANCE = 1e-6  # [ms] NEURON vs default


@dataclass
class Contestant:
    name: str
    run: Callable[[], object]
    spikes: Callable[[], np.ndarray]  # (n, 2) rows of (gid, t [ms]) sorted by (t, gid), after run()
    tolerance: float  # [ms] against the default engine
    times: list[float] = field(default_factory=list)  # [s] one per repeat

    @property
    def best(self) -> float:
        return min(self.times)


def cablesim_contestant(name: str, cells: int, tstop: float, engine: str, threads: Optional[int]) -> Contestant:
    network = ring(cells)

    def run() -> object:
        return network.model.run(tstop, dt=DT, v_init=V_INIT, celsius=CELSIUS, engine=engine, threads=threads)

    tolerance = 0.0 if engine == "default" else ENGINE_TOLERANCE
    return Contestant(name, run, network.spike_array, tolerance)


def neuron_contestant(h: Any, cells: int, tstop: float) -> Contestant:
    built = neuron_ring(h, cells, tstop)

    def spikes() -> np.ndarray:
        rows = [(gid, float(t)) for gid, times in enumerate(built.spikes()) for t in times]
        return np.array(sorted(rows, key=lambda r: (r[1], r[0])), dtype=float).reshape(-1, 2)

    return Contestant("NEURON", built.run, spikes, NEURON_TOLERANCE)


def compare(got: np.ndarray, reference: np.ndarray, tolerance: float) -> tuple[bool, str]:
    """Whether `got` has the reference's spikes, and a few words on how close."""
    if got.shape != reference.shape or not np.array_equal(got[:, 0], reference[:, 0]):
        return False, f"NO: {len(got)} spikes vs the default engine's {len(reference)} (or other cells)"
    difference = float(np.max(np.abs(got[:, 1] - reference[:, 1]))) if len(got) else 0.0
    ok = difference <= tolerance
    return ok, f"{'yes' if ok else 'NO'}: {len(got)} spikes, max diff {difference:.1g} ms (tolerance {tolerance:g})"


def environment(neuron_version: Optional[str]) -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "cablesim": cablesim.__version__,
        "build_info": cablesim.build_info(),
        "neuron": neuron_version,
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time cablesim's default and coreneuron engines (1 and 2 threads) and NEURON on the ring "
        "network; exit 1 if their spikes disagree.",
    )
    parser.add_argument("--cells", type=int, default=100, help="cells in the ring (100; at least 100 for the record)")
    parser.add_argument("--tstop", type=float, default=100.0, metavar="MS", help="simulated time [ms] (100)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per contestant, best kept (5)")
    parser.add_argument("--no-neuron", action="store_true", help="leave NEURON out even if it is installed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every time and the agreement as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.cells < 2:
        parser.error(f"--cells must be >= 2 (a ring), got {args.cells}")
    if not args.tstop > 0:
        parser.error(f"--tstop must be > 0 ms, got {args.tstop:g}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    info = cablesim.build_info()
    if "coreneuron" not in info["engines"]:
        log.error(
            "this build of cablesim has no coreneuron engine: install it with "
            "-Ccmake.define.CABLESIM_CORENEURON=ON to run this benchmark"
        )
        return 2
    loaded = None if args.no_neuron else load_neuron()
    h, neuron_version = loaded if loaded else (None, None)
    if h is None and not args.no_neuron:
        log.warning("NEURON not found: timing cablesim alone (`pip install neuron==9.0.2` to compare)")
    log.info(
        "cablesim %s (%s) vs NEURON %s: ring of %d cells, %g ms",
        cablesim.__version__,
        info,
        neuron_version,
        args.cells,
        args.tstop,
    )

    contestants = [
        cablesim_contestant("default", args.cells, args.tstop, "default", None),
        cablesim_contestant("coreneuron x1", args.cells, args.tstop, "coreneuron", 1),
        cablesim_contestant("coreneuron x2", args.cells, args.tstop, "coreneuron", 2),
    ]
    if h is not None:
        contestants.append(neuron_contestant(h, args.cells, args.tstop))
    for repeat in range(args.repeat):
        shift = repeat % len(contestants)  # rotate who goes first
        for contestant in contestants[shift:] + contestants[:shift]:
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            contestant.run()
            contestant.times.append(time.perf_counter() - started)
            gc.enable()
        log.info("repeat %d: %s", repeat + 1, ", ".join(f"{c.name} {c.times[-1]:.3f} s" for c in contestants))

    reference = contestants[0].spikes()
    neuron_best = contestants[-1].best if h is not None else None
    rows, failures, results = [], 0, []
    for c in contestants:
        ok, summary = compare(c.spikes(), reference, c.tolerance)
        failures += not ok
        ratio = c.best / neuron_best if neuron_best else None
        rows.append(f"{c.name:<15} {c.best:>8.4f} {ratio if ratio is not None else float('nan'):>7.2f}  {summary}")
        results.append(
            {
                "name": c.name,
                "times_s": c.times,
                "best_s": c.best,
                "ratio_to_neuron": ratio,
                "agrees": ok,
                "agreement": summary,
            }
        )
    rule = "-" * 100
    print(f"ring of {args.cells} cells, {args.tstop:g} ms; best of {args.repeat} (--repeat)")
    print(f"{'contestant':<15} {'best s':>8} {'ratio':>7}  agreement with the default engine")
    print(rule)
    print("\n".join(rows))
    print(rule)
    if neuron_best:
        two = next(c for c in contestants if c.name == "coreneuron x2").best / neuron_best
        print(
            f"ratio = time / NEURON's time. Goal: coreneuron x2 <= 0.5x NEURON: {two:.2f}x, "
            f"{'met' if two <= 0.5 else 'NOT met'}"
        )
    if args.json:
        payload = {
            "environment": environment(neuron_version),
            "settings": {
                "cells": args.cells,
                "tstop_ms": args.tstop,
                "dt_ms": DT,
                "celsius": CELSIUS,
                "v_init_mV": V_INIT,
                "repeat": args.repeat,
            },
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log.info("wrote %s", args.json)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
