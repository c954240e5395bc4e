"""wheelkit.release.checks and manifest: everything that must hold before the first file of a release is uploaded,
every problem listed at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.release.checks import check_release, collect, platform_family, twine_check
from wheelkit.release.manifest import check_manifest, write_manifest
from wheelkit.release.repository import repository_for

TWINE = str(Path(sys.executable).parent / "twine")
LOCAL = repository_for("http://127.0.0.1:1/")


def problems(files, **options) -> str:
    with pytest.raises(WheelkitError) as caught:
        check_release(files, **{"repository": LOCAL, "platforms": ("manylinux_x86_64",), **options})
    return str(caught.value)


def test_platform_families():
    assert platform_family("manylinux_2_34_x86_64") == "manylinux_x86_64"
    assert platform_family("manylinux2014_x86_64") == "manylinux_x86_64"
    assert platform_family("macosx_11_0_arm64") == "macosx_arm64"


def test_a_complete_release_passes(tmp_path, dists):
    folder = dists.release(tmp_path / "r", pythons=("3.10", "3.11"))
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    assert (release.distribution, release.version, release.pythons) == ("cablesim", "1.0", ("3.10", "3.11"))
    assert release.files[-1].name == "cablesim-1.0.tar.gz"  # the sdist goes last


def test_two_versions_a_missing_sdist_and_an_unrepaired_tag_are_all_reported(tmp_path, dists):
    folder = tmp_path / "r"
    dists.wheel(folder, "1.0")
    dists.wheel(folder, "1.1", "3.10", plat="linux_x86_64")
    (folder / "cablesim-1.0-cp311-cp311-manylinux_2_17_x86_64.whl.debug.tar.gz").write_text("not uploaded")
    text = problems(collect([folder]))
    assert text.startswith("nothing uploaded, the release is not ready:")
    assert "the files carry 2 versions (1.0: cablesim-1.0-cp311" in text
    assert "platform tag linux_x86_64 is not a repaired one" in text
    assert "0 sdists (none): a release uploads exactly one" in text


def test_the_matrix_must_be_complete_unless_allowed(tmp_path, dists):
    folder = tmp_path / "r"
    dists.wheel(folder, pythons=("3.11", "3.12"))
    dists.sdist(folder, pythons=("3.11", "3.12"))
    text = problems(collect([folder]), platforms=("manylinux_x86_64", "macosx_arm64"))
    assert "3 wheel(s) of the matrix missing" in text and "cp312-manylinux_x86_64" in text
    assert "cp311-macosx_arm64" in text and "--allow-partial" in text
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",), allow_partial=True)
    assert release.missing == ("cp312-manylinux_x86_64",)


def test_local_versions_never_go_to_pypi(tmp_path, dists):
    folder = dists.release(tmp_path / "r", "1.0.dev3+g1ab2c3d")
    text = problems(collect([folder]), repository=repository_for("pypi"))
    assert "version 1.0.dev3+g1ab2c3d is a local version (+...): pypi refuses it" in text
    check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))  # a site index may


def test_a_renamed_wheel_or_unnormalised_metadata_is_caught(tmp_path, dists):
    folder = tmp_path / "r"
    dists.sdist(folder, "9.0a0")
    good = dists.wheel(folder, "9.0a0", meta_version="9.0a")  # METADATA says 9.0a, the name 9.0a0: normalised equal
    check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    good.rename(folder / "cablesim-9.0a1-cp311-cp311-manylinux_2_17_x86_64.whl")
    text = problems(collect([folder]))
    assert "has no single cablesim-9.0a1.dist-info/ folder" in text


def test_twine_check_strict_failure_uploads_nothing(tmp_path, dists):
    sdist = dists.sdist(tmp_path, pkg_info="Metadata-Version: 2.1\nName: cablesim\nVersion: 1.0\n")
    with pytest.raises(WheelkitError, match="nothing uploaded: twine check --strict failed"):
        twine_check([sdist], TWINE)


def test_a_tested_folder_must_hold_what_was_tested(tmp_path, dists):
    folder = dists.release(tmp_path / "r")
    files = collect([folder])
    write_manifest(folder, files)
    check_manifest(folder, files)
    dists.wheel(folder, "1.0", payload=b"# changed\n")
    with pytest.raises(WheelkitError, match="changed since it was tested"):
        check_manifest(folder, collect([folder]))


def test_missing_paths_are_explained(tmp_path):
    with pytest.raises(WheelkitError, match="does not exist: build the release first"):
        collect([tmp_path / "wheelhouse"])


def _threaded_wheel(folder: Path, classifiers: str) -> Path:
    """A cp314t wheel, as a free-threaded 3.14 build names it."""
    from wheelkit.wheelfile import write_wheel

    info = "cablesim-1.0.dist-info"
    return write_wheel(folder / "cablesim-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl", {
        "cablesim/__init__.py": b"",
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: cablesim\nVersion: 1.0\nSummary: a test\n{classifiers}"
                             "Description-Content-Type: text/markdown\n\ncablesim\n").encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\n"
                         b"Tag: cp314-cp314t-manylinux_2_28_x86_64\n"})


def test_the_free_threading_classifier_makes_cp314t_a_cell_of_its_own(tmp_path, dists):
    folder = tmp_path / "r"
    declared = ("3.14", "3.15", "Free Threading :: 2 - Beta")
    for python in ("3.14", "3.15"):
        dists.wheel(folder, python=python, plat="manylinux_2_28_x86_64", pythons=declared)
    dists.sdist(folder, pythons=declared)
    assert "1 wheel(s) of the matrix missing" in problems(collect([folder]))
    assert "cp314t-manylinux_x86_64" in problems(collect([folder]))  # the cp314 wheel does not stand for it
    classifiers = "".join(f"Classifier: Programming Language :: Python :: {p}\n" for p in declared)
    _threaded_wheel(folder, classifiers)
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    assert release.pythons == ("3.14", "3.15", "3.14t") and release.missing == ()


def test_without_the_free_threading_classifier_no_free_threaded_wheel_is_expected(tmp_path, dists):
    folder = dists.release(tmp_path / "r", pythons=("3.14", "3.15"))
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    assert release.pythons == ("3.14", "3.15")


def test_a_full_release_covers_the_configured_platforms():
    from wheelkit.config import load_config
    from wheelkit.release.checks import DEFAULT_PLATFORMS

    root = Path(__file__).resolve().parents[2]
    assert DEFAULT_PLATFORMS == load_config(root, {}).release_platforms.value
