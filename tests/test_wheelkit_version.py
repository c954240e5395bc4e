"""wheelkit.version and the build's --version / --nightly: PEP 440 normalisation, the dirty-tree refusal, nightly
versions and names, and (slow) one real build whose file name, METADATA and __version__ agree.

`real_build` builds one cheap wheel (no debug information, this Python only) from a clone of this checkout's
commit with this checkout's wheelkit; test_wheelkit_publish.py uses the same wheel (built once per test run)."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.builds.cli import parse_build_args, run_build  # noqa: E402
from wheelkit.rename import rename_sdist, rename_wheel  # noqa: E402
from wheelkit.builds.targets import LINUX  # noqa: E402
from wheelkit.version import (  # noqa: E402
    build_version,
    dirty_files,
    is_local,
    nightly_version,
    normalize_version,
    pinned_version,
    release_refusal,
)
from wheelkit.wheelfile import WheelContents, verify_record, write_wheel  # noqa: E402

BIN = Path(sys.executable).parent
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
DAY = datetime.date(2026, 11, 23)


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed checkout with cablesim's .gitignore and a setuptools-scm configuration."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "t@example.org")
    git(folder, "config", "user.name", "t")
    shutil.copy(ROOT / ".gitignore", folder / ".gitignore")
    (folder / "pyproject.toml").write_text('[project]\nname = "cablesim"\ndynamic = ["version"]\n\n'
                                           '[tool.setuptools_scm]\nfallback_version = "0.0.0"\n')
    (folder / "README.md").write_text("x\n")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "one")
    git(folder, "tag", "1.2.3")
    return folder


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


def test_build_version_pins_skip_the_check_and_nightlies_are_never_refused(repo):
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
    builds = [line for line in text.splitlines() if "build_wheel" in line]
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


# --- renaming for nightlies ---------------------------------------------------------------------------------------


def small_wheel(folder: Path, distribution: str = "cablesim", version: str = "1.0.dev20261123",
                tag: str = f"{TAG}-{TAG}-manylinux_2_17_x86_64") -> Path:
    info = f"{distribution}-{version}.dist-info"
    files = {
        "cablesim/__init__.py": f"__version__ = '{version}'\n".encode(),
        f"{distribution}-{version}.data/scripts/cablesim-run": b"#!python\nprint('hi')\n",
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\nSummary: s\n"
                             "Classifier: Programming Language :: Python :: 3.11\n\nreadme\n").encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    }
    return write_wheel(folder / f"{distribution}-{version}-{tag}.whl", files,
                       executable=[f"{distribution}-{version}.data/scripts/cablesim-run"])


def test_a_renamed_wheel_keeps_files_version_and_tags(tmp_path):
    original = small_wheel(tmp_path / "in")
    renamed = rename_wheel(original, "cablesim-nightly", tmp_path / "out")
    assert renamed.name == f"cablesim_nightly-1.0.dev20261123-{TAG}-{TAG}-manylinux_2_17_x86_64.whl"
    with WheelContents(renamed) as wheel:
        verify_record(wheel)
        assert wheel.metadata()["Name"] == ["cablesim-nightly"]
        assert wheel.metadata_version() == "1.0.dev20261123"
        assert wheel.dist_info == "cablesim_nightly-1.0.dev20261123.dist-info"
        assert "cablesim/__init__.py" in wheel.names
        assert wheel.mode("cablesim_nightly-1.0.dev20261123.data/scripts/cablesim-run") & 0o111


def test_a_renamed_sdist_builds_the_nightly_name(tmp_path):
    top = "cablesim-1.0.dev20261123"
    source = tmp_path / f"{top}.tar.gz"
    with tarfile.open(source, "w:gz") as archive:
        for name, text in {"PKG-INFO": "Metadata-Version: 2.1\nName: cablesim\nVersion: 1.0.dev20261123\n",
                           "pyproject.toml": '[build-system]\nrequires = []\n\n[project]\nname = "cablesim"\n'
                                             'dynamic = ["version"]\n', "src/cablesim/__init__.py": ""}.items():
            path = tmp_path / "src" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            archive.add(path, f"{top}/{name}")
    renamed = rename_sdist(source, "cablesim-nightly", tmp_path / "out")
    assert renamed.name == "cablesim_nightly-1.0.dev20261123.tar.gz"
    with tarfile.open(renamed) as archive:
        names = archive.getnames()
        pkg_info = archive.extractfile("cablesim_nightly-1.0.dev20261123/PKG-INFO").read().decode()  # type: ignore
        pyproject = archive.extractfile("cablesim_nightly-1.0.dev20261123/pyproject.toml").read().decode()  # type: ignore
    assert all(n.startswith("cablesim_nightly-1.0.dev20261123/") for n in names)
    assert "Name: cablesim-nightly" in pkg_info and 'name = "cablesim-nightly"' in pyproject
    with pytest.raises(WheelkitError, match="is not an sdist file name"):
        rename_sdist(tmp_path / "x.tar.gz", "a", tmp_path)


# --- one real build -----------------------------------------------------------------------------------------------


def real_build(base: Path) -> Path:
    """A real repaired wheel of this checkout's commit, version pinned as `--version 9.0a`, built once per run into
    base/real-build/wheelhouse (no debug information, this Python only)."""
    clone = base / "real-build"
    wheelhouse = clone / "wheelhouse"
    if list(wheelhouse.glob("*.whl")):
        return clone
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # The import-time check for both distributions (src/cablesim/__init__.py), added to the commit when it is not
    # committed yet (the rest of that file is taken as committed).
    init = clone / "src" / "cablesim" / "__init__.py"
    if "_warn_if_both_distributions" not in init.read_text():
        current = (ROOT / "src" / "cablesim" / "__init__.py").read_text()
        start = current.index("def _warn_if_both_distributions")
        end = current.index("_warn_if_both_distributions()\n", start) + len("_warn_if_both_distributions()\n")
        init.write_text(init.read_text() + "\n\n" + current[start:end])
    env = {k: v for k, v in os.environ.items() if k != "SETUPTOOLS_SCM_PRETEND_VERSION"}
    env.update(CABLESIM_DEBUG_INFO="strip", PYTHONPATH=str(ROOT / "packaging"), UV_PYTHON_DOWNLOADS="never")
    result = subprocess.run([sys.executable, "-m", "wheelkit", "build", "linux", PY, "--version", "9.0a",
                             "--jobs", "1"], cwd=clone, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"the real build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return clone


@pytest.mark.slow
def test_a_pinned_real_build_agrees_in_file_name_metadata_and_version(tmp_path_factory):
    if shutil.which("auditwheel", path=str(BIN)) is None or shutil.which("git") is None:
        pytest.skip("needs auditwheel and wheel in this environment (the tests session installs them) and git")
    clone = real_build(tmp_path_factory.getbasetemp())
    (wheel,) = (clone / "wheelhouse").glob("*.whl")
    assert wheel.name.startswith(f"cablesim-9.0a0-{TAG}-{TAG}-manylinux_")
    with WheelContents(wheel) as contents:
        verify_record(contents)
        assert contents.metadata_version() == "9.0a0"
        version_file = contents.read_text("cablesim/_version.py")
    assert "9.0a0" in version_file


def test_the_sdist_is_pinned_or_refused_from_a_tree_that_is_no_commit(tmp_path):
    from wheelkit.builds.sdist import sdist_environment

    assert sdist_environment(["--version", "9.0a"], tmp_path, {}) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "9.0a0"}
    assert sdist_environment([], tmp_path, {"SETUPTOOLS_SCM_PRETEND_VERSION": "2.0"}) == {
        "SETUPTOOLS_SCM_PRETEND_VERSION": "2.0"}
    with pytest.raises(WheelkitError, match="refusing to build the sdist: .* is not a git checkout"):
        sdist_environment([], tmp_path, {})
    with pytest.raises(WheelkitError, match="not a PEP 440 version"):
        sdist_environment(["--version", "nine"], tmp_path, {})
    with pytest.raises(WheelkitError, match="unrecognized arguments: --fast"):
        sdist_environment(["--fast"], tmp_path, {})
