"""wheelkit.check.jobs and cli: what `nox -s test_wheels -- ...` tests with which interpreter (a wheel, a folder, the
wheelhouse and its variant folders, a zip of artifacts, a pip spec), its arguments, and the run over every job."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.check import cli
from wheelkit.check.cli import Options, parse_test_args, run_wheel_tests
from wheelkit.check.jobs import resolve_jobs
from wheelkit.check.report import failure_summary
from wheelkit.check.results import FAILED, PASSED, CheckResult, WheelReport
from wheelkit.check.tester import Tools, WheelTester
from wheelkit.interpreters import Interpreter, probe

HERE = probe(Path(sys.executable))  # this Python, with the tags it installs


def by_name(report: WheelReport) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


@pytest.mark.slow
@pytest.mark.slow
def test_a_pip_spec_against_a_local_index(tmp_path, check_wheels, start_index):
    index = start_index()
    served = check_wheels.tiny(index.packages)
    spec = f"-i {index.url}simple cablesim==1.0"
    (job,) = resolve_jobs(sys.executable, spec, wheelhouse=tmp_path, unpack_dir=tmp_path / "unpacked")
    assert job.spec == ("-i", f"{index.url}simple", "cablesim==1.0")
    tester = WheelTester(job, tools=Tools(check_wheel_contents=None), progress=lambda line: None,
                         select=("tags", "RECORD", "install", "import", "version"), workdir=tmp_path / "work")
    report = tester.test()
    results = by_name(report)
    assert not report.failed, failure_summary([report])
    assert results["download"] == (PASSED, f"{served.name} from {spec}")
    assert results["version"] == (PASSED, "1.0")
    assert report.label == spec


def test_a_zip_of_artifacts_is_unpacked_safely(tmp_path, check_wheels):
    wheel = check_wheels.tiny(tmp_path / "built")
    other = check_wheels.tiny(tmp_path / "built", f"{check_wheels.OTHER_PY}-{check_wheels.OTHER_PY}-"
                                                  f"{check_wheels.PLATFORM}")
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


def test_a_folder_and_the_wheelhouse_give_each_wheel_its_interpreter(tmp_path, check_wheels):
    mine = check_wheels.tiny(tmp_path)
    other = check_wheels.tiny(tmp_path, f"{check_wheels.OTHER_PY}-{check_wheels.OTHER_PY}-{check_wheels.PLATFORM}")
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


def test_the_wheelhouse_includes_its_variant_folders(tmp_path, check_wheels):
    wheelhouse = tmp_path / "wheelhouse"
    default = check_wheels.tiny(wheelhouse)
    variant = check_wheels.tiny(wheelhouse / "coreneuron")
    jobs = resolve_jobs(None, None, wheelhouse=wheelhouse, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert sorted((j.wheel, j.label) for j in jobs) == sorted(
        [(default, default.name), (variant, f"coreneuron/{variant.name}")])


def test_the_wheelhouse_means_its_newest_build(tmp_path, check_wheels):
    wheelhouse = tmp_path / "wheelhouse"
    newest = check_wheels.tiny(wheelhouse)
    info = "cablesim-0.9.dist-info"
    files = {"cablesim/__init__.py": b"__version__ = '0.9'\n",
             f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 0.9\n"}
    older = check_wheels.synthesise(wheelhouse, "0.9", files)
    jobs = resolve_jobs(None, None, wheelhouse=wheelhouse, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert [j.wheel for j in jobs] == [newest] and older.exists()


def test_a_relative_folder_with_a_variant_folder_gives_absolute_wheels(tmp_path, monkeypatch, check_wheels):
    """`nox -s test_wheels -- 3.11 wheelhouse/` (the README's form) with wheelhouse/coreneuron/ present: the checks
    run in an empty folder of their own, so every wheel path must be absolute before they change folders."""
    house = tmp_path / "wheelhouse"
    check_wheels.tiny(house)
    check_wheels.tiny(house / "coreneuron")
    monkeypatch.chdir(tmp_path)
    for target in ("wheelhouse/", "wheelhouse", "./wheelhouse/coreneuron"):
        jobs = resolve_jobs(sys.executable, target, wheelhouse=Path("wheelhouse"), unpack_dir=Path("u"))
        assert jobs and all(job.wheel.is_absolute() and job.wheel.is_file() for job in jobs), target
    jobs = resolve_jobs(sys.executable, None, wheelhouse=Path("wheelhouse"), unpack_dir=Path("u"))
    assert len(jobs) == 2 and all(job.wheel.is_absolute() for job in jobs)


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_failed_run_leaves_no_stray_folder_and_names_what_it_keeps(tmp_path, monkeypatch, as_zip, check_wheels):
    monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    wheel = check_wheels.tiny(tmp_path / "wheels")
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
