"""wheels.yml, run here before it reaches GitHub: the Linux jobs (matrix, the linux-x86_64 build, sdist, publish) in
the workflow's order, each `run:` step exactly as written, with bash, in a fresh clone of a copy of this checkout,
with the workflow's and the step's `env:` evaluated for a concrete event: a manual release with upload=true
(workflow_dispatch, type=release), under which every job and every Linux step runs, and the scheduled nightly
(`--nightly`, no sdist job, no release check).

- Every `${{ ... }}` expression and every `if:` of the file is evaluated from the explicit tables below: an
  expression or condition they do not know fails the test, so nothing new in wheels.yml goes unrun by accident.
- `pipx run ...` runs pipx itself, installed from PyPI into a venv of this test (its own PIPX_HOME).
- The build job's `invoke image.build --arch x86_64` and `invoke image.run --arch x86_64 -- nox -s build_linux`
  run unchanged against the bullseye stand-in of tests/test_image.py (the same image, the same ccache folder),
  selected by the variables CABLESIM_IMAGE_TAG, _FILE, _BASE, _CCACHE_DIR (docs/build-image.md): quay.io's manylinux
  image cannot be had here. So the build makes the stand-in's one wheel (cp39, manylinux_2_31), not cp39-cp315.
- `uses:` steps are emulated only as far as later steps need them: checkout is a clone of the copy (full with
  `fetch-depth: 0`, else one commit without tags), setup-python puts this machine's CPythons on PATH (3.14,
  3.14t and 3.15 are not here), upload-/download-artifact copy files through a folder per artifact, and PyPI's
  publish action is not run: what it would upload (dist/) is checked to be exactly what was tested.
- A release's check step (`nox -s upload -- --repository pypi --dry-run dist/`) runs too, and must refuse this
  release for one reason only: the matrix wheels the stand-in cannot build (cp310 and up, aarch64, macOS).

The copy is tagged (a release is built from its tag; the nightly runs one commit after a release) so that
setuptools-scm gives a clean version. Each step's output is kept in logs/ of the test's temporary folder. Skips
without podman, debootstrap, root or a CPython 3.9 here, unless CABLESIM_REQUIRE_WORKFLOW_TEST=1 (.ci/run sets it).
With the stand-in image there, each event takes about 30-55 s (a cold ccache adds ~10 s); the first run on a machine
also builds the image, as test_image.py would.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from conftest import (
    ROOT,
    STAND_IN,
    Steps,
    copy_of_this_checkout,
    require,
    require_container_tools,
    stand_in_ccache,
    stand_in_image,
)

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.interpreters import discover  # noqa: E402

WHEELS = ROOT / ".github" / "workflows" / "wheels.yml"
REQUIRE = "CABLESIM_REQUIRE_WORKFLOW_TEST"
RELEASE_TAG = "99.0.0"  # the release the emulated dispatch builds (Event.tagged: which commit carries it)
PLATFORM = "linux-x86_64"  # the build job's one matrix entry that can run here
STEP_TIMEOUT = 20 * 60  # [s]
# The jobs that run on Linux, in the order they run here (build needs matrix; publish needs build and sdist).
JOBS = ["matrix", "build", "sdist", "publish"]
# The only `run:` of the file that cannot run here: the macOS build (its `if:` is false on a Linux platform).
NOT_RUN_HERE = {"pipx run nox -s build_osx -- $NIGHTLY"}


@dataclass(frozen=True)
class Event:
    """One way the workflow is started, and what differs between them here."""

    name: str
    context: dict[str, Any]  # github.event_name and the inputs (empty for a schedule)
    tagged: str  # the commit of the copy that carries RELEASE_TAG: a release is built from its tag, a nightly after it
    not_run: frozenset[str]  # the `run:` steps whose `if:` (or job's) is false for this event


# A manual release with upload (every Linux step runs) and the scheduled nightly (no sdist, no release check).
RELEASE = Event("release", {"github.event_name": "workflow_dispatch", "inputs.type": "release", "inputs.upload": True,
                            "inputs.ref": ""}, "HEAD", frozenset(NOT_RUN_HERE))
NIGHTLY = Event("nightly", {"github.event_name": "schedule", "inputs.type": "", "inputs.upload": "", "inputs.ref": ""},
                "HEAD~1", frozenset({*NOT_RUN_HERE, "pipx run nox -s sdist",
                                     "pipx run nox -s tested -- record wheelhouse/ --to build/tested/sdist.json",
                                     "pipx run nox -s upload -- --repository pypi --dry-run dist/"}))


def expressions(event: Event, matrix: dict[str, str], outputs: dict[str, str]) -> dict[str, Any]:
    """Every `${{ ... }}` of wheels.yml, evaluated by hand for `event` (`matrix`: the build job's entry; `outputs`:
    the matrix job's step outputs)."""
    github_event, kind = event.context["github.event_name"], event.context["inputs.type"]
    return {
        "github.event_name": github_event,
        "github.ref": "refs/heads/main",
        "github.event_name == 'pull_request'": github_event == "pull_request",
        "inputs.ref": event.context["inputs.ref"],
        "(github.event_name == 'schedule' || inputs.type == 'nightly') && '--nightly' || ''":  # NIGHTLY
            "--nightly" if github_event == "schedule" or kind == "nightly" else "",
        "steps.matrix.outputs.include": outputs.get("include", ""),
        "fromJSON(needs.matrix.outputs.include)": json.loads(outputs["include"]) if "include" in outputs else None,
        "matrix.platform": matrix.get("platform", ""),
        "matrix.arch": matrix.get("arch", ""),
        "matrix.runner": matrix.get("runner", ""),
    }


def conditions(event: Event, matrix: dict[str, str]) -> dict[str, bool]:
    """Every `if:` of wheels.yml (whitespace folded), evaluated by hand for `event` on the build entry `matrix`,
    every job before having succeeded (the test stops at a failure)."""
    github_event, kind = event.context["github.event_name"], event.context["inputs.type"]
    return {
        "startsWith(matrix.platform, 'linux-')": matrix.get("platform", "").startswith("linux-"),
        "startsWith(matrix.platform, 'macos-')": matrix.get("platform", "").startswith("macos-"),
        "failure()": False,
        "github.event_name != 'schedule' && inputs.type != 'nightly'":  # the sdist job
            github_event != "schedule" and kind != "nightly",
        "always() && needs.build.result == 'success' && needs.sdist.result != 'failure' && "  # the publish job
        "(github.event_name == 'schedule' || (github.event_name == 'workflow_dispatch' && inputs.upload))":
            github_event == "schedule" or (github_event == "workflow_dispatch" and event.context["inputs.upload"] is True),
        "github.event_name == 'workflow_dispatch' && inputs.type == 'release'":  # the release's check step
            github_event == "workflow_dispatch" and kind == "release",
    }


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)


def fold(text: str) -> str:
    return " ".join(text.split())


def substitute(text: str, table: dict[str, Any]) -> str:
    """`text` with each `${{ expr }}` replaced by its value (true/false as GitHub writes booleans)."""

    def value(match: re.Match[str]) -> str:
        found = table[fold(match.group(1))]
        return str(found).lower() if isinstance(found, bool) else str(found)

    return EXPRESSION.sub(value, text)


def every_condition(workflow: dict[str, Any]) -> list[str]:
    jobs = workflow["jobs"].values()
    return [fold(str(x["if"])) for job in jobs for x in [job, *job.get("steps", [])] if "if" in x]


def test_every_expression_and_condition_of_the_workflow_is_in_the_tables():
    """Fast, and the first to fail when wheels.yml gains an expression or a condition this file cannot evaluate."""
    yaml = pytest.importorskip("yaml")
    text = WHEELS.read_text()
    workflow = yaml.safe_load(text)
    known = expressions(RELEASE, {}, {})
    unknown = sorted({fold(e) for e in EXPRESSION.findall(text)} - set(known))
    assert not unknown, f"wheels.yml has expressions tests/test_workflow_run.py cannot evaluate: {unknown}"
    unknown = sorted(set(every_condition(workflow)) - set(conditions(RELEASE, {})))
    assert not unknown, f"wheels.yml has `if:` conditions tests/test_workflow_run.py cannot evaluate: {unknown}"
    assert set(workflow["jobs"]) == set(JOBS), "a new job: add it to JOBS (and run it) or say why it cannot run here"
    assert substitute("a-${{ matrix.arch }}-${{ github.event_name == 'pull_request' }}", expressions(
        RELEASE, {"arch": "x86_64"}, {})) == "a-x86_64-false"
    with pytest.raises(KeyError):
        substitute("${{ github.sha }}", known)  # unknown: loud


# --- the run ------------------------------------------------------------------------------------------------------
class Runner:
    """The runner's side of GitHub Actions for one workflow run: workspaces, artifacts, the environment of steps."""

    def __init__(self, event: Event, tmp: Path, origin: Path, pipx_bin: Path, base_env: dict[str, str]) -> None:
        self.event, self.tmp, self.origin, self.base_env = event, tmp, origin, base_env
        self.pipx_bin = pipx_bin
        self.artifacts = tmp / "artifacts"
        self.ran: list[tuple[str, str]] = []  # (job, the run: text) of every step run
        self.outputs: dict[str, str] = {}  # the matrix job's step outputs
        self.timings: dict[str, float] = {}
        self.logs: dict[str, str] = {}
        self.missing_pythons: list[str] = []  # asked of setup-python, not on this machine

    def workspace(self, job: str) -> Path:
        return self.tmp / "work" / job

    # - uses: the emulated actions
    def checkout(self, job: str, options: dict[str, Any]) -> None:
        depth = int(options.get("fetch-depth", 1))
        assert options.get("persist-credentials") is False
        clone = ["git", "clone", "--quiet", f"file://{self.origin}", str(self.workspace(job))]
        if depth:  # actions/checkout fetches that many commits, and no tags
            clone[3:3] = ["--depth", str(depth), "--no-tags"]
        subprocess.run(clone, check=True, capture_output=True)

    def setup_python(self, options: dict[str, Any]) -> list[Path]:
        """The asked-for CPythons this machine has (wheelkit finds them: pyenv, PATH), each one's folder on PATH;
        the others are reported missing."""
        found = {i.dotted: i for i in discover()}  # 3.14t: free-threaded
        folders = []
        for version in str(options["python-version"]).split():
            if version in found:
                folders.append(found[version].path.parent)
            else:
                self.missing_pythons.append(version)
        return folders

    def upload(self, job: str, options: dict[str, Any]) -> None:
        folder = self.artifacts / options["name"]
        files = [p for pattern in str(options["path"]).split() for p in self.workspace(job).glob(pattern)
                 if p.is_file()]
        if options.get("if-no-files-found") == "error":
            assert files, f"{job}: upload-artifact {options['name']} found no {options['path']}"
        assert not folder.exists(), f"artifact {options['name']} uploaded twice"
        folder.mkdir(parents=True)
        for path in files:  # each path is one glob in one folder: the artifact holds the files by name
            shutil.copy2(path, folder / path.name)

    def download(self, job: str, options: dict[str, Any]) -> None:
        assert options.get("merge-multiple") is True
        target = self.workspace(job) / options["path"]
        target.mkdir(parents=True, exist_ok=True)
        for artifact in sorted(self.artifacts.iterdir()):
            if fnmatch.fnmatchcase(artifact.name, options["pattern"]):
                for path in artifact.iterdir():
                    shutil.copy2(path, target / path.name)

    # - run:
    def run(self, job: str, name: str, script: str, env: dict[str, str], python_bins: list[Path],
            output_file: Optional[Path]) -> tuple[int, str]:
        environ = dict(self.base_env)
        environ["PATH"] = os.pathsep.join([*map(str, reversed(python_bins)), str(self.pipx_bin),
                                           self.base_env["PATH"]])
        environ.update(env)
        if output_file is not None:
            environ["GITHUB_OUTPUT"] = str(output_file)
        started = time.perf_counter()
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=self.workspace(job), env=environ, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=STEP_TIMEOUT)
        self.timings[f"{job}: {name}"] = time.perf_counter() - started
        self.ran.append((job, script))
        output = ANSI.sub("", done.stdout + done.stderr)  # the workflow sets FORCE_COLOR
        self.logs[f"{job}: {name}"] = output
        log = self.tmp / "logs" / f"{len(self.ran):02d}-{job}-{re.sub(r'[^A-Za-z0-9]+', '-', name)}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(f"$ {script}\n{output}")  # kept with pytest's last temporary folders
        return done.returncode, output


def run_job(runner: Runner, workflow: dict[str, Any], job_name: str, matrix: dict[str, str],
            expect_failure: dict[str, str]) -> None:
    """One job's steps in order: `if:` from the table, `run:` with bash, `uses:` emulated."""
    job = workflow["jobs"][job_name]
    table = expressions(runner.event, matrix, runner.outputs)
    runs_on = substitute(str(job["runs-on"]), table)
    assert runs_on.startswith("ubuntu-") and not runs_on.endswith("-arm"), (job_name, runs_on)  # Linux x86_64
    known_if = conditions(runner.event, matrix)
    if "if" in job and not known_if[fold(str(job["if"]))]:
        return  # skipped for this event
    python_bins: list[Path] = []
    for index, step in enumerate(job["steps"]):
        assert set(step) <= {"name", "id", "if", "run", "env", "uses", "with"}, (job_name, step)
        name = step.get("name") or step.get("uses", "").split("@")[0] or f"step {index}"
        if "if" in step and not known_if[fold(str(step["if"]))]:
            continue
        options = {k: substitute(v, table) if isinstance(v, str) else v for k, v in step.get("with", {}).items()}
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action == "actions/checkout":
                runner.checkout(job_name, options)
            elif action == "actions/setup-python":
                python_bins = runner.setup_python(options)
            elif action == "actions/upload-artifact":
                runner.upload(job_name, options)
            elif action == "actions/download-artifact":
                runner.download(job_name, options)
            elif action == "pypa/gh-action-pypi-publish":
                runner.logs["publish action"] = json.dumps(options)  # not run: its input is checked afterwards
            else:
                pytest.fail(f"{job_name}: no emulation of the action {action}: add one (or run it)")
            continue
        env = {k: substitute(str(v), table) for k, v in {**workflow.get("env", {}), **job.get("env", {}),
                                                          **step.get("env", {})}.items()}
        output_file = runner.tmp / f"output-{job_name}-{index}" if "id" in step else None
        if output_file is not None:
            output_file.touch()
        code, output = runner.run(job_name, name, step["run"], env, python_bins, output_file)
        if step["run"] in expect_failure:
            assert code != 0, f"{job_name}: `{step['run']}` was to refuse ({expect_failure[step['run']]}):\n{output}"
        else:
            assert code == 0, f"{job_name}: `{step['run']}` failed (exit {code}):\n{output[-6000:]}"
        if output_file is not None:
            for line in output_file.read_text().splitlines():
                key, _, value = line.partition("=")
                runner.outputs[key] = value
    if job_name == "matrix":
        include = substitute(job["outputs"]["include"], expressions(runner.event, matrix, runner.outputs))
        runner.outputs["include"] = include


@pytest.mark.slow
@pytest.mark.parametrize("event", [RELEASE, NIGHTLY], ids=lambda e: e.name)
def test_the_linux_jobs_of_wheels_yml_run_here_in_order(tmp_path, event):
    yaml = pytest.importorskip("yaml")
    require(sys.platform.startswith("linux") and os.uname().machine == "x86_64", "needs Linux on x86_64", REQUIRE)
    require_container_tools(REQUIRE)
    require(shutil.which("git") is not None and shutil.which("bash") is not None, "needs git and bash", REQUIRE)
    require(any(i.dotted == "3.9" for i in discover()), "no CPython 3.9 here to test the stand-in's cp39 wheel with",
            REQUIRE)
    workflow = yaml.safe_load(WHEELS.read_text())
    setup = Steps(tmp_path)

    # The runner's tools: pipx from PyPI in a venv of this test, with a PIPX_HOME of its own.
    started = time.perf_counter()
    venv.EnvBuilder(with_pip=True).create(tmp_path / "pipx-venv")
    setup.run("pipx install", [str(tmp_path / "pipx-venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", "pipx"])
    setup.timings["pipx install"] = time.perf_counter() - started
    pipx_bin = tmp_path / "pipx-bin"
    pipx_bin.mkdir()
    (pipx_bin / "pipx").symlink_to(tmp_path / "pipx-venv" / "bin" / "pipx")  # pipx alone, not the venv's python

    # The stand-in image (test_image.py's: built when missing) and the variables that point the commands at it.
    tag = stand_in_image(setup)
    origin = copy_of_this_checkout(tmp_path / "origin")
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "tag", "-a", RELEASE_TAG,
                    "-m", "a release", event.tagged], cwd=origin, check=True, capture_output=True)
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("VIRTUAL_ENV", "CABLESIM_TEST_WHEELS", "PYTHONPATH", "SETUPTOOLS_SCM_PRETEND_VERSION")
                and not k.startswith(("WHEELKIT_", "NOX_", "PIPX_", "CABLESIM_IMAGE_"))}
    base_env.update(CI="true", GITHUB_ACTIONS="true", PIPX_HOME=str(tmp_path / "pipx-home"),
                    PIPX_BIN_DIR=str(tmp_path / "pipx-home" / "bin"), CABLESIM_CONTAINER_ENGINE="podman",
                    CABLESIM_IMAGE_TAG=tag, CABLESIM_IMAGE_FILE=str(STAND_IN.relative_to(ROOT)),
                    CABLESIM_IMAGE_BASE="localhost/cablesim-base:bullseye",
                    CABLESIM_IMAGE_CCACHE_DIR=str(stand_in_ccache()))
    runner = Runner(event, tmp_path, origin, pipx_bin, base_env)
    release_check = "pipx run nox -s upload -- --repository pypi --dry-run dist/"
    expect_failure = {release_check: "the matrix wheels the stand-in cannot build"}

    # matrix -> build (its linux-x86_64 entry, from what the matrix step wrote) -> sdist -> publish
    run_job(runner, workflow, "matrix", {}, expect_failure)
    include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
    entries = expressions(event, {}, runner.outputs)[fold(EXPRESSION.fullmatch(include).group(1))]  # type: ignore
    (entry,) = [e for e in entries if e["platform"] == PLATFORM]
    assert entry["arch"] == "x86_64" and entry["runner"].startswith("ubuntu-"), entry
    others = sorted(e["platform"] for e in entries if e is not entry)
    assert others == ["linux-aarch64", "macos-arm64", "macos-x86_64"], others  # the full matrix
    for job in JOBS[1:]:
        run_job(runner, workflow, job, entry if job == "build" else {}, expect_failure)

    # Every command of the workflow ran (but those this event or this machine skips), with its arguments as written.
    ran = {script for _, script in runner.ran}
    every_run = {s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s}
    assert every_run - ran == event.not_run, every_run - ran
    assert [job for job, _ in runner.ran] == sorted((job for job, _ in runner.ran), key=JOBS.index)

    # The build: the stand-in's wheel, tested by test_wheels with this machine's 3.9, recorded with its sha256.
    build = runner.workspace("build")
    (wheel,) = sorted((build / "wheelhouse").glob("*.whl"))
    if event is RELEASE:
        assert wheel.name == f"cablesim-{RELEASE_TAG}-cp39-cp39-manylinux_2_31_x86_64.whl", wheel.name
    else:  # the version after the last release's, that night's date
        assert re.fullmatch(r"cablesim_nightly-99\.0\.1\.dev20\d{6}-cp39-cp39-manylinux_2_31_x86_64\.whl",
                            wheel.name), wheel.name
    tested_log = runner.logs["build: Test every wheel with its Python"]
    assert "1 of 1 wheel(s) passed" in tested_log and wheel.name in tested_log, tested_log[-3000:]
    assert re.search(r"MPI mpich .*2 ranks, same \d+ spikes as serial", tested_log), tested_log[-3000:]
    assert runner.missing_pythons == ["3.14", "3.14t", "3.15"]  # not on this machine: test_wheels tests the rest
    recorded = json.loads((build / "build" / "tested" / f"{PLATFORM}.json").read_text())["files"]
    assert recorded == {wheel.name: _sha256(wheel)}
    uploaded = [wheel]
    if event is RELEASE:  # the sdist job: the release's sdist
        (sdist,) = (runner.workspace("sdist") / "wheelhouse").glob("*.tar.gz")
        assert sdist.name == f"cablesim-{RELEASE_TAG}.tar.gz"
        uploaded.append(sdist)
    else:
        assert not runner.workspace("sdist").exists()  # a nightly has none
    # The publish job: dist/ holds exactly the tested files (the debug archives stay behind), verified by its step...
    dist = runner.workspace("publish") / "dist"
    names = sorted(p.name for p in uploaded)
    assert sorted(p.name for p in dist.iterdir()) == names
    assert all(_sha256(dist / p.name) == _sha256(p) for p in uploaded)
    verified = runner.logs["publish: dist/ holds exactly the tested files"]
    assert f"all {len(names)} file(s) are the tested ones, sha256 unchanged: {', '.join(names)}" in verified, verified
    # ... which refuses a changed file: the same command in a copy of the publish job's folder with one byte more.
    tampered = runner.workspace("publish-tampered")
    shutil.copytree(runner.workspace("publish"), tampered, symlinks=True)
    with (tampered / "dist" / wheel.name).open("ab") as changed:
        changed.write(b"\0")
    (verify,) = [s["run"] for s in workflow["jobs"]["publish"]["steps"] if "verify" in s.get("run", "")]
    code, output = runner.run("publish-tampered", "verify", verify, {}, [], None)
    assert code != 0 and f"{wheel.name}: changed since it was tested" in output, output[-3000:]
    if event is RELEASE:  # the release's check step ran every check on dist/ and refused it for the matrix only
        checked = runner.logs["publish: check the release files"]
        problems = [line for line in checked.splitlines() if line.startswith("  - ")]
        assert "nothing uploaded, the release is not ready" in checked and len(problems) == 1, checked[-3000:]
        assert "wheel(s) of the matrix missing" in problems[0] and "cp310-manylinux_x86_64" in problems[0]
        assert "cp39-manylinux_x86_64," not in problems[0] + ","  # the wheel it has
    # What the publish action would take: dist/, as verified above.
    assert json.loads(runner.logs["publish action"])["packages-dir"] == "dist/"
    timings = {**setup.timings, **runner.timings}
    print(f"workflow run ({event.name}) timings: " + ", ".join(f"{name} {seconds:.0f} s"
                                                               for name, seconds in timings.items()))


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
