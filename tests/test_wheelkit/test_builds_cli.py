"""wheelkit.builds.cli: the build's arguments, and what --plan shows of a real checkout (the version, pinned or from
git, and the refusal of a dirty one)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.builds.cli import parse_build_args, run_build
from wheelkit.builds.targets import LINUX

BIN = Path(sys.executable).parent
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def test_build_args():
    options = parse_build_args(["39", "3.12", "--plan", "-j", "3", "--keep-going"])
    assert options.selectors == ("39", "3.12") and options.plan_only and options.jobs == 3 and options.keep_going
    assert parse_build_args(["--dry-run"]).plan_only
    with pytest.raises(WheelkitError, match="--jobs must be at least 1, got 0"):
        parse_build_args(["--jobs", "0"])
    with pytest.raises(WheelkitError, match="unrecognized arguments: --fast"):
        parse_build_args(["--fast"])


def plan_output(repo: Path, *argv: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    monkeypatch.delenv("SETUPTOOLS_SCM_PRETEND_VERSION", raising=False)
    lines: list[str] = []
    error = ""
    try:
        run_build([PY, "--plan", *argv], root=repo, target=LINUX, tools_bin=BIN, emit=lines.append)
    except WheelkitError as caught:
        error = str(caught)
    return lines, error


def test_plan_of_a_dirty_release_shows_the_plan_then_the_refusal(repo, monkeypatch):
    (repo / "README.md").write_text("changed\n")
    lines, error = plan_output(repo, monkeypatch=monkeypatch)
    assert any("Commands:" in line for line in lines)
    assert error.startswith("the build would refuse release 1.2.4.dev0+g") and "README.md (modified)" in error
    with pytest.raises(WheelkitError, match=r"(?s)refusing to build release .*README\.md \(modified\)"):
        run_build([PY], root=repo, target=LINUX, tools_bin=BIN, emit=lambda line: None)


def test_a_pinned_version_reaches_every_build_normalised(repo, monkeypatch):
    (repo / "README.md").write_text("changed\n")  # a pin is allowed from a dirty tree
    lines, error = plan_output(repo, "--version", "9.0a", monkeypatch=monkeypatch)
    assert not error
    text = "\n".join(lines)
    assert f"cablesim-9.0a0-{TAG}-{TAG}-" in text
    assert "Version 9.0a0 (pinned), passed to every build as SETUPTOOLS_SCM_PRETEND_VERSION" in text
    builds = [line for line in text.splitlines() if "import build_wheel" in line]
    assert builds and all("SETUPTOOLS_SCM_PRETEND_VERSION=9.0a0 " in line for line in builds)
    _, error = plan_output(repo, "--version", "nine", monkeypatch=monkeypatch)
    assert error.startswith("--version 'nine' is not a PEP 440 version")


def test_nightly_plan_names_the_distribution(repo, monkeypatch):
    lines, error = plan_output(repo, "--nightly", "--version", "2.0", monkeypatch=monkeypatch)
    assert not error
    text = "\n".join(lines)
    assert "nightly: the wheels are renamed to the distribution cablesim-nightly (import name cablesim)" in text
    assert "SETUPTOOLS_SCM_PRETEND_VERSION=2.0.dev" in text
    assert parse_build_args(["--nightly"]).nightly and parse_build_args(["--version", "1"]).version == "1"


def test_the_plan_and_help_say_where_each_setting_came_from(repo, monkeypatch):
    monkeypatch.setenv("WHEELKIT_FREE_THREADED", "0")
    lines, _ = plan_output(repo, monkeypatch=monkeypatch)
    text = "\n".join(lines)
    assert f"Pythons: {PY} (command line)" in text
    assert "free-threaded              false  (environment WHEELKIT_FREE_THREADED)" in text
    from wheelkit.builds.cli import build_parser
    from wheelkit.config import load_config

    helped = build_parser("nox -s build_linux --", load_config(repo)).format_help()
    assert "3.14t, cp314t (free-threaded)" in helped and "(environment WHEELKIT_FREE_THREADED)" in helped
