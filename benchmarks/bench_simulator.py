#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = ["cablesim", "numpy>=1.21"]
# ///
"""Time cablesim, and NEURON when it is importable, on the same two models, and check that they agree.

Models (fixed step dt = 0.025 ms, celsius 6.3 degC, v_init -65 mV, hh rates from its table in both):

  axon  one section L = 10000 um (1 cm), diam 10 um, nseg 501, Ra 100 ohm cm, cm 1 uF/cm2, hh; an IClamp at
        x = 0 (delay 1 ms, dur 1 ms, 5 nA; 2 nA is enough); spike detectors (0 mV) at x = 0 and x = 1.
  ring  N ball-and-stick cells as in NEURON's ring tutorial: soma L = diam = 12.6157 um with hh; dend L 200 um,
        diam 1 um, nseg 101 with pas (g 0.001 S/cm2, e -65 mV); Ra 100 ohm cm, cm 1 uF/cm2; an ExpSyn (tau 2 ms,
        e 0 mV) at dend(0.5); NetCon soma(0.5) -> next cell's ExpSyn (threshold 10 mV, delay 5 ms, weight
        0.01 uS); a NetStim (start 9 ms, number 1) -> cell 0's ExpSyn (delay 1 ms, weight 0.04 uS).

Only the run is timed: NEURON's h.finitialize(-65) + h.continuerun(tstop) (one thread), and cablesim's
Model.run(tstop), which also discretises the model (under 0.2 % of the run). Construction is timed once and
reported apart. The two simulators' repeats are interleaved, alternating which goes first, and the best of
--repeat is kept. Agreement: the same number of spikes at every detector, every spike time within 1e-6 ms.

Exit status 0 when the simulators agree (or NEURON is absent and cablesim's models fire), 1 when they disagree
or a model does not fire, 2 on bad arguments. NEURON is optional: `pip install neuron==9.0.2` to compare.

    python benchmarks/bench_simulator.py --repeat 5 --cells 100 --json bench.json
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

import cablesim

log = logging.getLogger("bench_simulator")

DT = 0.025  # [ms]
CELSIUS = 6.3  # [degC]
V_INIT = -65.0  # [mV]
TOLERANCE = 1e-6  # [ms] on spike times

# The axon.
AXON_L, AXON_DIAM, AXON_NSEG = 10000.0, 10.0, 501  # [um], [um]
AXON_RA, AXON_CM = 100.0, 1.0  # [ohm cm], [uF/cm2]
AXON_STIM_DELAY, AXON_STIM_DUR, AXON_STIM_AMP = 1.0, 1.0, 5.0  # [ms], [ms], [nA]
AXON_THRESHOLD = 0.0  # [mV]: the spike "reaches" a location when v there rises through this
AXON_DETECTORS = (0.0, 1.0)  # x of the spike detectors

# The ring of ball-and-stick cells (NEURON's ring tutorial).
SOMA_L = SOMA_DIAM = 12.6157  # [um]
DEND_L, DEND_DIAM, DEND_NSEG = 200.0, 1.0, 101  # [um], [um]
RING_RA, RING_CM = 100.0, 1.0  # [ohm cm], [uF/cm2]
PAS_G, PAS_E = 0.001, -65.0  # [S/cm2], [mV]
SYN_TAU, SYN_E = 2.0, 0.0  # [ms], [mV]
RING_THRESHOLD, RING_DELAY, RING_WEIGHT = 10.0, 5.0, 0.01  # [mV], [ms], [uS]
STIM_START, STIM_DELAY, STIM_WEIGHT = 9.0, 1.0, 0.04  # [ms], [ms], [uS]

Spikes = list[np.ndarray]  # spike times [ms], one array per detector


@dataclass
class Built:
    """A model built in one simulator. ``run`` is what is timed; ``spikes`` reads the detectors after it."""

    run: Callable[[], object]
    spikes: Callable[[], Spikes]
    teardown: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Case:
    """One benchmark model: how to build it in each simulator and what its spikes must show."""

    name: str
    tstop: float  # [ms]
    cablesim: Callable[[], Built]
    neuron: Optional[Callable[[], Built]]  # None: NEURON is not available
    detectors: Sequence[str]  # a label per detector, in the order of Built.spikes()
    check: Callable[[Spikes], Optional[str]]  # cablesim's spikes -> why the model is broken, or None
    describe: Callable[[Spikes], str]  # cablesim's spikes -> a few words for the table


@dataclass(frozen=True)
class Agreement:
    ok: bool
    summary: str
    spike_counts: tuple[int, Optional[int]]  # cablesim, NEURON (None if not run): totals over all detectors
    max_difference_ms: Optional[float]  # None when nothing to compare


@dataclass
class Result:
    model: str
    tstop: float  # [ms]
    cablesim_s: list[float]  # run time of every repeat [s]
    neuron_s: Optional[list[float]]
    cablesim_build_s: float
    neuron_build_s: Optional[float]
    agreement: Agreement

    @property
    def ratio(self) -> Optional[float]:
        """Best cablesim time over best NEURON time: < 1 means cablesim is faster."""
        return min(self.cablesim_s) / min(self.neuron_s) if self.neuron_s else None


# --- cablesim ---------------------------------------------------------------------------------------------------


def cablesim_axon(tstop: float) -> Built:
    model = cablesim.Model()
    axon = model.Section("axon", L=AXON_L, diam=AXON_DIAM, nseg=AXON_NSEG, Ra=AXON_RA, cm=AXON_CM).insert("hh")
    model.IClamp(axon(0), delay=AXON_STIM_DELAY, dur=AXON_STIM_DUR, amp=AXON_STIM_AMP)
    detectors = [model.NetCon(axon(x), None, threshold=AXON_THRESHOLD) for x in AXON_DETECTORS]
    return Built(
        run=lambda: model.run(tstop, dt=DT, v_init=V_INIT, celsius=CELSIUS),
        spikes=lambda: [d.spike_times for d in detectors],
    )


def cablesim_ring(cells: int, tstop: float) -> Built:
    model = cablesim.Model()
    somas, synapses = [], []
    for i in range(cells):
        soma = model.Section(f"cell{i}.soma", L=SOMA_L, diam=SOMA_DIAM, Ra=RING_RA, cm=RING_CM).insert("hh")
        dend = model.Section(f"cell{i}.dend", L=DEND_L, diam=DEND_DIAM, nseg=DEND_NSEG, Ra=RING_RA, cm=RING_CM)
        dend.insert("pas", g=PAS_G, e=PAS_E).connect(soma(1))
        somas.append(soma)
        synapses.append(model.ExpSyn(dend(0.5), tau=SYN_TAU, e=SYN_E))
    netcons = [
        model.NetCon(
            soma(0.5), synapses[(i + 1) % cells], threshold=RING_THRESHOLD, delay=RING_DELAY, weight=RING_WEIGHT
        )
        for i, soma in enumerate(somas)
    ]
    stim = model.NetStim(start=STIM_START, number=1, interval=10)
    model.NetCon(stim, synapses[0], delay=STIM_DELAY, weight=STIM_WEIGHT)
    return Built(
        run=lambda: model.run(tstop, dt=DT, v_init=V_INIT, celsius=CELSIUS),
        spikes=lambda: [nc.spike_times for nc in netcons],
    )


# --- NEURON -----------------------------------------------------------------------------------------------------


def load_neuron() -> Optional[tuple[Any, str]]:
    """NEURON's ``h`` (stdrun loaded, fixed step, one thread) and its version, or None if it is not importable."""
    try:
        import neuron
        from neuron import h
    except ImportError:
        return None
    h.load_file("stdrun.hoc")
    h.ParallelContext().nthread(1)
    h.CVode().active(0)
    h.steps_per_ms = 1.0 / DT  # stdrun's step() would otherwise round dt to its own 40 steps/ms
    h.dt = DT
    h.celsius = CELSIUS
    return h, str(neuron.__version__)


def _neuron_built(h: Any, tstop: float, objects: list[Any], vectors: list[Any]) -> Built:
    """Run and read a NEURON model; teardown drops every reference so that its sections are deleted."""

    def run() -> None:
        h.dt = DT
        h.finitialize(V_INIT)
        h.continuerun(tstop)

    def teardown() -> None:
        vectors.clear()
        objects.clear()
        if left := sum(1 for _ in h.allsec()):
            raise RuntimeError(f"NEURON still holds {left} sections after teardown; the next model would run with them")

    return Built(run=run, spikes=lambda: [np.array(v.as_numpy()) for v in vectors], teardown=teardown)


def neuron_axon(h: Any, tstop: float) -> Built:
    axon = h.Section(name="axon")
    axon.L, axon.diam, axon.nseg, axon.Ra, axon.cm = AXON_L, AXON_DIAM, AXON_NSEG, AXON_RA, AXON_CM
    axon.insert("hh")
    stim = h.IClamp(axon(0))
    stim.delay, stim.dur, stim.amp = AXON_STIM_DELAY, AXON_STIM_DUR, AXON_STIM_AMP
    objects: list[Any] = [axon, stim]
    vectors: list[Any] = []
    for x in AXON_DETECTORS:
        detector = h.NetCon(axon(x)._ref_v, None, sec=axon)
        detector.threshold = AXON_THRESHOLD
        vectors.append(h.Vector())
        detector.record(vectors[-1])
        objects.append(detector)
    return _neuron_built(h, tstop, objects, vectors)


def neuron_ring(h: Any, cells: int, tstop: float) -> Built:
    objects: list[Any] = []
    somas, synapses = [], []
    for i in range(cells):
        soma, dend = h.Section(name=f"cell{i}.soma"), h.Section(name=f"cell{i}.dend")
        soma.L = soma.diam = SOMA_L
        dend.L, dend.diam, dend.nseg = DEND_L, DEND_DIAM, DEND_NSEG
        for sec in (soma, dend):
            sec.Ra, sec.cm = RING_RA, RING_CM
        soma.insert("hh")
        dend.insert("pas")
        for seg in dend:
            seg.pas.g, seg.pas.e = PAS_G, PAS_E
        dend.connect(soma(1))
        syn = h.ExpSyn(dend(0.5))
        syn.tau, syn.e = SYN_TAU, SYN_E
        somas.append(soma)
        synapses.append(syn)
        objects += [soma, dend, syn]
    vectors: list[Any] = []
    for i, soma in enumerate(somas):
        nc = h.NetCon(soma(0.5)._ref_v, synapses[(i + 1) % cells], sec=soma)
        nc.threshold, nc.delay, nc.weight[0] = RING_THRESHOLD, RING_DELAY, RING_WEIGHT
        vectors.append(h.Vector())
        nc.record(vectors[-1])
        objects.append(nc)
    stim = h.NetStim()
    stim.start, stim.number, stim.interval = STIM_START, 1, 10
    nc = h.NetCon(stim, synapses[0])
    nc.delay, nc.weight[0] = STIM_DELAY, STIM_WEIGHT
    objects += [stim, nc]
    return _neuron_built(h, tstop, objects, vectors)


# --- the two cases ----------------------------------------------------------------------------------------------


def axon_case(tstop: float, h: Any) -> Case:
    def check(spikes: Spikes) -> Optional[str]:
        start, end = spikes
        if len(start) != 1 or len(end) != 1:
            return (
                f"expected one spike at x=0 and one at x=1 by {tstop:g} ms, got {len(start)} and {len(end)}; "
                "the spike must cross the whole axon (raise --axon-tstop?)"
            )
        return None

    def describe(spikes: Spikes) -> str:
        start, end = float(spikes[0][0]), float(spikes[1][0])
        return f"at x=1 at {end:.3f} ms ({1e-2 / (end - start) * 1e3:.2f} m/s)"

    return Case(
        name=f"axon 1 cm, nseg {AXON_NSEG}",
        tstop=tstop,
        cablesim=lambda: cablesim_axon(tstop),
        neuron=None if h is None else (lambda: neuron_axon(h, tstop)),
        detectors=[f"axon({x:g})" for x in AXON_DETECTORS],
        check=check,
        describe=describe,
    )


def ring_case(cells: int, tstop: float, h: Any) -> Case:
    def check(spikes: Spikes) -> Optional[str]:
        must_fire = min(cells, 2)  # cell 0 from the NetStim, and cell 1 from cell 0 if there is one
        if silent := [i for i in range(must_fire) if len(spikes[i]) == 0]:
            return (
                f"cell {silent[0]} never fired by {tstop:g} ms: the ring does not carry its spike (raise --ring-tstop?)"
            )
        return None

    return Case(
        name=f"ring {cells} cells",
        tstop=tstop,
        cablesim=lambda: cablesim_ring(cells, tstop),
        neuron=None if h is None else (lambda: neuron_ring(h, cells, tstop)),
        detectors=[f"cell{i}.soma(0.5)" for i in range(cells)],
        check=check,
        describe=lambda spikes: f"{sum(len(s) for s in spikes)} spikes",
    )


# --- timing and checking ----------------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> tuple[Any, float]:
    """The result of one call and its wall-clock time [s], with the garbage collector kept out of it."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        value = action()
        return value, time.perf_counter() - started
    finally:
        gc.enable()


def compare(case: Case, ours: Spikes, theirs: Optional[Spikes]) -> Agreement:
    """Same spike count at every detector and every spike time within TOLERANCE, else ok=False with the reason."""
    total = sum(len(s) for s in ours)
    if problem := case.check(ours):
        return Agreement(False, f"BROKEN: {problem}", (total, None), None)
    if theirs is None:
        return Agreement(True, f"{case.describe(ours)} (NEURON not run)", (total, None), None)
    counts = (total, sum(len(s) for s in theirs))
    for label, a, b in zip(case.detectors, ours, theirs):
        if len(a) != len(b):
            return Agreement(False, f"NO: {label}: cablesim {len(a)} spikes, NEURON {len(b)}", counts, None)
    worst = max((float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs) if len(a)), default=0.0)
    verdict = "yes" if worst <= TOLERANCE else f"NO (> {TOLERANCE:g} ms)"
    return Agreement(worst <= TOLERANCE, f"{verdict}: {case.describe(ours)}, max diff {worst:.1g} ms", counts, worst)


def bench(case: Case, repeat: int) -> Result:
    log.info("%s: building (tstop %g ms)", case.name, case.tstop)
    ours, ours_build = timed(case.cablesim)
    theirs, theirs_build = timed(case.neuron) if case.neuron else (None, None)
    times: dict[str, list[float]] = {"cablesim": [], "NEURON": []}
    try:
        for r in range(repeat):
            # Alternate who goes first, so that neither always gets the warmer (or the busier) machine.
            order = [("cablesim", ours), ("NEURON", theirs)]
            for name, built in order if r % 2 == 0 else order[::-1]:
                if built is not None:
                    times[name].append(timed(built.run)[1])
                    log.info("%s: repeat %d/%d %-8s %.4f s", case.name, r + 1, repeat, name, times[name][-1])
        agreement = compare(case, ours.spikes(), None if theirs is None else theirs.spikes())
    finally:
        if theirs is not None:
            theirs.teardown()
    return Result(
        case.name, case.tstop, times["cablesim"], times["NEURON"] or None, ours_build, theirs_build, agreement
    )


# --- report -----------------------------------------------------------------------------------------------------


def _best(values: Optional[Sequence[float]]) -> str:
    return "-" if not values else f"{min(values):.4f}"


def table(results: Sequence[Result]) -> str:
    """A plain-text table: run times (best of the repeats), the ratio and the agreement, then construction times."""
    rows = [("model", "cablesim s", "NEURON s", "ratio", "agreement")]
    for r in results:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        rows.append((r.model, _best(r.cablesim_s), _best(r.neuron_s), ratio, r.agreement.summary))
    rows.append(("construction, once:", "", "", "", ""))
    for r in results:
        theirs = None if r.neuron_build_s is None else [r.neuron_build_s]
        rows.append((f"  {r.model}", _best([r.cablesim_build_s]), _best(theirs), "", ""))
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    lines = [
        "  ".join([row[0].ljust(widths[0]), *(row[c].rjust(widths[c]) for c in (1, 2, 3)), row[4]]).rstrip()
        for row in rows
    ]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([lines[0], rule, *lines[1 : 1 + len(results)], rule, *lines[1 + len(results) :]])


def environment(neuron_version: Optional[str]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cablesim": cablesim.__version__,
        "neuron": neuron_version,
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time cablesim, and NEURON when it is importable, on a 1 cm HH axon and a ring of "
        "ball-and-stick cells; exit 1 if the two simulators disagree.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per simulator and model, best kept (3)")
    parser.add_argument("--tstop", type=float, metavar="MS", help="simulated time for both models [ms]")
    parser.add_argument("--axon-tstop", type=float, default=50.0, metavar="MS", help="axon's simulated time (50)")
    parser.add_argument("--ring-tstop", type=float, default=100.0, metavar="MS", help="ring's simulated time (100)")
    parser.add_argument("--cells", type=int, default=100, help="cells in the ring (100)")
    parser.add_argument("--models", nargs="+", choices=("axon", "ring"), default=["axon", "ring"])
    parser.add_argument("--no-neuron", action="store_true", help="time cablesim alone even if NEURON is installed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.cells < 1:
        parser.error(f"--cells must be >= 1, got {args.cells}")
    if args.tstop is not None:
        args.axon_tstop = args.ring_tstop = args.tstop
    for option, value in (("--axon-tstop", args.axon_tstop), ("--ring-tstop", args.ring_tstop)):
        if not value > 0:
            parser.error(f"{option} (or --tstop) must be > 0 ms, got {value:g}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)

    loaded = None if args.no_neuron else load_neuron()
    h, neuron_version = loaded if loaded else (None, None)
    if h is not None:
        log.info("cablesim %s vs NEURON %s (fixed step, one thread)", cablesim.__version__, neuron_version)
    elif args.no_neuron:
        log.info("cablesim %s alone (--no-neuron)", cablesim.__version__)
    else:
        log.warning("NEURON not found: timing cablesim alone (`pip install neuron==9.0.2` to compare)")

    cases = {"axon": lambda: axon_case(args.axon_tstop, h), "ring": lambda: ring_case(args.cells, args.ring_tstop, h)}
    results = [bench(cases[name](), args.repeat) for name in ("axon", "ring") if name in args.models]

    print(table(results))
    if h is not None:
        print(f"times: best of {args.repeat} (--repeat); ratio = cablesim / NEURON, < 1 means cablesim is faster")
    elif not args.no_neuron:
        print("NEURON was not found: `pip install neuron==9.0.2` into this interpreter to compare")

    if args.json:
        payload = {
            "environment": environment(neuron_version),
            "settings": {
                "dt_ms": DT,
                "celsius": CELSIUS,
                "v_init_mV": V_INIT,
                "repeat": args.repeat,
                "tolerance_ms": TOLERANCE,
                "cells": args.cells,
            },
            "results": [{**asdict(r), "ratio": r.ratio} for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log.info("wrote %s", args.json)
    failures = [r for r in results if not r.agreement.ok]
    for r in failures:
        log.error("%s: %s", r.model, r.agreement.summary)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
