"""wheelkit.check.jobs and cli: what `nox -s test_wheels -- ...` tests with which interpreter (a wheel, a folder, the
wheelhouse and its variant folders, a zip of artifacts, a pip spec), its arguments, and the run over every job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
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


def test_wheels_are_tested_at_once_up_to_the_jobs_asked_each_with_its_log_and_reported_in_job_order(tmp_path,
                                                                                                    monkeypatch,
                                                                                                    check_wheels):
    wheelhouse = tmp_path / "wheelhouse"
    for variant in ("", "v1", "v2", "v3", "v4"):
        check_wheels.tiny(wheelhouse / variant)
    running, most = set(), [0]
    lock = threading.Lock()

    def fake_test(self):
        with lock:
            running.add(self.job.label)
            most[0] = max(most[0], len(running))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(self.job.label)
        # The first job ends last; v2's job breaks (a bug in a check, not a failed check).
        time.sleep(0.3 if "/" not in self.job.label else 0.05)
        with lock:
            running.discard(self.job.label)
        if self.job.label.startswith("v2/"):
            raise RuntimeError("a bug in a check")
        return WheelReport("3.x", self.job.label, results=[CheckResult("tags", PASSED, 0.0)], wheel=self.job.wheel,
                           log=self.log_path)

    monkeypatch.setattr(WheelTester, "test", fake_test)
    monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path))  # the testers' work folders, never removed by the fake
    options = Options(None, None, True, False, wheelhouse, jobs=2, logs=tmp_path / "logs")
    reports = run_wheel_tests(options, root=tmp_path, progress=lambda line: None, interpreters=lambda: [HERE])
    jobs = resolve_jobs(None, None, wheelhouse=wheelhouse, unpack_dir=tmp_path / "u", interpreters=lambda: [HERE])
    assert [r.label for r in reports] == [j.label for j in jobs]  # the order of the jobs, not of their ends
    assert most[0] == 2
    assert sorted(p.read_text() for p in (tmp_path / "logs").iterdir()) == sorted(j.label for j in jobs)
    broken = next(r for r in reports if r.label.startswith("v2/"))
    assert [(c.name, c.status, c.detail) for c in broken.results] == [("job", FAILED, "RuntimeError: a bug in a check")]
    assert f"the job's log: {tmp_path / 'logs'}" in failure_summary(reports)
    assert [r.label for r in reports if not r.failed] == [j.label for j in jobs if not j.label.startswith("v2/")]


def test_one_job_per_core_by_default_and_jobs_must_be_positive():
    assert parse_test_args([]).jobs is None
    assert parse_test_args(["--jobs", "3", "--logs", "here"]) == Options(None, None, True, False, None, 3, Path("here"))
    with pytest.raises(WheelkitError, match="--jobs must be at least 1, got 0"):
        parse_test_args(["-j", "0"])
    assert cli.cores() >= 1


def processes_naming(text: str) -> list[int]:
    """The processes whose command line names text."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_an_interrupt_stops_every_job_and_leaves_no_process_and_no_work_folder(tmp_path, check_wheels):
    """Two wheels whose import hangs, tested at once: Ctrl-C (SIGINT) ends the run with 130, the hanging imports are
    stopped and both work folders are gone."""
    wheelhouse = tmp_path / "wheelhouse"
    hang = {"cablesim/__init__.py": b"import time\ntime.sleep(60)\n"}
    for variant in ("", "coreneuron"):
        check_wheels.tiny(wheelhouse / variant, extra=hang)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "PYTHONPATH": str(Path(cli.__file__).parents[2])}
    run = subprocess.Popen([sys.executable, "-m", "wheelkit", "test", "--wheelhouse", str(wheelhouse), "--jobs", "2",
                            "--logs", str(tmp_path / "logs")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(hanging := [p for p in processes_naming(str(temporary)) if p in processes_naming("import cablesim")]
                  ) < 2:  # both jobs' import checks have started (and hang)
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[0]
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, output
    assert "wheel tests interrupted (SIGINT)" in output
    time.sleep(0.5)
    assert not [p for p in hanging if Path(f"/proc/{p}").exists()]
    assert list(temporary.iterdir()) == []
