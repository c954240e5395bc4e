"""The hh mechanism against NEURON 9.0.2's numbers for the single-compartment soma."""

from __future__ import annotations

import numpy as np
import pytest

import cablesim


def run_soma(hh_soma, **options):
    model, soma = hh_soma
    v = model.record(soma(0.5))
    detector = model.NetCon(soma(0.5), None, threshold=0)
    run = model.run(40, **options)
    return run, v.values, detector.spike_times


def test_single_spike_matches_neuron(hh_soma):
    run, v, spikes = run_soma(hh_soma, dt=0.025, v_init=-65, celsius=6.3)
    assert len(run.t) == 1601
    assert spikes.tolist() == pytest.approx([7.625], abs=1e-9)  # first step at or above 0 mV
    assert v.max() == pytest.approx(38.10, abs=1e-3)
    assert v[200] == pytest.approx(-64.949, abs=1e-3)  # v(5 ms), just before the stimulus
    assert run.t[200] == pytest.approx(5.0, abs=1e-12)


def test_interpolated_zero_crossing_matches_neuron(hh_soma):
    run, v, _ = run_soma(hh_soma)
    k = int(np.argmax(v >= 0))  # first sample at or above 0 mV
    assert run.t[k] == pytest.approx(7.625, abs=1e-9)
    crossing = run.t[k - 1] + (0 - v[k - 1]) * (run.t[k] - run.t[k - 1]) / (v[k] - v[k - 1])
    assert crossing == pytest.approx(7.612, abs=1e-3)


def test_rate_table_changes_the_result_by_microvolts(hh_soma):
    _, with_table, _ = run_soma(hh_soma)
    model, soma = hh_soma
    exact = model.record(soma(0.5))
    model.run(40, use_rate_table=False)
    # The two schemes differ by ~2 uV at 5 ms: the table is needed to match NEURON within 1e-3 mV.
    difference = np.max(np.abs(with_table[:200] - exact.values[:200]))
    assert 1e-4 < difference < 1e-2


def test_below_threshold_stimulus_gives_no_spike():
    model = cablesim.Model()
    soma = model.Section("soma", L=18.8, diam=18.8, Ra=123).insert("hh")
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.01)
    detector = model.NetCon(soma(0.5), None, threshold=0)
    model.run(40)
    assert detector.spike_times.size == 0


def test_higher_temperature_speeds_up_the_spike(hh_soma):
    _, _, cold = run_soma(hh_soma, celsius=6.3)
    model, soma = hh_soma
    detector = model.NetCon(soma(0.5), None, threshold=0)
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.3)  # the faster gates need more current
    model.run(40, celsius=16.3)
    assert detector.spike_times.size >= 1
    assert detector.spike_times[0] < cold[0]


def test_hh_parameters_change_the_resting_potential():
    def rest(el: float) -> float:
        model = cablesim.Model()
        soma = model.Section("soma", L=18.8, diam=18.8).insert("hh")
        soma.hh.el = el
        v = model.record(soma(0.5))
        model.run(100)
        return float(v.values[-1])

    assert rest(-54.3) == pytest.approx(-65.0, abs=0.1)  # hh's rest is close to -65 mV by design
    assert rest(-40.0) > rest(-54.3)


def test_mechanism_parameters_read_back():
    model = cablesim.Model()
    soma = model.Section("soma").insert("hh", gnabar=0.2)
    assert soma.hh.gnabar == 0.2
    assert soma.hh.gkbar == 0.036
    assert soma.hh.ena == 50.0
    assert soma.mechanisms == ["hh"]
