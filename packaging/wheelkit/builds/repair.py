"""Checks around the repair step: the wheel's libraries must not link MPI, and every exclude pattern must be used."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from ..errors import WheelkitError
from ..native import is_mpi_library


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
