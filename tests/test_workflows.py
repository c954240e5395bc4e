"""The CI workflows: actionlint and zizmor pass, and their shape is what the packaging promises (four platforms, a
small pull-request matrix, nightly and manual dispatch, every step a nox session or an invoke task, trusted
publishing with skip-existing)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import installed_tool

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WHEELS = ROOT / ".github" / "workflows" / "wheels.yml"
# How a step may call the packaging: nox or invoke, brought by pipx (preinstalled on GitHub's runners).
ALLOWED_RUN = re.compile(r"^(pipx run (--spec invoke )?)?(nox|invoke) ")


def load(path: Path) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="needs PyYAML (the test extra)")
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_there_are_workflows():
    assert WHEELS in WORKFLOWS


def test_actionlint_passes():
    command = [installed_tool("actionlint"), "-no-color", *map(str, WORKFLOWS)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_passes(persona):
    # --offline: no GitHub API here (the online audits check known-vulnerable action versions and impostor commits).
    command = [installed_tool("zizmor"), "--offline", "--persona", persona, "--no-progress", *map(str, WORKFLOWS)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def matrix(event: str) -> list[dict[str, Any]]:
    """What the workflow's matrix job gives for an event: `python -m wheelkit matrix` from pyproject.toml."""
    import sys

    done = subprocess.run([sys.executable, "-m", "wheelkit", "matrix", "--event", event], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "packaging")}, check=False)
    assert done.returncode == 0, done.stderr
    include: list[dict[str, Any]] = json.loads(done.stdout)
    return include


def test_matrix_covers_four_platforms_and_pull_requests_a_small_one():
    workflow = load(WHEELS)
    build, job = workflow["jobs"]["build"], workflow["jobs"]["matrix"]
    assert build["needs"] == ["matrix"] and build["strategy"]["matrix"]["include"] == \
        "${{ fromJSON(needs.matrix.outputs.include) }}"
    assert job["outputs"]["include"] == "${{ steps.matrix.outputs.include }}"
    (step,) = [s for s in job["steps"] if s.get("id") == "matrix"]
    assert step["run"] == 'pipx run nox -s matrix -- --event "$EVENT"' and step["env"]["EVENT"] == \
        "${{ github.event_name }}"
    full, pull_request = matrix("push"), matrix("pull_request")
    assert {(e["platform"], e["arch"]) for e in full} == {
        ("linux-x86_64", "x86_64"), ("linux-aarch64", "aarch64"), ("macos-x86_64", "x86_64"), ("macos-arm64", "arm64")}
    runners = {e["platform"]: e["runner"] for e in full}
    assert runners["linux-aarch64"].endswith("-arm")  # native, not emulated
    assert runners["macos-x86_64"] == "macos-15-intel"  # macos-13 was retired in December 2025
    assert 0 < len(pull_request) < len(full) and all(e in full for e in pull_request)
    assert build["runs-on"] == "${{ matrix.runner }}"


def test_the_newest_pythons_and_free_threading_are_set_up():
    build = load(WHEELS)["jobs"]["build"]
    (setup,) = [s for s in build["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    versions = setup["with"]["python-version"].split()
    assert versions == ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.14t", "3.15"]


def test_a_manual_run_takes_a_ref_and_a_failed_run_keeps_its_logs_and_wheels():
    workflow = load(WHEELS)
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["workflow_dispatch"]["inputs"]["ref"]["type"] == "string"
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["ref"] == "${{ inputs.ref }}"
    (kept,) = [s for s in workflow["jobs"]["build"]["steps"] if s.get("if") == "failure()"]
    assert kept["with"]["name"] == "failed-${{ matrix.platform }}" and "build/logs/" in kept["with"]["path"]


def test_triggers_nightly_and_dispatch_inputs():
    workflow = load(WHEELS)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["schedule"][0]["cron"]
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["type"]["options"] == ["nightly", "release"] and inputs["type"]["default"] == "nightly"
    assert inputs["upload"]["type"] == "boolean" and inputs["upload"]["default"] is False


def test_every_run_step_is_a_nox_session_or_an_invoke_task():
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                if "run" in step:
                    command = " ".join(step["run"].split())
                    assert ALLOWED_RUN.match(command) and "&&" not in command and ";" not in command, (name, command)
    runs = [s["run"] for s in load(WHEELS)["jobs"]["build"]["steps"] if "run" in s]
    for expected in ("invoke image.build", "invoke image.run", "nox -s build_linux", "nox -s build_osx",
                     "nox -s test_wheels"):
        assert any(expected in run for run in runs), expected


def test_actions_are_pinned_and_checkouts_keep_no_credentials():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_publishing_is_trusted_publishing_with_skip_existing():
    workflow = load(WHEELS)
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert all("id-token" not in job.get("permissions", {}) for name, job in jobs.items() if name != "publish")
    (upload,) = [s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert upload["with"]["skip-existing"] is True and "password" not in upload["with"]
    assert upload["with"]["attestations"] is True  # PEP 740, signed by this workflow's trusted-publishing identity
    assert "inputs.upload" in publish["if"] and set(publish["needs"]) == {"build", "sdist"}
    downloads = [s for s in publish["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    (download,) = [s for s in downloads if s["with"]["path"] == "dist"]
    assert download["with"]["pattern"] == "dist-*"  # the wheels and the sdist, never the debug archives
    artifacts = [s["with"]["name"] for job in jobs.values() for s in job.get("steps", [])
                 if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert "dist-sdist" in artifacts and "dist-${{ matrix.platform }}" in artifacts


def _uploads(job: dict[str, Any]) -> dict[str, str]:
    return {s["with"]["name"]: s["with"]["path"] for s in job["steps"]
            if s.get("uses", "").startswith("actions/upload-artifact@")}


def test_publish_verifies_that_dist_holds_exactly_what_the_jobs_tested():
    """Each build job records what its test_wheels passed (the sdist job its sdist) as a tested-* artifact beside
    dist-*; the publish job verifies dist/ against them, nightly or release, before any check or upload."""
    jobs = load(WHEELS)["jobs"]
    build, sdist, publish = jobs["build"], jobs["sdist"], jobs["publish"]
    runs = [s.get("run", "") for s in build["steps"]]
    record = runs.index('pipx run nox -s tested -- record wheelhouse/ --to "build/tested/$PLATFORM.json"')
    assert record == runs.index("pipx run nox -s test_wheels") + 1  # right after the tests passed
    assert build["steps"][record]["env"] == {"PLATFORM": "${{ matrix.platform }}"} and "if" not in build["steps"][record]
    assert _uploads(build)["tested-${{ matrix.platform }}"] == "build/tested/*.json"
    sdist_runs = [s.get("run", "") for s in sdist["steps"]]
    assert sdist_runs.index("pipx run nox -s tested -- record wheelhouse/ --to build/tested/sdist.json") == \
        sdist_runs.index("pipx run nox -s sdist") + 1
    assert _uploads(sdist)["tested-sdist"] == "build/tested/*.json"
    steps = publish["steps"]
    downloads = {s["with"]["path"]: s["with"] for s in steps if s.get("uses", "").startswith("actions/download-artifact@")}
    assert downloads["tested"] == {"pattern": "tested-*", "path": "tested", "merge-multiple": True}  # not into dist/
    (verify,) = [i for i, s in enumerate(steps) if s.get("run") == "pipx run nox -s tested -- verify dist/ tested/"]
    assert "if" not in steps[verify]  # nightlies too
    later = [i for i, s in enumerate(steps) if "upload" in s.get("run", "") or "pypi-publish" in s.get("uses", "")]
    assert later and min(later) > verify
    assert all(i < verify for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/download-artifact@"))
    assert all(not name.startswith("dist-") or not path.endswith(".json")
               for job in (build, sdist) for name, path in _uploads(job).items())
