"""wheelkit.version: PEP 440 normalisation, pinned versions, the dirty-tree refusal and nightly versions."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.version import (
    build_version,
    dirty_files,
    is_local,
    nightly_version,
    normalize_version,
    pinned_version,
    release_refusal,
)

BIN = Path(sys.executable).parent
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
DAY = datetime.date(2026, 11, 23)


# --- versions -----------------------------------------------------------------------------------------------------


def test_versions_are_pep440_normalised_and_bad_ones_refused():
    assert normalize_version("9.0a") == "9.0a0"
    assert normalize_version(" 1.0-RC1 ") == "1.0rc1"
    assert normalize_version("v2.0") == "2.0"
    with pytest.raises(WheelkitError, match=r"--version 'banana' is not a PEP 440 version: use e\.g\. 1\.2\.3"):
        normalize_version("banana")
    assert is_local("0.1.dev3+g1ab2c3d") and not is_local("1.2.3")


def test_the_option_wins_over_the_environment_variable():
    env = {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.0"}
    assert pinned_version("2.0-beta", env) == "2.0b0"
    assert pinned_version(None, env) == "1.0"
    assert pinned_version(None, {}) is None
    with pytest.raises(WheelkitError, match="SETUPTOOLS_SCM_PRETEND_VERSION 'x y' is not a PEP 440 version"):
        pinned_version(None, {"SETUPTOOLS_SCM_PRETEND_VERSION": "x y"})


@pytest.mark.parametrize(("base", "pinned", "nightly"), [
    ("0.0.1.dev24+g6d73fe1dd.d20261123", False, "0.0.1.dev20261123"),  # between tags: scm's next release
    ("1.2.3", False, "1.2.4.dev20261123"),  # exactly on a tag: the next one
    ("9.0a0", False, "9.0a1.dev20261123"),
    ("1.2.3.post1", False, "1.2.3.post2.dev20261123"),
    ("9.1", True, "9.1.dev20261123"),  # --nightly --version 9.1: the release it leads to
    ("9.1.dev20250101", True, "9.1.dev20250101"),  # a pinned dev version is kept (the release session pins it)
])
def test_nightly_versions_sort_between_releases(base, pinned, nightly):
    assert nightly_version(base, DAY, pinned=pinned) == nightly
    assert not is_local(nightly)


# --- the dirty tree -----------------------------------------------------------------------------------------------


def test_a_clean_checkout_may_be_released_and_ignored_files_do_not_count(repo):
    for ignored in ("build/x.o", "wheelhouse/a.whl", ".nox/s/x", "src/cablesim/_version.py"):
        (repo / ignored).parent.mkdir(parents=True, exist_ok=True)
        (repo / ignored).write_text("x")
    assert dirty_files(repo) == []
    assert release_refusal(repo) == ""


def test_a_dirty_checkout_is_refused_naming_the_files_and_both_ways_out(repo):
    (repo / "README.md").write_text("changed\n")
    (repo / "new.py").write_text("")
    refusal = release_refusal(repo)
    assert "2 uncommitted change(s)" in refusal
    assert "README.md (modified)" in refusal and "new.py (untracked)" in refusal
    assert "commit them" in refusal and "--version 1.2.3" in refusal and "SETUPTOOLS_SCM_PRETEND_VERSION" in refusal


def test_not_a_checkout_is_refused_without_a_pin(tmp_path):
    assert "is not a git checkout" in release_refusal(tmp_path)
    assert dirty_files(tmp_path) is None


def test_build_version_pins_skip_the_check_and_nightlies_are_never_refused(repo, git):
    python = str(BIN / "python")
    (repo / "README.md").write_text("changed\n")
    release = build_version(repo, python, option=None, nightly=False, environ={})
    assert release.refusal and release.version.startswith("1.2.4.dev0+g") and ".d" in release.version
    pinned = build_version(repo, python, option="9.0a", nightly=False, environ={})
    assert (pinned.distribution, pinned.version, pinned.refusal) == ("cablesim", "9.0a0", "")
    env = build_version(repo, python, option=None, nightly=False, environ={"SETUPTOOLS_SCM_PRETEND_VERSION": "2"})
    assert (env.version, env.pinned, env.refusal) == ("2", True, "")
    nightly = build_version(repo, python, option=None, nightly=True, environ={}, today=DAY)
    assert (nightly.distribution, nightly.version, nightly.refusal) == ("cablesim-nightly", "1.2.4.dev20261123", "")
    git(repo, "checkout", "README.md")
    assert build_version(repo, python, option=None, nightly=False, environ={}).version == "1.2.3"


# --- the build command --------------------------------------------------------------------------------------------


# --- renaming for nightlies ---------------------------------------------------------------------------------------


# --- one real build -----------------------------------------------------------------------------------------------


