"""The cable equation: NEURON 9.0.2's passive-cable numbers and the analytic sealed-end cable."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import build_passive_cable

NEURON_V_AT_200_MS = {0: -58.3959, 0.25: -60.8892, 0.5: -62.2914, 0.75: -63.0161, 1: -63.2446}


def test_passive_cable_matches_neuron(passive_cable):
    model, cable = passive_cable
    traces = {x: model.record(cable(x)) for x in NEURON_V_AT_200_MS}
    run = model.run(200, dt=0.025, v_init=-65)
    assert run.t[-1] == pytest.approx(200.0, abs=1e-9)
    for x, expected in NEURON_V_AT_200_MS.items():
        assert traces[x].values[-1] == pytest.approx(expected, abs=1e-3), f"x = {x}"


def sealed_end_steady_state(x_um: float, length_um: float, diam_um: float, ra: float, g: float, amp_na: float):
    """V(x) - e of a finite cable with sealed ends and a DC current into x = 0 [mV]."""
    rm = 1.0 / g  # [ohm cm2]
    lam = math.sqrt(rm * diam_um * 1e-4 / (4 * ra))  # [cm]
    r_axial = 4 * ra / (math.pi * (diam_um * 1e-4) ** 2)  # [ohm/cm]
    big_l = length_um * 1e-4 / lam
    input_resistance = r_axial * lam / math.tanh(big_l)  # [ohm]
    return amp_na * 1e-9 * input_resistance * 1e3 * math.cosh(big_l - x_um * 1e-4 / lam) / math.cosh(big_l)


def test_steady_state_matches_the_analytic_sealed_end_cable():
    model, cable = build_passive_cable(nseg=201)
    xs = (0, 0.25, 0.5, 0.75, 1)
    traces = {x: model.record(cable(x)) for x in xs}
    model.run(400, dt=0.1)  # 40 membrane time constants: steady state
    for x in xs:
        seg_x = x if x in (0, 1) else (math.floor(x * 201) + 0.5) / 201  # the node standing for cable(x)
        expected = -65 + sealed_end_steady_state(seg_x * 1000, 1000, 1, 100, 1e-4, 0.01)
        assert traces[x].values[-1] == pytest.approx(expected, rel=2e-5), f"x = {x}"


def test_refining_the_grid_converges_to_the_analytic_input_resistance():
    expected = -65 + sealed_end_steady_state(0, 1000, 1, 100, 1e-4, 0.01)
    errors = []
    for nseg in (11, 41):
        model, cable = build_passive_cable(nseg=nseg)
        v = model.record(cable(0))
        model.run(400, dt=0.1)
        errors.append(abs(v.values[-1] - expected))
    # The spatial error of the centred discretisation falls with the square of the segment length.
    assert errors[0] / errors[1] == pytest.approx((41 / 11) ** 2, rel=0.2)
    assert errors[1] < 3e-3


@pytest.mark.parametrize("method,order", [("backward-euler", 1), ("crank-nicolson", 2)])
def test_time_step_convergence_order(method, order):
    def v_at_5ms(dt: float) -> float:
        model, cable = build_passive_cable(nseg=21)
        v = model.record(cable(0))
        model.run(5, dt=dt, method=method)
        return float(v.values[-1])

    reference = v_at_5ms(0.025 / 64)
    e1 = abs(v_at_5ms(0.1) - reference)
    e2 = abs(v_at_5ms(0.05) - reference)
    ratio = e1 / e2
    assert ratio == pytest.approx(2**order, rel=0.15)


def test_voltage_decays_along_the_cable(passive_cable):
    model, cable = passive_cable
    traces = [model.record(seg) for seg in cable.segments()]
    model.run(50)
    final = np.array([t.values[-1] for t in traces])
    assert np.all(np.diff(final) < 0)
    assert len(traces) == 101
