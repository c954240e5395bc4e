"""Synapses and spike events: NetStim timing, NetCon delays and weights, a ring of ball-and-stick cells."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import build_ball_and_stick

import cablesim


@pytest.mark.parametrize(
    "start,number,interval,expected",
    [
        (9, 3, 7, [9, 16, 23]),
        (9, 2.5, 7, [9, 16, 23]),  # NEURON fires while the count is below number
        (5, 1, 10, [5]),
        (0, 2, 4, [0, 4]),
        (-1, 5, 1, []),  # a negative start disables the NetStim, as in NEURON
        (1, 0, 1, []),
    ],
)
def test_netstim_event_times(start, number, interval, expected):
    model = cablesim.Model()
    model.Section("soma")
    stim = model.NetStim(start=start, number=number, interval=interval)
    netcon = model.NetCon(stim, None)
    model.run(30)
    np.testing.assert_allclose(netcon.spike_times, expected, atol=1e-12)


def first_response_time(delay: float) -> float:
    model = cablesim.Model()
    soma, dend = build_ball_and_stick(model, "cell")
    synapse = model.ExpSyn(dend(0.5), tau=2, e=0)
    stim = model.NetStim(start=2, number=1)
    model.NetCon(stim, synapse, delay=delay, weight=0.01)
    v = model.record(dend(0.5))
    run = model.run(15)
    # Without input the cell sits near rest; the synapse shows as a jump in dv/dt.
    dv = np.abs(np.diff(v.values, 2))
    return float(run.t[int(np.argmax(dv > 1e-3)) + 1])


def test_netcon_delay_shifts_the_synaptic_response():
    early, late = first_response_time(1.0), first_response_time(3.5)
    assert early == pytest.approx(3.0, abs=0.05)
    assert late - early == pytest.approx(2.5, abs=1e-9)


def test_synapse_at_rest_reversal_does_nothing_and_weight_scales_the_response():
    def peak(weight: float, reversal: float) -> float:
        model = cablesim.Model()
        soma = model.Section("soma", L=20, diam=20).insert("pas", g=1e-4, e=-65)
        synapse = model.ExpSyn(soma(0.5), tau=2, e=reversal)
        model.NetCon(model.NetStim(start=1, number=1), synapse, delay=0, weight=weight)
        v = model.record(soma(0.5))
        model.run(20)
        return float(np.max(v.values) + 65)

    assert peak(0.001, -65) == pytest.approx(0.0, abs=1e-12)
    small, large = peak(1e-5, 0), peak(2e-5, 0)
    assert small > 0.05
    assert large / small == pytest.approx(2.0, rel=0.05)  # nearly linear for small conductances


def build_ring(cells: int) -> tuple[cablesim.Model, list[cablesim.NetCon]]:
    model = cablesim.Model()
    somas, synapses = [], []
    for i in range(cells):
        soma, dend = build_ball_and_stick(model, f"cell{i}")
        somas.append(soma)
        synapses.append(model.ExpSyn(dend(0.5), tau=2, e=0))
    detectors = []
    for i in range(cells):
        detectors.append(model.NetCon(somas[i](0.5), synapses[(i + 1) % cells], threshold=10, delay=5, weight=0.01))
    model.NetCon(model.NetStim(start=9, number=1), synapses[0], delay=1, weight=0.04)
    return model, detectors


def test_ring_passes_a_spike_around():
    model, detectors = build_ring(5)
    model.run(100)
    firsts = [nc.spike_times[0] for nc in detectors]
    assert all(len(nc.spike_times) >= 1 for nc in detectors)
    gaps = np.diff(firsts)
    assert np.all(gaps > 5)  # each hop takes the NetCon delay plus the synaptic latency
    np.testing.assert_allclose(gaps, gaps[0], atol=1e-9)  # identical cells: identical hops
    # After the last cell the spike comes back to cell 0 one hop later.
    assert detectors[0].spike_times[1] - firsts[-1] == pytest.approx(gaps[0], abs=1e-9)


def test_separate_cells_do_not_touch():
    model = cablesim.Model()
    soma_a, _ = build_ball_and_stick(model, "a")
    soma_b, _ = build_ball_and_stick(model, "b")
    model.IClamp(soma_a(0.5), delay=1, dur=1, amp=1)
    va, vb = model.record(soma_a(0.5)), model.record(soma_b(0.5))
    model.run(10)
    assert np.max(va.values) > 0
    assert np.ptp(vb.values) < 1.0  # b only relaxes towards its own rest
