"""cablesim against NEURON itself, when the `neuron` package is installed (pip install neuron==9.0.2).

The same models in both simulators, trace by trace: cablesim reproduces NEURON's fixed-step scheme, so the
traces agree to rounding error, not just to a tolerance of the method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cablesim
from cablesim.model_io import load_model_file

neuron = pytest.importorskip("neuron", reason="NEURON not installed: pip install neuron==9.0.2 to compare")
pytestmark = pytest.mark.neuron
h = neuron.h
h.load_file("stdrun.hoc")

TOLERANCE = 1e-8  # [mV]


def neuron_ball_and_stick(nseg: int, number: float) -> tuple[Any, ...]:
    """NEURON's ball and stick: an hh soma, a passive dend of nseg segments, an ExpSyn at dend(0.5) driven by a NetStim
    (start 9 ms, interval 7 ms, `number` events). Returns (soma, dend, synapse, stim, drive), to keep them alive."""
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
    return soma, dend, synapse, stim, drive


def neuron_pair(method: int, number: float, v_init: float, nseg: int, probes: tuple[float, ...]):
    h.secondorder = method
    try:
        soma, dend, *driven = neuron_ball_and_stick(nseg, number)
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


# --- issue 18: every recordable, at every step or every Dt; per-segment parameters; continued runs ---------------

# What each recordable is compared to NEURON within, in its own unit: v as the traces above; the rest is round-off
# of the same formulas (measured: gates 4e-13, currents 3e-13 mA/cm2, ExpSyn i 3e-12 nA, g and IClamp i exact).
RECORDABLE_TOLERANCE = {
    "v": TOLERANCE,  # [mV]
    "m_hh": 1e-10,  # [1]
    "h_hh": 1e-10,
    "n_hh": 1e-10,
    "gna_hh": 1e-12,  # [S/cm2]
    "gk_hh": 1e-12,
    "il_hh": 1e-10,  # [mA/cm2]
    "ina": 1e-10,  # [mA/cm2]
    "ik": 1e-10,
    "ena": 0.0,  # [mV]
    "ek": 0.0,
    "i_pas": 1e-10,  # [mA/cm2]
    "IClamp.i": 0.0,  # [nA]
    "ExpSyn.g": 1e-12,  # [uS]
    "ExpSyn.i": 1e-9,  # [nA]
}
SOMA_VARIABLES = ("v", "m_hh", "h_hh", "n_hh", "gna_hh", "gk_hh", "il_hh", "ina", "ik", "ena", "ek")


def neuron_recordables(method: int, dt_record: float | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ball and stick above with an IClamp at the soma; every recordable, by Vector.record(ref[, Dt])."""
    h.secondorder = method
    try:
        # Events at 10, 17, 24 ms: on the sampling grid of Dt 0.1.
        soma, dend, synapse, *driven = neuron_ball_and_stick(nseg=5, number=3)
        clamp = h.IClamp(soma(0.5))
        clamp.delay, clamp.dur, clamp.amp = 30, 1, 0.3
        refs = {name: getattr(soma(0.5), f"_ref_{name}") for name in SOMA_VARIABLES}
        refs.update({"i_pas": dend(0.5)._ref_i_pas, "IClamp.i": clamp._ref_i})
        refs.update({"ExpSyn.g": synapse._ref_g, "ExpSyn.i": synapse._ref_i})
        extra = () if dt_record is None else (dt_record,)
        vectors = {name: h.Vector().record(ref, *extra) for name, ref in refs.items()}
        t = h.Vector().record(h._ref_t, *extra)
        h.dt = 0.025
        h.finitialize(-65)
        h.continuerun(50)
        return np.array(t), {name: np.array(vector) for name, vector in vectors.items()}
    finally:
        h.secondorder = 0


def cablesim_recordables(
    method: int, dt_record: float | None, engine: str = "default"
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    model = cablesim.Model()
    soma = model.Section("soma", L=12.6157, diam=12.6157, Ra=100).insert("hh")
    dend = model.Section("dend", L=200, diam=1, nseg=5, Ra=100).insert("pas", g=0.001, e=-65)
    dend.connect(soma(1))
    synapse = model.ExpSyn(dend(0.5), 2)
    model.NetCon(model.NetStim(9, 3, 7), synapse, delay=1, weight=0.04)
    clamp = model.IClamp(soma(0.5), 30, 1, 0.3)
    refs = {name: getattr(soma(0.5), f"_ref_{name}") for name in SOMA_VARIABLES}
    refs.update({"i_pas": dend(0.5).pas._ref_i, "IClamp.i": clamp._ref_i})
    refs.update({"ExpSyn.g": synapse._ref_g, "ExpSyn.i": synapse._ref_i})
    traces = {name: model.record(ref, dt_record) for name, ref in refs.items()}
    model.run(50, method="crank-nicolson" if method == 2 else "backward-euler", engine=engine)
    return traces["v"].t, {name: trace.values for name, trace in traces.items()}


@pytest.mark.parametrize(
    "method,dt_record",
    [
        (0, None),  # every step (Vector.record(ref))
        (2, None),  # Crank-Nicolson: ina and ik moved to mid-step as NEURON's second_order_cur does
        (0, 0.1),  # every 4 steps; ExpSyn events fall exactly on sample times
        (2, 0.06),  # not a multiple of dt: each sample is the step end nearest its time
        (0, 0.0125),  # half a step: samples between steps, and none past the last step
    ],
)
def test_every_recordable_matches_neuron(method, dt_record):
    t_theirs, theirs = neuron_recordables(method, dt_record)
    t_ours, ours = cablesim_recordables(method, dt_record)
    np.testing.assert_array_equal(t_ours, t_theirs)  # the same sample times, to the bit
    for name, tolerance in RECORDABLE_TOLERANCE.items():
        assert ours[name].shape == theirs[name].shape, name
        assert np.max(np.abs(ours[name] - theirs[name])) <= tolerance, name
    assert np.ptp(theirs["ExpSyn.g"]) > 0.03 and np.ptp(theirs["IClamp.i"]) == 0.3  # both really moved


def neuron_gradient_and_continued_run():
    """An active dendrite with hh and pas parameters that change along it, a NetStim started by another's events,
    continued after parameter changes (NEURON: finitialize, continuerun, continuerun, fadvance)."""
    soma = h.Section(name="soma")
    soma.L = soma.diam = 12.6157
    soma.insert("hh")
    dend = h.Section(name="dend")
    dend.L, dend.diam, dend.nseg = 300, 1.5, 7
    dend.insert("hh")
    dend.insert("pas")
    for k, seg in enumerate(dend):
        seg.hh.gnabar, seg.hh.gkbar, seg.gl_hh = 0.12 * (1 - k / 7), 0.036 + 0.004 * k, 0.0003 + 1e-5 * k
        seg.ena, seg.ek = 50 + k, -77 - k
        seg.pas.g, seg.pas.e = 1e-4 * (k + 1), -65 - k
    for sec in (soma, dend):
        sec.Ra = 100
    dend.connect(soma(1))
    synapse = h.ExpSyn(dend(0.9))
    synapse.tau = 2
    generator = h.NetStim()
    generator.start, generator.number, generator.interval = 5, 2, 4
    kicked = h.NetStim()  # start < 0: only events start it
    kicked.start, kicked.number, kicked.interval = -1, 3, 3
    kick = h.NetCon(generator, kicked, 0, 1.5, 1)
    drive = h.NetCon(kicked, synapse)
    drive.delay, drive.weight[0] = 0.5, 0.05
    detector = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    detector.threshold = 0
    times, ids = h.Vector(), h.Vector()
    detector.record(times, ids, 7)
    clamp = h.IClamp(soma(0.5))
    clamp.delay, clamp.dur, clamp.amp = 30, 2, 0.2
    v = [h.Vector().record(dend(x)._ref_v) for x in (0.1, 0.5, 0.95)]
    m = h.Vector().record(dend(0.3)._ref_m_hh, 0.2)
    h.dt = 0.025
    h.finitialize(-65)
    h.continuerun(20)
    dend(0.5).hh.gnabar, clamp.amp, drive.weight[0], synapse.tau, dend.ena = 0.2, 0.5, 0.08, 3, 45
    h.continuerun(40.0125)  # half a step past the grid: NEURON's continuerun decides
    for _ in range(5):
        h.fadvance()
    assert kick.weight[0] == 1
    return [np.array(x) for x in v], np.array(m), np.array(times), np.array(ids), h.t


def cablesim_gradient_and_continued_run(engine: str = "default", threads: int | None = None):
    model = cablesim.Model()
    soma = model.Section("soma", L=12.6157, diam=12.6157, Ra=100).insert("hh")
    dend = model.Section("dend", L=300, diam=1.5, nseg=7, Ra=100).insert("hh").insert("pas")
    for k, seg in enumerate(dend):
        seg.hh.gnabar, seg.hh.gkbar, seg.gl_hh = 0.12 * (1 - k / 7), 0.036 + 0.004 * k, 0.0003 + 1e-5 * k
        seg.ena, seg.ek = 50 + k, -77 - k
        seg.pas.g, seg.pas.e = 1e-4 * (k + 1), -65 - k
    dend.connect(soma(1))
    synapse = model.ExpSyn(dend(0.9), tau=2)
    kicked = model.NetStim(-1, 3, 3)
    model.NetCon(model.NetStim(5, 2, 4), kicked, 0, 1.5, 1)
    drive = model.NetCon(kicked, synapse, delay=0.5, weight=0.05)
    detector = model.NetCon(soma(0.5), None, threshold=0)
    times: list[float] = []
    ids: list[float] = []
    detector.record(times, ids, 7)
    clamp = model.IClamp(soma(0.5), 30, 2, 0.2)
    v = [model.record(dend(x)) for x in (0.1, 0.5, 0.95)]
    m = model.record(dend(0.3)._ref_m_hh, 0.2)
    model.finitialize(-65, engine=engine, threads=threads)
    model.continuerun(20)
    dend(0.5).hh.gnabar, clamp.amp, drive.weight, synapse.tau, dend.ena = 0.2, 0.5, 0.08, 3, 45
    model.continuerun(40.0125)
    for _ in range(5):
        model.fadvance()
    return [trace.values for trace in v], m.values, np.array(times), np.array(ids), model.time


def test_per_segment_parameters_and_a_run_continued_after_changes_match_neuron():
    v_theirs, m_theirs, spikes_theirs, ids_theirs, t_theirs = neuron_gradient_and_continued_run()
    v_ours, m_ours, spikes_ours, ids_ours, t_ours = cablesim_gradient_and_continued_run()
    assert t_ours == t_theirs  # the same steps: 800, then 800 (40.0125 is half a step past 40), then 5
    for x, a, b in zip((0.1, 0.5, 0.95), v_ours, v_theirs):
        assert a.shape == b.shape == (1606,)
        assert np.max(np.abs(a - b)) < TOLERANCE, f"dend({x})"
    assert m_ours.shape == m_theirs.shape and np.max(np.abs(m_ours - m_theirs)) < RECORDABLE_TOLERANCE["m_hh"]
    # NEURON's NetCon.record stores t + 1e-10 for a threshold crossing (docs/api.md); cablesim the step end t.
    assert len(spikes_theirs) == 2  # a spike from the NetStim-started synapse; one from the IClamp raised after 20 ms
    np.testing.assert_allclose(spikes_ours, spikes_theirs, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ids_ours, ids_theirs)


def test_run_takes_the_steps_of_psolve_and_continuerun_those_of_neurons_continuerun():
    soma = h.Section(name="soma")
    soma.insert("hh")
    t = h.Vector().record(h._ref_t)
    pc = h.ParallelContext()
    pc.set_maxstep(10)
    h.dt = 0.025
    model = cablesim.Model()
    model.Section("soma").insert("hh")
    for tstop in (1.0125, 40.0125, 40, 6.72, 0.0126, 0.07, 0.0375, 1.01250000001):
        h.finitialize(-65)
        pc.psolve(tstop)
        assert len(model.run(tstop).t) == len(t), f"run({tstop}) against pc.psolve({tstop})"
        h.finitialize(-65)
        h.continuerun(tstop)
        model.finitialize(-65)
        assert len(model.continuerun(tstop).t) == len(t), f"continuerun({tstop})"
    assert len(model.run(1.0125).t) == 41  # the issue's example: 40 steps, as psolve


def test_segments_areas_and_nseg_changes_match_neuron():
    dend = h.Section(name="dend")
    dend.L, dend.diam, dend.nseg = 123.4, 2.7, 3
    dend.insert("hh")
    model = cablesim.Model()
    ours = model.Section("dend", L=123.4, diam=2.7, nseg=3).insert("hh")
    for theirs_seg, our_seg, gnabar in zip(dend, ours, (0.1, 0.2, 0.3)):
        assert our_seg.x == theirs_seg.x and our_seg.area() == theirs_seg.area()
        theirs_seg.hh.gnabar = our_seg.hh.gnabar = gnabar
    assert ours(0).area() == dend(0).area() == 0
    for nseg in (5, 2, 4, 7):  # each new segment takes the value of the old one holding its centre
        dend.nseg = ours.nseg = nseg
        assert [seg.gnabar_hh for seg in ours] == [seg.gnabar_hh for seg in dend], f"nseg {nseg}"
        assert [seg.area() for seg in ours] == [seg.area() for seg in dend]


def test_the_gates_and_currents_example_matches_neuron():
    example = Path(__file__).resolve().parents[1] / "examples" / "gates_and_currents.json"
    model, settings, outputs = load_model_file(example)
    model.run(settings.tstop, dt=settings.dt, v_init=settings.v_init, celsius=settings.celsius)

    soma = h.Section(name="soma")
    soma.L = soma.diam = 18.8
    soma.Ra = 123
    soma.insert("hh")
    dend = h.Section(name="dend")
    dend.L, dend.diam, dend.nseg, dend.Ra = 200, 1, 5, 123
    dend.insert("hh")
    for seg, gnabar in zip(dend, (0.12, 0.09, 0.06, 0.03, 0.0)):
        seg.hh.gnabar, seg.ena = gnabar, 55
    dend.connect(soma(1))
    stim = h.IClamp(soma(0.5))
    stim.delay, stim.dur, stim.amp = 5, 1, 0.3
    synapse = h.ExpSyn(dend(0.9))
    synapse.tau = 2
    kick = h.NetStim()
    kick.start, kick.number = 20, 1
    drive = h.NetCon(kick, synapse)
    drive.delay, drive.weight[0] = 1, 0.01
    refs = {
        "soma(0.5)": soma(0.5)._ref_v,
        "soma(0.5).m_hh": soma(0.5)._ref_m_hh,
        "soma(0.5).h_hh": soma(0.5)._ref_h_hh,
        "soma(0.5).n_hh": soma(0.5)._ref_n_hh,
        "soma(0.5).ina": soma(0.5)._ref_ina,
        "soma(0.5).ik": soma(0.5)._ref_ik,
        "dend(0.9)": dend(0.9)._ref_v,
        "stim.i": stim._ref_i,
        "syn.g": synapse._ref_g,
    }
    vectors = {name: h.Vector().record(ref, 0.1) for name, ref in refs.items()}
    h.dt, h.celsius = 0.025, 6.3
    h.finitialize(-65)
    h.continuerun(40)
    assert list(outputs.traces) == list(refs)
    for name, trace in outputs.traces.items():
        theirs = np.array(vectors[name])
        assert trace.values.shape == theirs.shape == (401,), name
        tolerance = TOLERANCE if name in ("soma(0.5)", "dend(0.9)") else 1e-10
        assert np.max(np.abs(trace.values - theirs)) < tolerance, name
    assert len(outputs.spikes["soma"].spike_times) == 2  # the pulse, then the synapse on the dendrite
