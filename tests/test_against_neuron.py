"""cablesim against NEURON itself, when the `neuron` package is installed (pip install neuron==9.0.2).

The same models in both simulators, trace by trace: cablesim reproduces NEURON's fixed-step scheme, so the
traces agree to rounding error, not just to a tolerance of the method."""

from __future__ import annotations

import numpy as np
import pytest

import cablesim

neuron = pytest.importorskip("neuron", reason="NEURON not installed: pip install neuron==9.0.2 to compare")
pytestmark = pytest.mark.neuron
h = neuron.h
h.load_file("stdrun.hoc")

TOLERANCE = 1e-8  # [mV]


def neuron_pair(method: int, number: float, v_init: float, nseg: int, probes: tuple[float, ...]):
    h.secondorder = method
    try:
        soma = h.Section(name="soma")
        soma.L = soma.diam = 12.6157
        soma.insert("hh")
        dend = h.Section(name="dend")
        dend.L, dend.diam, dend.nseg = 200, 1, nseg
        dend.insert("pas")
        for seg in dend:
            seg.pas.g, seg.pas.e = 0.001, -65
        for sec in (soma, dend):
            sec.Ra, sec.cm = 100, 1
        dend.connect(soma(1))
        synapse = h.ExpSyn(dend(0.5))
        synapse.tau = 2
        stim = h.NetStim()
        stim.start, stim.number, stim.interval = 9, number, 7
        drive = h.NetCon(stim, synapse)
        drive.delay, drive.weight[0] = 1, 0.04
        detector = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
        detector.threshold = 10
        spikes = h.Vector()
        detector.record(spikes)
        traces = [h.Vector().record(dend(x)._ref_v) for x in probes]
        h.dt, h.celsius = 0.025, 6.3
        h.finitialize(v_init)
        h.continuerun(60)
        return np.array(spikes), [np.array(t) for t in traces]
    finally:
        h.secondorder = 0


def cablesim_pair(method: int, number: float, v_init: float, nseg: int, probes: tuple[float, ...]):
    model = cablesim.Model()
    soma = model.Section("soma", L=12.6157, diam=12.6157, Ra=100).insert("hh")
    dend = model.Section("dend", L=200, diam=1, nseg=nseg, Ra=100).insert("pas", g=0.001, e=-65)
    dend.connect(soma(1))
    synapse = model.ExpSyn(dend(0.5), tau=2)
    stim = model.NetStim(start=9, number=number, interval=7)
    model.NetCon(stim, synapse, delay=1, weight=0.04)
    detector = model.NetCon(soma(0.5), None, threshold=10)
    traces = [model.record(dend(x)) for x in probes]
    model.run(60, method="crank-nicolson" if method == 2 else "backward-euler", v_init=v_init)
    return detector.spike_times, [t.values for t in traces]


@pytest.mark.parametrize(
    "method,number,v_init,nseg",
    [
        (0, 3, -65, 4),  # x = 0.25 and 0.5 fall on segment boundaries with nseg 4
        (2, 3, -65, 4),  # Crank-Nicolson
        (0, 1, -65, 5),
        (0, 2.5, -65, 7),  # a fractional NetStim number
        (0, 3, 20, 4),  # v_init above threshold: a spike at t = 0
    ],
)
def test_ball_and_stick_with_synapse_matches_neuron(method, number, v_init, nseg):
    probes = (0, 0.25, 0.5, 1)
    ours = cablesim_pair(method, number, v_init, nseg, probes)
    theirs = neuron_pair(method, number, v_init, nseg, probes)
    np.testing.assert_allclose(ours[0], theirs[0], atol=1e-9)
    for x, a, b in zip(probes, ours[1], theirs[1]):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) < TOLERANCE, f"dend({x})"


def test_reference_values_in_the_issue_are_neurons():
    soma = h.Section(name="soma")
    soma.L = soma.diam = 18.8
    soma.Ra = 123
    soma.insert("hh")
    clamp = h.IClamp(soma(0.5))
    clamp.delay, clamp.dur, clamp.amp = 5, 1, 0.1
    v = h.Vector().record(soma(0.5)._ref_v)
    h.dt, h.celsius = 0.025, 6.3
    h.finitialize(-65)
    h.continuerun(40)
    v = np.array(v)
    assert v.max() == pytest.approx(38.10, abs=1e-3)
    assert v[200] == pytest.approx(-64.949, abs=1e-3)
