"""Checks around the repair step: what a wheel needs, what the repair copied in, and that MPI never is."""

from __future__ import annotations

import fnmatch
import zipfile
from pathlib import Path, PurePosixPath
from typing import Sequence

from .errors import WheelkitError
from .targets import LINUX, Target

# MPI must come from the user's machine at run time, never from the wheel (both .so and .dylib names).
MPI_LIBRARY_PATTERNS = ("libmpi.*", "libmpi_*", "libmpich*", "libpmpi*", "libopen-pal*", "libopen-rte*", "libpmix*",
                        "libmpicxx*", "libfabric*")


def vendored_libraries(wheel: Path, target: Target = LINUX) -> list[str]:
    """Shared libraries the repair tool copied into the wheel (auditwheel's <package>.libs/, delocate's .dylibs/)."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(PurePosixPath(name).name for name in archive.namelist() if target.is_vendored(name))


def is_mpi_library(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in MPI_LIBRARY_PATTERNS)


def check_no_mpi_bundled(wheel: Path, target: Target = LINUX) -> None:
    bundled = [lib for lib in vendored_libraries(wheel, target) if is_mpi_library(lib)]
    if bundled:
        raise WheelkitError(
            f"{wheel.name} bundles MPI libraries {bundled}: MPI must come from the user's system; add them to the "
            "variant's repair exclude list"
        )


def check_no_mpi_needed(needed: Sequence[str]) -> None:
    """The wheel's libraries load MPI at run time only: a NEEDED MPI library would tie the wheel to one
    implementation's soname (PyPI's MPICH is libmpi.so.12, Debian's libmpich.so.12) and fail to load without it."""
    linked = sorted(lib for lib in needed if is_mpi_library(lib))
    if linked:
        raise WheelkitError(
            f"the wheel's libraries link MPI ({', '.join(linked)}): its MPI shims must be headers-only; build without "
            "CABLESIM_MPICH_LIBRARY / CABLESIM_OPENMPI_LIBRARY (docs/mpi.md)"
        )


def check_excludes_matched(needed: Sequence[str], excludes: Sequence[str]) -> None:
    """Every exclude pattern must match a library the wheel needs, so a stale list cannot hide a mistake."""
    unmatched = [p for p in excludes if not any(fnmatch.fnmatch(lib, p) for lib in needed)]
    if unmatched:
        raise WheelkitError(
            f"repair exclude patterns matched no needed library: {unmatched} (needed: {sorted(needed)}); "
            "remove them or fix the pattern"
        )
