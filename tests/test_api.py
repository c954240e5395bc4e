"""The Python model API: NEURON-like use, and a clear ModelError (a ValueError) for every invalid model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cablesim
from cablesim import ModelError


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
    with pytest.raises(ModelError, match=r"connecting section 'a' to c\(1\) would make a loop in the tree \(a -> c -> b -> a\)"):
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


def test_netcon_target_must_be_a_synapse(model):
    soma = model.Section("soma")
    clamp = model.IClamp(soma(0.5))
    with pytest.raises(ModelError, match="NetCon target must be an ExpSyn of this Model or None"):
        model.NetCon(soma(0.5), clamp)  # type: ignore[arg-type]


def test_results_before_a_run(model):
    soma = model.Section("soma")
    trace = model.record(soma(0.5))
    with pytest.raises(ModelError, match=r"no results yet: call Model.run\(tstop\) first"):
        trace.values
    with pytest.raises(ModelError, match="no results yet"):
        model.t


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
