"""``cablesim.test()``: real simulations checked against values measured with NEURON 9.0.2.

Runs in about a second, so that an installed wheel can prove its compiled core works.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .model import Model

__all__ = ["SelfTestError", "test"]

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


def test(verbose: bool = False) -> bool:
    """Run the self-test simulations; raise SelfTestError on a wrong result, return True otherwise."""
    for check in (_hh_soma, _passive_cable):
        started = time.perf_counter()
        check()
        message = "cablesim self-test %s passed in %.3f s"
        log.info(message, check.__name__.lstrip("_"), time.perf_counter() - started)
        if verbose:
            print(message % (check.__name__.lstrip("_"), time.perf_counter() - started))  # noqa: T201 - asked for
    return True
