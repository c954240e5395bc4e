"""cablesim-run (cablesim.cli) and the JSON model format it reads (cablesim.model_io)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import pytest

import cablesim
from cablesim import cli
from cablesim import model as model_module
from cablesim.model_io import LoadedModel, ModelFileError, RunSettings, load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HH_SOMA = EXAMPLES / "hh_soma.json"
GATES_AND_CURRENTS = EXAMPLES / "gates_and_currents.json"
NEURON_SPIKE_MS = 7.625  # hh_soma.json with NEURON 9.0.2
NEURON_PEAK_MV = 38.09992


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _soma(**extra: object) -> dict[str, object]:
    return {"name": "soma", **extra}


# --- running the examples ---------------------------------------------------------------------------------------


def test_hh_soma_json_output_matches_neuron(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    code, stdout, stderr = _run(capsys, HH_SOMA, "-o", out)
    assert (code, stderr) == (0, "")
    assert stdout == f"wrote {out} (1601 time points, 1 spike)\n"
    result = json.loads(out.read_text())
    assert list(result) == [
        "version",
        "model",
        "tstop",
        "dt",
        "v_init",
        "celsius",
        "method",
        "record_dt",
        "spikes",
        "traces",
    ]
    assert result["record_dt"] is None
    assert (result["tstop"], result["dt"], result["method"]) == (40, 0.025, "backward-euler")
    assert list(result["spikes"]) == ["soma"]
    assert result["spikes"]["soma"] == [pytest.approx(NEURON_SPIKE_MS, abs=1e-9)]
    assert list(result["traces"]) == ["t", "soma(0.5)"]
    t, v = result["traces"]["t"], result["traces"]["soma(0.5)"]
    assert len(t) == len(v) == 1601
    assert t[0] == 0 and t[-1] == pytest.approx(40)
    assert v[0] == -65
    assert max(v) == pytest.approx(NEURON_PEAK_MV, abs=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left over


def test_hh_soma_csv_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.csv"  # the suffix selects csv
    code, stdout, _ = _run(capsys, HH_SOMA, "-o", out)
    assert code == 0
    assert stdout == f"wrote {out}, {tmp_path / 'run.spikes.csv'} (1601 time points, 1 spike)\n"
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "soma(0.5)"]
    assert len(rows) == 1 + 1601
    assert [float(x) for x in rows[1]] == [0, -65]
    assert float(rows[-1][0]) == pytest.approx(40)
    assert max(float(row[1]) for row in rows[1:]) == pytest.approx(NEURON_PEAK_MV, abs=1e-3)
    with (tmp_path / "run.spikes.csv").open(newline="") as f:
        spikes = list(csv.reader(f))
    assert spikes[0] == ["source", "t"]
    assert len(spikes) == 2 and spikes[1][0] == "soma"
    assert float(spikes[1][1]) == pytest.approx(NEURON_SPIKE_MS, abs=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", "run.spikes.csv"]


def test_format_flag_overrides_the_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traces.txt"
    assert _run(capsys, HH_SOMA, "-o", out, "--format", "csv", "--tstop", "10")[0] == 0
    assert out.read_text().splitlines()[0] == "t,soma(0.5)"
    assert len(out.read_text().splitlines()) == 1 + 401
    assert (tmp_path / "traces.txt.spikes.csv").exists()


def test_tstop_and_dt_override_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert _run(capsys, HH_SOMA, "-o", out, "--tstop", "20", "--dt", "0.05")[0] == 0
    result = json.loads(out.read_text())
    assert (result["tstop"], result["dt"]) == (20, 0.05)
    assert len(result["traces"]["t"]) == 401
    assert result["traces"]["t"][-1] == pytest.approx(20)
    assert len(result["spikes"]["soma"]) == 1


def test_summary_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = _run(capsys, HH_SOMA)
    assert (code, stderr) == (0, "")
    assert stdout.splitlines() == [
        f"{HH_SOMA}: 1600 steps of 0.025 ms to 40 ms (backward-euler, 6.3 degC)",
        "spikes soma: 1 spike at 7.625 ms",
        "traces: soma(0.5) (1601 points each; save them with -o OUT)",
    ]


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, HH_SOMA, "-q", "-o", tmp_path / "out.json") == (0, "", "")
    assert (tmp_path / "out.json").exists()


def test_ball_and_stick_pair_spike_propagates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert _run(capsys, EXAMPLES / "ball_and_stick_pair.json", "-o", out)[0] == 0
    result = json.loads(out.read_text())
    spikes = result["spikes"]
    assert list(spikes) == ["stim_to_cell0", "cell0", "cell1"]
    assert spikes["stim_to_cell0"] == [9]  # NetStim start
    assert len(spikes["cell0"]) == len(spikes["cell1"]) == 1
    # cell 0 fires after the synaptic event arrives at 9 + 1 ms; cell 1 after cell 0's spike + 5 ms delay
    assert 10 < spikes["cell0"][0] < 14
    assert spikes["cell0"][0] + 5 < spikes["cell1"][0] < spikes["cell0"][0] + 9
    assert list(result["traces"]) == ["t", "cell[0].soma(0.5)", "cell[0].dend(0.5)", "cell[1].soma(0.5)"]
    assert max(result["traces"]["cell[1].soma(0.5)"]) > 0


def test_a_failed_write_keeps_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.json"
    out.write_text("previous results\n")

    def fail_half_way(results: object, model: str, f: object) -> None:
        f.write('{"version": ')  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_write_json", fail_half_way)
    code, _, stderr = _run(capsys, HH_SOMA, "-o", out)
    assert code == 1
    assert stderr == f"cablesim-run: error: cannot write {out}: No space left on device\n"
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


# --- bad input: exit 2, one line on stderr, no output file ---------------------------------------------------------

BAD_DOCUMENTS = {
    "unknown key": (
        {"sections": [_soma(diameter=3)]},
        (
            "sections[0].diameter: unknown key 'diameter'; did you mean 'diam'? "
            "(allowed: name, L, diam, nseg, Ra, cm, parent, mechanisms)"
        ),
    ),
    "unknown top-level key": (
        {"sections": [_soma()], "iclamp": []},
        (
            "iclamp: unknown key 'iclamp'; did you mean 'iclamps'? "
            "(allowed: description, sections, iclamps, synapses, netstims, netcons, record, run)"
        ),
    ),
    "unknown section in a location": (
        {"sections": [_soma()], "record": ["axon(0.5)"]},
        "record[0]: no section named 'axon' (sections: soma)",
    ),
    "bad location syntax": (
        {"sections": [_soma()], "iclamps": [{"at": "soma[0.5]", "amp": 0.1}]},
        "iclamps[0].at: bad location 'soma[0.5]': expected section(x) such as 'soma(0.5)'",
    ),
    "x out of range": (
        {"sections": [_soma()], "record": ["soma(1.5)"]},
        "record[0]: bad location 'soma(1.5)': x must be in [0, 1], got 1.5",
    ),
    "negative diam": (
        {"sections": [_soma(), {"name": "dend", "diam": -1, "parent": "soma(1)"}]},
        "sections[1].diam: diam must be > 0 um, got -1",
    ),
    "unknown mechanism": (
        {"sections": [_soma(mechanisms={"kdr": {}})]},
        "sections[0].mechanisms.kdr: unknown mechanism 'kdr' (known: hh, pas)",
    ),
    "unknown mechanism parameter": (
        {"sections": [_soma(mechanisms={"pas": {"gbar": 0.001}})]},
        "sections[0].mechanisms.pas.gbar: unknown parameter 'gbar' (known: g, e)",
    ),
    "parent loop": (
        {"sections": [{"name": "a", "parent": "b(1)"}, {"name": "b", "parent": "a(1)"}]},
        "sections[1].parent: sections form a loop (b -> a -> b); the parents must lead to a root section",
    ),
    "own parent": (
        {"sections": [{"name": "a", "parent": "a(1)"}]},
        "sections[0].parent: section 'a' cannot be its own parent",
    ),
    "string for a number": (
        {"sections": [_soma(L="18.8")]},
        'sections[0].L: L must be a number, got string "18.8"',  # as Section(L="18.8") says (tests/test_api.py)
    ),
    "string for nseg": (
        {"sections": [_soma(nseg="3")]},
        'sections[0].nseg: nseg must be a number, got string "3"',
    ),
    "boolean for a number": (
        {"sections": [_soma(mechanisms={"hh": {"gnabar": True}})]},
        "sections[0].mechanisms.hh.gnabar: gnabar must be a number, got boolean true",
    ),
    "fractional nseg": (
        {"sections": [_soma(nseg=2.5)]},
        "sections[0].nseg: expected a whole number, got 2.5",
    ),
    "unknown synapse": (
        {
            "sections": [_soma()],
            "synapses": [{"name": "syn", "at": "soma(0.5)"}],
            "netcons": [{"source": "soma(0.5)", "target": "sny"}],
        },
        "netcons[0].target: no synapse or netstim named 'sny' (synapses: syn; netstims: none)",
    ),
    "unknown netstim": (
        {"sections": [_soma()], "netcons": [{"source": "stim"}]},
        (
            "netcons[0].source: no netstim named 'stim' (netstims: none); "
            "a source is a netstim name or a location such as 'soma(0.5)'"
        ),
    ),
    "section as a source": (
        {"sections": [_soma()], "netcons": [{"source": "soma", "threshold": 0}]},
        "netcons[0].source: 'soma' is a section; give a location such as 'soma(0.5)'",
    ),
    "core range check on a point process": (
        {"sections": [_soma()], "synapses": [{"name": "syn", "at": "soma(0.5)", "tau": 0}]},
        "synapses[0].tau: tau must be > 0 ms, got 0",
    ),
    "unknown method": (
        {"sections": [_soma()], "run": {"tstop": 1, "method": "cnexp"}},
        "run.method: unknown method 'cnexp' (known: backward-euler, crank-nicolson)",
    ),
    "not an object": ([], "(top level): expected an object, got array"),
    # issue 18: per-segment parameters, named iclamps, NetStim targets, recordings of any variable, record_dt
    "per-segment values for another nseg": (
        {"sections": [_soma(nseg=3, mechanisms={"hh": {"gnabar": [0.1, 0.2]}})]},
        "sections[0].mechanisms.hh.gnabar: expected 3 values (one per segment, nseg = 3), got 2",
    ),
    "a per-segment value out of range": (
        {"sections": [_soma(nseg=2, mechanisms={"pas": {"g": [0.001, -1]}})]},
        "sections[0].mechanisms.pas.g[1]: g must be >= 0 S/cm2, got -1",
    ),
    "a per-segment value that is no number": (
        {"sections": [_soma(nseg=2, mechanisms={"hh": {"ena": [50, "55"]}})]},
        'sections[0].mechanisms.hh.ena[1]: ena must be a number, got string "55"',
    ),
    "an unknown variable": (
        {"sections": [_soma()], "record": ["soma(0.5).m"]},
        "record[0]: unknown variable 'm' in 'soma(0.5).m' (known: v, ina, ik, ena, ek, m_hh, h_hh, n_hh, gna_hh, "
        "gk_hh, il_hh, i_pas)",
    ),
    "a gate where hh is not inserted": (
        {"sections": [_soma()], "record": ["soma(0.5).m_hh"]},
        "record[0]: mechanism 'hh' is not inserted in section 'soma'",
    ),
    "a variable of an unknown point process": (
        {"sections": [_soma()], "record": ["syn.g"]},
        "record[0]: no synapse or iclamp named 'syn' (synapses: none; iclamps: none)",
    ),
    "a variable an iclamp does not have": (
        {"sections": [_soma()], "iclamps": [{"name": "stim", "at": "soma(0.5)"}], "record": ["stim.g"]},
        "record[0]: IClamp 'stim' has no variable 'g' (known: i)",
    ),
    "a record that is neither": (
        {"sections": [_soma()], "record": ["soma"]},
        "record[0]: bad record 'soma': expected a location such as 'soma(0.5)', 'soma(0.5).m_hh' or 'syn.g'",
    ),
    "the same variable twice": (
        {"sections": [_soma(mechanisms={"hh": {}})], "record": ["soma(0.5).ina", "soma( 0.5 ).ina"]},
        "record[1]: soma( 0.5 ).ina is already recorded (as soma(0.5).ina)",
    ),
    "record_dt not above 0": (
        {"sections": [_soma()], "run": {"record_dt": 0}},
        "run.record_dt: record_dt must be > 0 ms, got 0",
    ),
    "a target that is a synapse and a netstim": (
        {
            "sections": [_soma()],
            "synapses": [{"name": "x", "at": "soma(0.5)"}],
            "netstims": [{"name": "x"}],
            "netcons": [{"source": "soma(0.5)", "target": "x"}],
        },
        "netcons[0].target: 'x' names a synapse and a netstim; rename one of them",
    ),
}


@pytest.mark.parametrize("document, message", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_load_model_errors_name_the_json_path(document: object, message: str) -> None:
    with pytest.raises(ModelFileError, match=f"^{re.escape(message)}$"):
        load_model(document)  # type: ignore[arg-type]


@pytest.mark.parametrize("document, message", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_cli_reports_bad_models_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, message: str
) -> None:
    model = tmp_path / "model.json"
    model.write_text(json.dumps(document))
    code, stdout, stderr = _run(capsys, model, "-o", tmp_path / "out.json")
    assert (code, stdout) == (2, "")
    assert stderr == f"cablesim-run: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.json"
    code, _, stderr = _run(capsys, missing, "-o", tmp_path / "out.json")
    assert code == 2
    assert stderr == f"cablesim-run: error: {missing}: cannot read model file: No such file or directory\n"
    assert list(tmp_path.iterdir()) == []


def test_invalid_json_reports_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.json"
    model.write_text('{\n  "sections": [\n    {"name": "soma",}\n  ]\n}\n')
    code, _, stderr = _run(capsys, model, "-o", tmp_path / "out.json")
    assert code == 2
    assert re.fullmatch(
        rf"cablesim-run: error: {re.escape(str(model))}: invalid JSON at line 3, column 21: "
        r"Expecting property name enclosed in double quotes\n",
        stderr,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_duplicate_keys_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.json"
    model.write_text('{"sections": [{"name": "soma", "L": 10, "L": 20}], "run": {"tstop": 1}}')
    code, _, stderr = _run(capsys, model)
    assert code == 2
    assert stderr == f"cablesim-run: error: {model}: invalid model file: key 'L' appears twice in one object\n"


def test_tstop_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"sections": [_soma()]}))
    assert _run(capsys, model) == (
        2,
        "",
        "cablesim-run: error: run.tstop: required; set it in the model file or pass --tstop MS\n",
    )
    code, stdout, _ = _run(capsys, model, "--tstop", "1")
    assert code == 0 and "40 steps of 0.025 ms to 1 ms" in stdout


def test_refuses_to_overwrite_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.json"
    shutil.copy(HH_SOMA, model)
    code, _, stderr = _run(capsys, model, "-o", model)
    assert code == 2
    assert stderr == f"cablesim-run: error: refusing to overwrite the model file {model} with results\n"
    assert json.loads(model.read_text()) == json.loads(HH_SOMA.read_text())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dt", "0"], "argument --dt: must be > 0 ms, got 0"),
        (["--tstop", "-1"], "argument --tstop: must be >= 0 ms, got -1"),
        (["--format", "csv"], "--format needs -o OUT"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, stdout, stderr = _run(capsys, HH_SOMA, *argv)
    assert (code, stdout) == (2, "")
    assert stderr.startswith("usage: cablesim-run")
    assert stderr.endswith(f"cablesim-run: error: {message}\n")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(capsys, "--help")
    assert code == 0
    assert stdout.startswith("usage: cablesim-run [-h] [-o OUT] [--format {json,csv}]")
    assert "docs/model-format.md" in stdout
    assert ".spikes.csv" in stdout
    code, stdout, _ = _run(capsys, "--version")
    assert code == 0
    assert re.fullmatch(r"cablesim-run \S+\n", stdout)


# --- runs too large, large recordings and Ctrl-C ---------------------------------------------------------------------

STEP_LIMIT = "one run may take at most 1099511627776 (2^40): use a larger dt or a shorter tstop"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tstop", "1e308"], f"tstop = 1e+308 ms with dt = 0.025 ms is more than 1e308 steps; {STEP_LIMIT}"),
        (["--dt", "1e-300"], f"tstop = 40 ms with dt = 1e-300 ms is 4e+301 steps; {STEP_LIMIT}"),
        (["--tstop", "1e12"], f"tstop = 1e+12 ms with dt = 0.025 ms is 4e+13 steps; {STEP_LIMIT}"),
    ],
)
def test_a_run_too_large_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, stdout, stderr = _run(capsys, HH_SOMA, "-o", tmp_path / "out.json", *argv)
    assert (code, stdout) == (2, "")
    assert stderr == f"cablesim-run: error: run: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_recording_larger_than_memory_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = _run(capsys, HH_SOMA, "--tstop", "2.5e10")
    assert (code, stdout) == (2, "")
    assert re.fullmatch(
        r"cablesim-run: error: run: the recording would not fit in memory: 1000000000000 steps of 0.025 ms to "
        r"2.5e\+10 ms, recording t and 1 trace: 14.6 TiB \(1.6e\+13 bytes\), more than this machine's .*; "
        r"record fewer locations, use a larger dt or a shorter tstop\n",
        stderr,
    )


def test_a_large_recording_warns_in_one_line_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "LARGE_RECORDING_BYTES", 2**14)  # hh_soma records 25616 bytes
    with warnings.catch_warnings():
        warnings.simplefilter("default", cablesim.LargeRecordingWarning)  # as outside pytest, which makes it an error
        code, stdout, stderr = _run(capsys, HH_SOMA, "-o", tmp_path / "out.json")
    assert code == 0 and stdout.startswith("wrote ")
    assert re.fullmatch(
        r"cablesim-run: warning: large recording: 1600 steps of 0.025 ms to 40 ms, recording t and 1 trace: "
        r"25 KiB \(25616 bytes\), above [\d.e-]+ GiB; record fewer locations, use a larger dt or a shorter "
        r"tstop if that is not meant\n",
        stderr,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the run start")
def test_ctrl_c_during_a_run_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    model = tmp_path / "long.json"  # about a minute uninterrupted
    model.write_text(
        json.dumps(
            {"sections": [_soma(nseg=1001, mechanisms={"hh": {}})], "record": ["soma(0.5)"], "run": {"tstop": 25000}}
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cablesim", str(model), "-o", str(tmp_path / "out.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as in a terminal, not ignored as in a background job (which its children would inherit)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - one call, no locks
    )
    try:
        deadline = time.monotonic() + 60
        while _cpu_seconds(process.pid) < 1.0:  # imports and loading take a quarter of that: it is running
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, stdout, stderr) == (130, "", "cablesim-run: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.json"]


# --- the library API ---------------------------------------------------------------------------------------------


def test_load_model_applies_neuron_defaults() -> None:
    loaded = load_model(
        {
            "sections": [_soma(mechanisms={"hh": {"gnabar": 0.2}, "pas": {}})],
            "netstims": [{"name": "stim"}],
            "netcons": [{"source": "soma(0.5)"}, {"source": "stim", "name": "stim"}],
        }
    )
    assert isinstance(loaded, LoadedModel)
    model, settings, outputs = loaded
    assert settings == RunSettings(tstop=None, dt=0.025, v_init=-65, celsius=6.3, method="backward-euler")
    soma = model.section("soma")
    assert (soma.L, soma.diam, soma.nseg, soma.Ra, soma.cm) == (100, 500, 1, 35.4, 1)
    assert (soma.hh.gnabar, soma.hh.gkbar, soma.pas.g, soma.pas.e) == (0.2, 0.036, 0.001, -70)
    assert list(outputs.spikes) == ["netcons[0]", "stim"]
    first = outputs.spikes["netcons[0]"]
    assert (first.threshold, first.delay, first.weight) == (10, 1, 0)
    assert outputs.traces == {}


def test_model_file_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^sections: required key is missing$") as info:
        load_model({})
    assert isinstance(info.value, ModelFileError)
    assert info.value.where == "sections"


# --- as installed ---------------------------------------------------------------------------------------------------


def test_python_dash_m_cablesim(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "cablesim", str(HH_SOMA), "-o", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(out.read_text())["spikes"] == {"soma": [pytest.approx(NEURON_SPIKE_MS, abs=1e-9)]}

    done = subprocess.run(
        [sys.executable, "-m", "cablesim", str(tmp_path / "missing.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"cablesim-run: error: {tmp_path / 'missing.json'}: cannot read model file: No such file or directory\n"
    )


def test_installed_console_script(tmp_path: Path) -> None:
    script = shutil.which("cablesim-run", path=sysconfig.get_path("scripts"))
    if script is None:
        pytest.skip("the cablesim-run script is not installed next to this Python")
    done = subprocess.run(
        [script, str(HH_SOMA)], check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "spikes soma: 1 spike at 7.625 ms" in done.stdout.splitlines()


def test_recordings_per_segment_values_and_netstim_targets_in_json_are_the_apis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    code, _, stderr = _run(capsys, GATES_AND_CURRENTS, "-o", out)
    assert (code, stderr) == (0, "")
    result = json.loads(out.read_text())
    assert result["record_dt"] == 0.1
    # The same model through the Python API.
    model = cablesim.Model()
    soma = model.Section("soma", L=18.8, diam=18.8, Ra=123).insert("hh")
    dend = model.Section("dend", L=200, diam=1, nseg=5, Ra=123).insert("hh")
    for seg, gnabar in zip(dend, (0.12, 0.09, 0.06, 0.03, 0.0)):
        seg.hh.gnabar, seg.ena = gnabar, 55
    dend.connect(soma(1))
    stim = model.IClamp(soma(0.5), 5, 1, 0.3)
    synapse = model.ExpSyn(dend(0.9), 2, 0)
    model.NetCon(model.NetStim(20, 1), synapse, delay=1, weight=0.01)
    detector = model.NetCon(soma(0.5), None, threshold=0)
    refs = [soma(0.5)._ref_v] + [getattr(soma(0.5), f"_ref_{name}") for name in ("m_hh", "h_hh", "n_hh", "ina", "ik")]
    traces = [model.record(ref, 0.1) for ref in [*refs, dend(0.9)._ref_v, stim._ref_i, synapse._ref_g]]
    model.run(40)
    assert result["traces"]["t"] == traces[0].t.tolist() and len(traces[0].t) == 401
    assert [result["traces"][name] for name in list(result["traces"])[1:]] == [t.values.tolist() for t in traces]
    assert result["spikes"]["soma"] == detector.spike_times.tolist() and len(detector.spike_times) == 2
    assert result["spikes"]["kick"] == [20.0]


def test_a_netstim_named_as_a_target_is_started_by_events() -> None:
    loaded = load_model(
        {
            "sections": [_soma()],
            "netstims": [
                {"name": "trigger", "start": 2, "number": 1},
                {"name": "burst", "start": -1, "number": 3, "interval": 2},
            ],
            "netcons": [{"source": "trigger", "target": "burst", "weight": 1}, {"name": "out", "source": "burst"}],
            "run": {"tstop": 20},
        }
    )
    loaded.model.run(20)
    assert loaded.outputs.spikes["out"].spike_times.tolist() == [3, 5, 7]
