"""Repair (auditwheel / delocate) commands and the checks on a repaired wheel."""

from __future__ import annotations

import fnmatch
import zipfile
from pathlib import Path
from typing import Sequence

from .errors import WheelkitError

# MPI must come from the user's machine at run time, never from the wheel.
MPI_LIBRARY_PATTERNS = ("libmpi.so*", "libmpich*.so*", "libmpi_*.so*", "libopen-pal*.so*", "libopen-rte*.so*",
                        "libpmix*.so*", "libmpicxx*.so*", "libfabric*.so*")


def repair_command(auditwheel: str, wheel: Path, platform_tag: str, out_dir: Path, excludes: Sequence[str]) -> list[str]:
    command = [auditwheel, "repair", "--plat", platform_tag, "--wheel-dir", str(out_dir)]
    for pattern in excludes:
        command += ["--exclude", pattern]
    return [*command, str(wheel)]


def vendored_libraries(wheel: Path) -> list[str]:
    """Shared libraries auditwheel copied into the wheel (the <package>.libs/ folder)."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(Path(name).name for name in archive.namelist() if ".libs/" in name and ".so" in name)


def check_no_mpi_bundled(wheel: Path) -> None:
    bundled = [lib for lib in vendored_libraries(wheel) if any(fnmatch.fnmatch(lib, p) for p in MPI_LIBRARY_PATTERNS)]
    if bundled:
        raise WheelkitError(
            f"{wheel.name} bundles MPI libraries {bundled}: MPI must come from the user's system; add them to the "
            "repair exclude list"
        )


def check_excludes_matched(needed: Sequence[str], excludes: Sequence[str]) -> None:
    """Every exclude pattern must match a library the wheel needs, so a stale list cannot hide a mistake."""
    unmatched = [p for p in excludes if not any(fnmatch.fnmatch(lib, p) for lib in needed)]
    if unmatched:
        raise WheelkitError(
            f"repair exclude patterns matched no needed library: {unmatched} (needed: {sorted(needed)}); "
            "remove them or fix the pattern"
        )
