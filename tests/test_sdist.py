"""The sdist builds a wheel from a folder without .git, with the version it was made with (slow: a real build)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"

pytestmark = pytest.mark.slow


@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs the 'build' package (pip install build)")
def test_sdist_builds_a_wheel_without_git(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: this test makes the sdist from one")
    run(sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"), str(ROOT))
    (archive,) = (tmp_path / "dist").glob("cablesim-*.tar.gz")
    version = archive.name[len("cablesim-"):-len(".tar.gz")]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert f"cablesim-{version}/src/cablesim/_version.py" in names
        assert not any("/.git/" in name for name in names)
        bundled = {f"cablesim-{version}/src/mpi/headers/{folder.name}/include/mpi.h"
                   for folder in (ROOT / "src" / "mpi" / "headers").iterdir()}
        assert len(bundled) == 2 and bundled <= set(names)
        tar.extractall(tmp_path / "unpacked")  # noqa: S202 - our own archive
    source = tmp_path / "unpacked" / f"cablesim-{version}"
    assert not (source / ".git").exists()
    # `build`, not pip: the test venv may be made by uv, without pip.
    run(sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "wheels"), str(source))
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    assert wheel.name.startswith(f"cablesim-{version}-")
    with zipfile.ZipFile(wheel) as contents:
        assert any(n.startswith("cablesim/_core.") and n.endswith(".so") for n in contents.namelist())
        # The MPI shims come from the bundled PyPI headers: no MPI on the machine needed.
        if sys.platform.startswith("linux"):
            assert {"cablesim/libcablesim_mpi_mpich.so", "cablesim/libcablesim_mpi_openmpi.so"} <= set(
                contents.namelist())
        assert f"__version__ = version = '{version}'" in contents.read("cablesim/_version.py").decode()
