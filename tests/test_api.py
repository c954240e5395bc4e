"""The Python model API: NEURON-like use, and a clear ModelError (a ValueError) for every invalid model."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import cablesim
from cablesim import ModelError
from cablesim.model_io import ModelFileError, load_model


@pytest.fixture
def model() -> cablesim.Model:
    return cablesim.Model()


def test_model_error_is_a_value_error():
    assert issubclass(ModelError, ValueError)


def test_sections_have_neuron_defaults(model):
    sec = model.Section("axon")
    assert (sec.L, sec.diam, sec.nseg, sec.Ra, sec.cm) == (100.0, 500.0, 1, 35.4, 1.0)
    assert sec.parent is None
    assert repr(sec) == "axon" and repr(sec(0.5)) == "axon(0.5)"


@pytest.mark.parametrize(
    "attribute,value,message",
    [
        ("diam", -1, "section 'soma': diam must be > 0 um, got -1"),
        ("diam", 0, "section 'soma': diam must be > 0 um, got 0"),
        ("L", -5.5, "section 'soma': L must be > 0 um, got -5.5"),
        ("L", math.nan, "section 'soma': L must be a finite number of um, got nan"),
        ("Ra", 0, "section 'soma': Ra must be > 0 ohm cm, got 0"),
        ("cm", -1, "section 'soma': cm must be >= 0 uF/cm2, got -1"),
        ("nseg", 0, r"section 'soma': nseg must be in \[1, 32767\], got 0"),
        ("nseg", 2.5, "section 'soma': nseg must be a whole number >= 1, got 2.5"),
    ],
)
def test_invalid_geometry_is_rejected_with_section_and_value(model, attribute, value, message):
    soma = model.Section("soma")
    before = getattr(soma, attribute)
    with pytest.raises(ModelError, match=f"^{message}$"):
        setattr(soma, attribute, value)
    assert getattr(soma, attribute) == before  # nothing half-set


def test_invalid_geometry_in_the_constructor(model):
    with pytest.raises(ModelError, match="section 'dend': diam must be > 0 um, got -2"):
        model.Section("dend", diam=-2)


def test_duplicate_section_names_are_rejected(model):
    model.Section("soma")
    with pytest.raises(ModelError, match="a section named 'soma' already exists"):
        model.Section("soma")


def test_unknown_mechanism(model):
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"section 'soma': unknown mechanism 'kdr' \(known: hh, pas\)"):
        soma.insert("kdr")


def test_unknown_mechanism_parameter(model):
    soma = model.Section("soma").insert("hh")
    with pytest.raises(ModelError, match=r"mechanism 'hh': unknown parameter 'gbar' \(known: gnabar, gkbar"):
        soma.hh.gbar = 1
    with pytest.raises(ModelError, match="section 'soma' hh: gnabar must be >= 0 S/cm2, got -0.1"):
        soma.hh.gnabar = -0.1


def test_mechanism_not_inserted(model):
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"mechanism 'pas' is not inserted; call insert\('pas'\) first"):
        soma.pas.g = 1e-4


@pytest.mark.parametrize("x", [-0.1, 1.5, math.nan])
def test_location_outside_the_section(model, x):
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"location soma\(.*\): x must be in \[0, 1\]"):
        soma(x)


def test_loops_in_the_tree_are_refused(model):
    a, b, c = (model.Section(name) for name in "abc")
    b.connect(a(1))
    c.connect(b(1))
    with pytest.raises(
        ModelError, match=r"connecting section 'a' to c\(1\) would make a loop in the tree \(a -> c -> b -> a\)"
    ):
        a.connect(c(1))
    with pytest.raises(ModelError, match="cannot connect section 'a' to itself"):
        a.connect(a(0.5))
    assert a.parent is None  # the refused connection left the tree as it was


def test_connect_accepts_a_section_and_x(model):
    soma, dend = model.Section("soma"), model.Section("dend")
    dend.connect(soma, 0.5)
    assert dend.parent == soma(0.5)


def test_sections_of_another_model_are_refused(model):
    other = cablesim.Model().Section("soma")
    dend = model.Section("dend")
    with pytest.raises(ModelError, match="cannot connect to 'soma' of another Model"):
        dend.connect(other(1))
    with pytest.raises(ModelError, match=r"IClamp: location soma\(0.5\) belongs to another Model"):
        model.IClamp(other(0.5))


@pytest.mark.parametrize(
    "options,message",
    [
        ({"dt": 0}, "dt must be > 0 ms, got 0"),
        ({"dt": -0.1}, "dt must be > 0 ms, got -0.1"),
        ({"dt": math.inf}, "dt must be a finite number, got inf"),
        ({"method": "rk4"}, r"unknown method 'rk4' \(known: backward-euler, crank-nicolson\)"),
        ({"engine": "gpu"}, r"unknown engine 'gpu'"),
    ],
)
def test_invalid_run_options(model, options, message):
    model.Section("soma").insert("hh")
    with pytest.raises(ModelError, match=message):
        model.run(10, **options)


def test_negative_tstop_and_empty_model(model):
    with pytest.raises(ModelError, match=r"the model has no sections"):
        model.run(10)
    model.Section("soma")
    with pytest.raises(ModelError, match="tstop must be >= 0 ms, got -1"):
        model.run(-1)


def test_point_process_parameters_are_validated(model):
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"ExpSyn at soma\(0.5\): tau must be > 0 ms, got 0"):
        model.ExpSyn(soma(0.5), tau=0)
    with pytest.raises(ModelError, match=r"IClamp at soma\(0.5\): dur must be >= 0 ms, got -1"):
        model.IClamp(soma(0.5), dur=-1)
    with pytest.raises(ModelError, match="NetStim 0: interval must be > 0 ms, got 0"):
        model.NetStim(interval=0)
    with pytest.raises(ModelError, match="NetCon 0: delay must be >= 0 ms, got -1"):
        model.NetCon(soma(0.5), None, delay=-1)
    clamp = model.IClamp(soma(0.5), amp=0.2)
    assert clamp.amp == 0.2
    with pytest.raises(AttributeError, match=r"IClamp has no parameter 'amplitude' \(known: delay, dur, amp\)"):
        clamp.amplitude = 1


def test_netcon_target_must_be_a_synapse_or_a_netstim(model):
    soma = model.Section("soma")
    clamp = model.IClamp(soma(0.5))
    with pytest.raises(ModelError, match="NetCon target must be an ExpSyn or a NetStim of this Model, or None"):
        model.NetCon(soma(0.5), clamp)  # type: ignore[arg-type]


def test_results_before_a_run(model):
    soma = model.Section("soma")
    trace = model.record(soma(0.5))
    with pytest.raises(ModelError, match=r"no results yet: call Model.run\(tstop\) first"):
        _ = trace.values
    with pytest.raises(ModelError, match="no results yet"):
        _ = model.t


def test_recordings_are_numpy_arrays_sampled_every_step(model):
    soma = model.Section("soma", L=20, diam=20).insert("pas", e=-70)
    v = model.record(soma(0.5))
    run = model.run(10, dt=0.1, v_init=-65)
    assert isinstance(v.values, np.ndarray) and len(v) == len(run.t) == 101
    np.testing.assert_allclose(model.t, np.arange(101) * 0.1, atol=1e-9)
    assert np.asarray(v)[0] == -65.0
    assert v[-1] == pytest.approx(-70.0, abs=0.05)  # relaxes to e_pas with tau = cm / g = 1 ms
    assert soma(0.5).v == v[-1]


def test_model_can_be_run_again_with_changes(model):
    soma = model.Section("soma", L=18.8, diam=18.8, Ra=123).insert("hh")
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.1)
    detector = model.NetCon(soma(0.5), None, threshold=0)
    model.run(40)
    assert len(detector.spike_times) == 1
    soma.hh.gnabar = 0.0  # no sodium: no spike
    model.run(40)
    assert len(detector.spike_times) == 0


def test_selftest_passes():
    assert cablesim.test() is True


def test_version_is_set():
    assert cablesim.__version__ and cablesim.__version__ != "0.0.0"


# --- numbers: one check for the API and the JSON format -----------------------------------------------------------

NOT_NUMBERS = [
    ("L", "10", 'L must be a number, got string "10"'),
    ("nseg", "3", 'nseg must be a number, got string "3"'),
    ("diam", True, "diam must be a number, got boolean true"),
    ("nseg", True, "nseg must be a number, got boolean true"),
    ("Ra", [1], "Ra must be a number, got array"),
]


@pytest.mark.parametrize("key,value,problem", NOT_NUMBERS)
def test_numeric_strings_and_booleans_are_refused_as_the_json_format_refuses_them(model, key, value, problem):
    with pytest.raises(ModelError, match=f"^section 's': {re.escape(problem)}$"):
        model.Section("s", **{key: value})
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=f"^section 'soma': {re.escape(problem)}$"):
        setattr(soma, key, value)
    with pytest.raises(ModelFileError, match=f"^sections\\[0\\]\\.{key}: {re.escape(problem)}$"):
        load_model({"sections": [{"name": "soma", key: value}]})


def test_numeric_strings_are_refused_everywhere_a_number_is_taken(model):
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"""^location soma\('0.5'\): x must be a number, got string "0.5"$"""):
        soma("0.5")
    with pytest.raises(ModelError, match=r"""^section 'soma' hh: gnabar must be a number, got string "0.2"$"""):
        soma.insert("hh", gnabar="0.2")
    with pytest.raises(ModelError, match=r"""^section 'soma' hh: gkbar must be a number, got boolean false$"""):
        soma.hh.gkbar = False
    with pytest.raises(ModelError, match=r"""^IClamp at soma\(0.5\): amp must be a number, got string "0.1"$"""):
        model.IClamp(soma(0.5), amp="0.1")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=r"^NetStim 0: number must be a number, got boolean true$"):
        model.NetStim(number=True)
    with pytest.raises(ModelError, match=r"""^tstop must be a number, got string "5"$"""):
        model.run("5")  # type: ignore[arg-type]
    soma.nseg, soma.L, soma.diam = np.int64(3), np.float32(10), 2.0  # NumPy's numbers are numbers
    assert (soma.nseg, soma.L, soma.diam) == (3, 10.0, 2.0)


# --- the size of a run: refused with the numbers, or a warning above LARGE_RECORDING_BYTES --------------------------


def test_a_run_of_more_than_2_to_the_40_steps_is_refused_with_the_numbers(model):
    model.Section("soma").insert("hh")
    limit = "one run may take at most 1099511627776 (2^40): use a larger dt or a shorter tstop"
    with pytest.raises(ModelError, match=re.escape(f"tstop = 1e+12 ms with dt = 0.025 ms is 4e+13 steps; {limit}")):
        model.run(1e12)
    with pytest.raises(ModelError, match=re.escape(f"tstop = 5 ms with dt = 1e-300 ms is 5e+300 steps; {limit}")):
        model.run(5, dt=1e-300)
    with pytest.raises(ModelError, match=re.escape(f"with dt = 0.025 ms is more than 1e308 steps; {limit}")):
        model.run(1e308)
    with pytest.raises(ModelError, match="no results yet"):
        _ = model.t  # nothing half-run


def test_a_recording_larger_than_the_machine_is_refused_before_it_starts(model):
    soma = model.Section("soma")
    for x in np.linspace(0, 1, 10):
        model.record(soma(x))
    # 2^40 steps would be allowed; the recording is not: 1e12 steps x 11 traces x 8 bytes = 80 TiB
    with pytest.raises(ModelError) as refused:
        model.run(2.5e10)
    assert re.fullmatch(
        r"the recording would not fit in memory: 1000000000000 steps of 0.025 ms to 2.5e\+10 ms, recording t and "
        r"10 traces: 80 TiB \(8.8e\+13 bytes\), more than this machine's [\d.]+ [KMGT]iB \(\d+ bytes\); "
        r"record fewer locations, use a larger dt or a shorter tstop",
        str(refused.value),
    )


def test_a_recording_above_1_gib_warns_before_the_run(model):
    soma = model.Section("soma")
    model.record(soma(0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cablesim.LargeRecordingWarning)  # raised before anything is allocated
        model.run(10)  # small: no warning
        with pytest.raises(cablesim.LargeRecordingWarning) as warned:
            model.run(2e6)
    assert str(warned.value) == (
        "large recording: 80000000 steps of 0.025 ms to 2e+06 ms, recording t and 1 trace: 1.19 GiB (1280000016 "
        "bytes), above 1 GiB; record fewer locations, use a larger dt or a shorter tstop if that is not meant"
    )


def test_a_distributed_run_refuses_on_every_rank_alike(model):
    soma = model.Section("soma").insert("hh")
    pc = cablesim.ParallelContext(mpi=False)
    pc.cell(0, model.NetCon(soma(0.5), None))
    with pytest.raises(ModelError, match=re.escape("tstop = 1e+12 ms with dt = 0.025 ms is 4e+13 steps")):
        model.run(1e12, pc=pc)
    assert len(model.run(5, pc=pc).t) == 201


# --- issue 18 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"diam": -2}, {"nseg": "3"}, {"nseg": 0}, {"nseg": 2.5}, {"L": math.nan}, {"cm": -1}])
def test_a_section_refused_in_the_constructor_leaves_nothing_behind(model, bad):
    model.Section("soma")
    with pytest.raises(ModelError, match="^section 'dend': "):
        model.Section("dend", **bad)
    dend = model.Section("dend", L=50)  # the name is free, and the new section is the second one
    dend.connect(model.section("soma")(1))
    assert dend.parent == model.section("soma")(1)  # Section.parent finds its parent by index
    assert [s.name for s in model.sections] == ["soma", "dend"]
    assert len(model.run(1).t) == 41


def test_point_processes_take_neurons_positional_arguments(model):
    soma = model.Section("soma").insert("hh")
    clamp = model.IClamp(soma(0.5), 5, 1, 0.1)
    synapse = model.ExpSyn(soma(0.5), 2, -70)
    stim = model.NetStim(9, 2, 10)
    netcon = model.NetCon(stim, synapse, 0, 2, 0.05)
    assert (clamp.delay, clamp.dur, clamp.amp) == (5, 1, 0.1)
    assert (synapse.tau, synapse.e) == (2, -70)
    assert (stim.start, stim.number, stim.interval) == (9, 2, 10)
    assert (netcon.threshold, netcon.delay, netcon.weight) == (0, 2, 0.05)


def test_a_section_iterates_its_segments_with_their_areas(model):
    dend = model.Section("dend", L=100, diam=2, nseg=4)
    assert [seg.x for seg in dend] == [0.125, 0.375, 0.625, 0.875]
    assert list(dend) == list(dend.segments())
    assert [seg.area() for seg in dend] == [math.pi * 2 * 25] * 4
    assert dend(0).area() == dend(1).area() == 0


def test_parameters_per_segment_and_per_section(model):
    dend = model.Section("dend", nseg=3).insert("hh").insert("pas")
    for k, seg in enumerate(dend):
        seg.hh.gnabar = 0.1 * k
        seg.gkbar_hh = 0.01 * k
        seg.pas.g = 1e-4 * k
        seg.ena = 40 + k
    assert [seg.hh.gnabar for seg in dend] == [0.0, 0.1, 0.2]
    assert [seg.gkbar_hh for seg in dend] == [0.0, 0.01, 0.02]
    assert [seg.g_pas for seg in dend] == [0.0, 1e-4, 2e-4]
    assert [seg.ena for seg in dend] == [40, 41, 42]
    assert dend.hh.gnabar == dend.gnabar_hh == 0.1  # a section reads the segment at x = 0.5
    dend.ek = -80  # a section sets every segment
    dend.gl_hh = 0.001
    assert [seg.ek for seg in dend] == [-80] * 3 and [seg.hh.gl for seg in dend] == [0.001] * 3
    with pytest.raises(ModelError, match=r"^hh, the mechanism does not exist at dend\(0\): the 0 and 1 ends of a"):
        _ = dend(0).hh.gnabar  # as NEURON: no membrane at the ends
    with pytest.raises(ModelError, match=r"^hh, the mechanism does not exist at dend\(1\)"):
        model.record(dend(1)._ref_m_hh)
    dend.nseg = 6  # each new segment takes the value of the old segment holding its centre
    assert [seg.hh.gnabar for seg in dend] == [0.0, 0.0, 0.1, 0.1, 0.2, 0.2]


def test_per_segment_errors_name_the_segment(model):
    dend = model.Section("dend", nseg=3).insert("hh")
    with pytest.raises(ModelError, match=r"^dend\(0.5\) hh: gnabar must be >= 0 S/cm2, got -1$"):
        dend(0.5).hh.gnabar = -1
    with pytest.raises(ModelError, match=r"""^dend\(0.5\) hh: ena must be a number, got string "50"$"""):
        dend(0.5).ena = "50"
    soma = model.Section("soma")
    with pytest.raises(ModelError, match=r"section 'soma': mechanism 'hh' is not inserted; call insert\('hh'\) first"):
        soma(0.5).ena = 50
    with pytest.raises(AttributeError, match="'Segment' object has no attribute 'gbar_hh'"):
        soma(0.5).gbar_hh = 1


def test_recording_errors(model):
    soma = model.Section("soma")
    with pytest.raises(AttributeError, match=r"soma\(0.5\) has no range variable 'm' to record \(known: v, ina"):
        _ = soma(0.5)._ref_m
    with pytest.raises(
        ModelError, match=r"^record m_hh at soma\(0.5\): mechanism 'hh' is not inserted in section 'soma'$"
    ):
        model.record(soma(0.5)._ref_m_hh)
    with pytest.raises(ModelError, match=r"^record soma\(0.5\)._ref_v: dt must be > 0 ms, got 0$"):
        model.record(soma(0.5), 0)
    clamp = model.IClamp(soma(0.5))
    with pytest.raises(AttributeError, match=r"IClamp has no variable 'g' to record \(known: i\)"):
        _ = clamp._ref_g
    other = cablesim.Model()
    with pytest.raises(ModelError, match=r"^record: location other\(0.5\) belongs to another Model$"):
        model.record(other.Section("other")(0.5)._ref_v)
    with pytest.raises(ModelError, match=r"^record needs a location or a reference of this Model such as"):
        model.record(other.ExpSyn(other.section("other")(0.5))._ref_g)
    with pytest.raises(ModelError, match=r"^record needs a location such as soma\(0.5\), got 'soma'$"):
        model.record("soma")  # type: ignore[arg-type]


def test_a_recording_at_an_interval_has_its_own_times(model):
    soma = model.Section("soma", L=18.8, diam=18.8).insert("hh")
    every_step = model.record(soma(0.5).hh._ref_m)
    sampled = model.record(soma(0.5)._ref_m_hh, 0.5)
    model.run(5)
    np.testing.assert_array_equal(every_step.t, model.t)
    np.testing.assert_allclose(sampled.t, np.arange(11) * 0.5, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sampled.values, every_step.values[::20])
    assert repr(sampled) == "<Trace of m_hh at soma(0.5) every 0.5 ms>"


def test_a_run_continues_after_a_parameter_change(model):
    soma = model.Section("soma", L=18.8, diam=18.8, Ra=123).insert("hh")
    clamp = model.IClamp(soma(0.5), 5, 1, 0.1)
    times: list[float] = []
    model.NetCon(soma(0.5), None, threshold=0).record(times)
    with pytest.raises(ModelError, match=r"^continuerun: call Model.finitialize\(v_init\) \(or run\) first$"):
        model.continuerun(10)
    model.finitialize(-65)
    assert model.time == 0 and times == []
    run = model.continuerun(20)
    assert run.t[-1] == pytest.approx(20) and times == [pytest.approx(7.625)]
    clamp.delay = 25  # a second pulse, in the same run
    model.continuerun(40)
    model.fadvance()
    assert model.time == pytest.approx(40.025) and len(model.t) == 1602
    assert len(times) == 2 and times[1] > 25
    model.finitialize(-65)  # starts over: the list too
    assert times == []


def test_netcon_record_fills_shared_lists_in_spike_order(model):
    stims = [model.NetStim(start, 2, 10) for start in (1, 5)]
    times: list[float] = []
    ids: list[float] = []
    for k, stim in enumerate(stims):
        model.NetCon(stim, None).record(times, ids, k)
    model.Section("soma")
    model.run(20)
    assert (times, ids) == ([1, 5, 11, 15], [0, 1, 0, 1])
    with pytest.raises(ModelError, match="NetCon 0: record\\(\\) takes lists to fill, got ndarray"):
        model.netcons[0].record(np.zeros(3))  # type: ignore[arg-type]


def test_a_netcon_starts_and_stops_a_netstim(model):
    soma = model.Section("soma")
    burst = model.NetStim(-1, 5, 2)  # start < 0: only events start it
    trigger = model.NetStim(3, 1, 1)
    model.NetCon(trigger, burst, weight=1, delay=1)
    model.NetCon(model.NetStim(8.5, 1, 1), burst, weight=-1, delay=0)  # a negative weight stops it
    spikes = model.NetCon(burst, None)
    assert soma.name == "soma"
    model.run(20)
    assert spikes.spike_times.tolist() == [4, 6, 8]
