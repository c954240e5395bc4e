"""wheelkit.rename: a wheel and an sdist written again as another distribution (nightlies), files, version and tags
kept, with a fresh RECORD."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.rename import rename_sdist, rename_wheel
from wheelkit.wheelfile import WheelContents, verify_record, write_wheel

TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


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
        assert wheel.metadata()["name"] == "cablesim-nightly"
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
