"""Engines: the coreneuron engine gives the default engine's results (ring spikes, traces; 1, 2 and 3 threads;
backward Euler and Crank-Nicolson), run-time selection errors, build_info and ``python -m cablesim.selftest --ring``.

The coreneuron tests skip in builds without the engine, unless CABLESIM_REQUIRE_CORENEURON=1 (as `nox -s tests`
sets, building with -DCABLESIM_CORENEURON=ON): then a missing engine fails them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cablesim
from cablesim import _core
from cablesim import model as model_module
from cablesim.networks import ring

HAVE_CORENEURON = "coreneuron" in cablesim.build_info()["engines"]
REQUIRED = os.environ.get("CABLESIM_REQUIRE_CORENEURON") == "1"
SPIKE_TOLERANCE = 1e-9  # [ms]
TRACE_TOLERANCE = 1e-9  # [mV]


@pytest.fixture
def coreneuron() -> None:
    if HAVE_CORENEURON:
        return
    if REQUIRED:
        pytest.fail(
            "CABLESIM_REQUIRE_CORENEURON=1 but this build has no coreneuron engine: build with "
            "-Ccmake.define.CABLESIM_CORENEURON=ON"
        )
    pytest.skip("this build has no coreneuron engine (build with -Ccmake.define.CABLESIM_CORENEURON=ON)")


def assert_same_spikes(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape, f"{len(got)} spikes, the default engine has {len(expected)}"
    np.testing.assert_array_equal(got[:, 0], expected[:, 0])  # the same cells, in the same order
    np.testing.assert_allclose(got[:, 1], expected[:, 1], rtol=0, atol=SPIKE_TOLERANCE)


@pytest.fixture(scope="module")
def ring100_default() -> np.ndarray:
    network = ring(100)
    network.model.run(100, engine="default")
    return network.spike_array()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_ring_of_100_spikes_match_the_default_engine(coreneuron, ring100_default, threads):
    network = ring(100)
    run = network.model.run(100, engine="coreneuron", threads=threads)
    assert run.engine == "coreneuron" and run.threads == threads
    assert len(ring100_default) == 14  # the spike goes round the ring: 6.6 ms per hop
    assert_same_spikes(network.spike_array(), ring100_default)


@pytest.mark.parametrize("method", ["backward-euler", "crank-nicolson"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_traces_and_spikes_match_for_both_methods(coreneuron, method, threads):
    network = ring(7, dend_nseg=31)
    probes = [(network.somas[0], 0.5), (network.dends[3], 0.5), (network.dends[6], 1.0)]
    traces = [network.model.record(section(x)) for section, x in probes]
    clamp = network.model.IClamp(network.dends[4](0.2), delay=30, dur=2, amp=0.5)  # an extra spike in cell 4
    assert clamp.amp == 0.5
    reference = network.model.run(80, method=method, engine="default")
    expected_spikes = network.spike_array()
    expected = [trace.values.copy() for trace in traces]
    run = network.model.run(80, method=method, engine="coreneuron", threads=threads)
    np.testing.assert_array_equal(run.t, reference.t)
    for got, want in zip(traces, expected):
        np.testing.assert_allclose(got.values, want, rtol=0, atol=TRACE_TOLERANCE)
    assert_same_spikes(network.spike_array(), expected_spikes)
    assert 4 in network.spike_array()[:, 0]
    # Segment.v reads the coreneuron engine's state after its run.
    assert network.somas[0](0.5).v == pytest.approx(expected[0][-1], abs=TRACE_TOLERANCE)


def test_threads_default_to_openmp(coreneuron):
    network = ring(3, dend_nseg=5)
    run = network.model.run(5, engine="coreneuron")
    assert run.threads >= 1


def test_unknown_engine_is_refused():
    model = cablesim.Model()
    model.Section("soma").insert("hh")
    with pytest.raises(cablesim.ModelError, match=r"unknown engine 'gpu' \(available in this build: default"):
        model.run(10, engine="gpu")


def test_absent_coreneuron_engine_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(model_module, "ENGINES", ("default",))
    model = cablesim.Model()
    model.Section("soma").insert("hh")
    message = (
        "this build of cablesim has no coreneuron engine; install a coreneuron wheel / build with "
        "-DCABLESIM_CORENEURON=ON"
    )
    with pytest.raises(cablesim.ModelError, match=message):
        model.run(10, engine="coreneuron")


@pytest.mark.parametrize(
    "engine,threads,message",
    [
        ("default", 2, r"the default engine runs on one thread, got threads=2; use engine='coreneuron'"),
        ("default", 0, r"threads must be a whole number >= 1, got 0"),
        ("coreneuron", 1.5, r"threads must be a whole number >= 1, got 1.5"),
        ("coreneuron", True, r"threads must be a whole number >= 1, got True"),
    ],
)
def test_bad_thread_counts_are_refused(engine, threads, message):
    model = cablesim.Model()
    model.Section("soma").insert("hh")
    with pytest.raises(cablesim.ModelError, match=message):
        model.run(1, engine=engine, threads=threads)


def test_default_engine_accepts_one_thread():
    model = cablesim.Model()
    model.Section("soma").insert("hh")
    assert model.run(1, threads=1).threads == 1


def test_build_info():
    info = cablesim.build_info()
    assert set(info) == {"version", "engines", "mpi", "mpi_shims", "openmp", "march"}
    assert info["version"] == cablesim.__version__
    assert info["engines"][0] == "default"
    assert set(info["engines"]) <= {"default", "coreneuron"}
    assert info["mpi"] is bool(info["mpi_shims"])  # tests/test_mpi.py checks the shims themselves
    assert isinstance(info["openmp"], bool) and isinstance(info["march"], str)
    if "coreneuron" in info["engines"]:
        assert info["openmp"] is True
    else:
        assert info["march"] == ""
    if REQUIRED:
        assert "coreneuron" in info["engines"], "CABLESIM_REQUIRE_CORENEURON=1 but the engine is not in this build"


def selftest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cablesim.selftest", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_selftest_ring_prints_one_json_object():
    done = selftest("--ring", "--cells", "5", "--tstop", "40")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert document["engine"] == "default" and document["threads"] == 1 and document["ranks"] == 1
    spikes = document["spikes"]
    assert [gid for gid, _ in spikes] == [0, 1, 2, 3, 4]
    assert spikes == sorted(spikes, key=lambda s: (s[1], s[0]))
    network = ring(5)
    network.model.run(40)
    assert spikes == [list(s) for s in network.spikes()]


def test_selftest_ring_with_coreneuron_matches(coreneuron):
    outputs = [
        selftest("--ring", "--cells", "6", "--tstop", "50", *extra)
        for extra in ([], ["--engine", "coreneuron", "--threads", "2"])
    ]
    for done in outputs:
        assert done.returncode == 0, done.stderr
    default, engine = (json.loads(done.stdout) for done in outputs)
    assert engine["engine"] == "coreneuron" and engine["threads"] == 2
    assert_same_spikes(np.array(engine["spikes"]), np.array(default["spikes"]))


def test_selftest_ring_refuses_an_unknown_engine():
    done = selftest("--ring", "--engine", "gpu", "--cells", "2")
    assert done.returncode == 2
    assert "unknown engine 'gpu'" in done.stderr


def test_selftest_without_ring_runs_the_checks():
    done = selftest()
    assert done.returncode == 0, done.stderr
    assert "self-test hh_soma passed" in done.stdout


# --- the size of a run, and Ctrl-C: one check in the core for both engines ----------------------------------------


@pytest.fixture(params=["default", "coreneuron"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "coreneuron":
        request.getfixturevalue("coreneuron")  # skips (or fails) without the engine
    return str(request.param)


@pytest.mark.parametrize(
    "tstop,dt,message",
    [
        (1e12, 0.025, "tstop = 1e+12 ms with dt = 0.025 ms is 4e+13 steps; one run may take at most 1099511627776"),
        (5, 1e-300, "tstop = 5 ms with dt = 1e-300 ms is 5e+300 steps; one run may take at most 1099511627776"),
        (2.5e10, 0.025, "the recording would not fit in memory: 1000000000000 steps of 0.025 ms to 2.5e+10 ms"),
    ],
)
def test_both_engines_refuse_a_run_too_large_before_it_starts(engine, tstop, dt, message):
    model = cablesim.Model()
    model.record(model.Section("soma").insert("hh")(0.5))
    with pytest.raises(cablesim.ModelError, match=f"^{re.escape(message)}"):
        model.run(tstop, dt=dt, engine=engine)
    # The compiled engines check for themselves, for those who drive them directly.
    compiled = _core.Model()
    compiled.add_voltage_probe(compiled.add_section("soma"), 0.5)
    direct = (_core.Simulation if engine == "default" else _core.CoreNeuronSimulation)(compiled, dt=dt)
    direct.finitialize(-65)
    with pytest.raises(cablesim.ModelError, match=f"^{re.escape(message)}"):
        direct.run(tstop)


INTERRUPTED_RUN = """
import cablesim, sys
model = cablesim.Model()
soma = model.Section("soma", nseg=1001).insert("hh")
model.record(soma(0.5))
print("running", flush=True)
model.run(25000, engine=sys.argv[1])  # about a minute uninterrupted
"""


def test_ctrl_c_stops_either_engine_within_a_moment(engine):
    # Python only notes a SIGINT that arrives in compiled code; the engines ask it every few steps.
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, engine],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as in a terminal, not ignored as in a background job (which its children would inherit)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - one call, no locks
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "running\n"
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGINT  # Python ends an uncaught KeyboardInterrupt by SIGINT
    assert stderr.rstrip().endswith("KeyboardInterrupt")


# --- issue 18: recordings, per-segment parameters, NetStim targets and continued runs, engine against engine -------

RECORDED = ("v", "m_hh", "h_hh", "n_hh", "gna_hh", "gk_hh", "il_hh", "ina", "ik", "ena", "ek")


def continued_ring(engine: str, method: str, threads: int | None) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """A ring of 5 whose dendrites have hh with parameters that change along them, every recordable every step and
    every 0.1 or 0.0375 ms, a NetStim started by a cell's spikes, run in pieces with parameter changes between."""
    network = ring(5, dend_nseg=9)
    model = network.model
    for dend in network.dends:
        dend.insert("hh")
        for k, seg in enumerate(dend):
            seg.hh.gnabar, seg.hh.gkbar, seg.ena = 0.02 * k, 0.01 + 0.002 * k, 50 + k
    burst = model.NetStim(-1, 3, 2)
    model.NetCon(network.somas[2](0.5), burst, 0, 3, 1)  # cell 2's spikes start a burst into cell 4's synapse
    model.NetCon(burst, network.synapses[4], delay=1, weight=0.02)
    clamp = model.IClamp(network.somas[1](0.5), 20, 1, 0.2)
    traces = []
    for cell, interval in ((0, None), (3, 0.1), (4, 0.0375)):
        soma, dend = network.somas[cell], network.dends[cell]
        traces += [model.record(getattr(dend(0.7), f"_ref_{name}"), interval) for name in RECORDED]
        traces += [model.record(soma(0.5)._ref_ina, interval), model.record(dend(0.2).pas._ref_i, interval)]
        traces += [model.record(network.synapses[cell]._ref_g, interval)]
        traces += [model.record(network.synapses[cell]._ref_i, interval)]
    traces.append(model.record(clamp._ref_i, 0.05))
    model.finitialize(-65, method=method, engine=engine, threads=threads)
    model.continuerun(30)
    network.dends[3](0.5).hh.gnabar, clamp.amp, network.synapses[0].tau = 0.15, 0.4, 3
    network.detectors[1].weight = 0.03
    model.continuerun(60.0125)
    for _ in range(7):
        model.fadvance()
    model.continuerun(61.3)
    return [trace.values for trace in traces], [trace.t for trace in traces], model.time


@pytest.mark.parametrize("method", ["backward-euler", "crank-nicolson"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_recordings_and_continued_runs_are_identical_in_both_engines(coreneuron, method, threads):
    values, times, t = continued_ring("default", method, None)
    values_cn, times_cn, t_cn = continued_ring("coreneuron", method, threads)
    assert t_cn == t
    for k, (got, want) in enumerate(zip(values_cn, values)):
        np.testing.assert_array_equal(got, want, err_msg=f"trace {k}")  # to the bit
    for got, want in zip(times_cn, times):
        np.testing.assert_array_equal(got, want)
    assert np.ptp(values[RECORDED.index("m_hh")]) > 0.5  # the dendrites fire


def test_a_structure_change_is_refused_by_a_continued_run(engine):
    model = cablesim.Model()
    soma = model.Section("soma").insert("hh")
    model.finitialize(-65, engine=engine)
    model.continuerun(1)
    soma.hh.gnabar = 0.2  # a parameter: fine
    model.continuerun(2)
    soma.insert("pas")
    with pytest.raises(cablesim.ModelError, match=r"^the model's inserted mechanisms changed since finitialize; "):
        model.continuerun(3)
    model.finitialize(-65, engine=engine)  # a new engine takes the new structure
    assert len(model.continuerun(3).t) == 121
