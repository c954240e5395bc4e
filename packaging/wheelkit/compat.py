"""Which interpreter installs which wheel (its tags), and which requirement applies."""

from __future__ import annotations

import os
import re
from typing import Optional, Sequence

from .wheelfile import Tag, WheelName, normalize_distribution

# Legacy manylinux names and the glibc versions they stand for (PEP 600).
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")


def glibc_version() -> Optional[tuple[int, int]]:
    """This machine's glibc (major, minor), or None on another libc or OS."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    match = re.fullmatch(r"glibc (\d+)\.(\d+).*", text)
    return (int(match[1]), int(match[2])) if match else None


def platform_tags(machine: str, glibc: Optional[tuple[int, int]]) -> list[str]:
    """Linux platform tags a CPython on this machine installs, most specific first (manylinux as in PEP 600)."""
    tags: list[str] = []
    if glibc is not None and glibc[0] == 2:
        for minor in range(glibc[1], 4, -1):
            tags.append(f"manylinux_2_{minor}_{machine}")
            for legacy, (major, legacy_minor) in _LEGACY_MANYLINUX.items():
                if (major, legacy_minor) == (2, minor):
                    tags.append(f"{legacy}_{machine}")
    tags.append(f"linux_{machine}")
    return tags


def interpreter_tags(version: tuple[int, int], machine: str, glibc: Optional[tuple[int, int]]) -> list[Tag]:
    """The tags a CPython (major, minor) on a Linux machine installs, in the order installers prefer them."""
    major, minor = version
    cp = f"cp{major}{minor}"
    platforms = platform_tags(machine, glibc)
    tags = [Tag(cp, cp, plat) for plat in platforms]
    tags += [Tag(f"cp{major}{older}", "abi3", plat) for older in range(minor, 1, -1) for plat in platforms]
    tags += [Tag(cp, "none", plat) for plat in platforms]
    generic = [f"py{major}{minor}", f"py{major}"] + [f"py{major}{older}" for older in range(minor - 1, -1, -1)]
    tags += [Tag(py, "none", plat) for py in generic for plat in platforms]
    tags += [Tag(py, "none", "any") for py in (cp, *generic)]
    return tags


def wheel_fits(name: WheelName, version: tuple[int, int], machine: str, glibc: Optional[tuple[int, int]]) -> bool:
    """Whether a CPython (major, minor) on this kind of machine would install this wheel."""
    return bool(name.tags & set(interpreter_tags(version, machine, glibc)))


def manylinux_glibc(platform: str) -> Optional[tuple[int, int]]:
    """The glibc a manylinux platform tag promises to need at most (None: not a manylinux tag)."""
    for legacy, version in _LEGACY_MANYLINUX.items():
        if platform.startswith(legacy + "_"):
            return version
    match = _MANYLINUX.match(platform)
    return (int(match["major"]), int(match["minor"])) if match else None


def requirement_lower_bound(requirements: Sequence[str], distribution: str) -> Optional[str]:
    """The X of 'distribution>=X' among Requires-Dist lines without an extra marker ('' if unbounded, None if
    the distribution is not required)."""
    wanted = normalize_distribution(distribution)
    for line in requirements:
        requirement, _, marker = line.partition(";")
        if "extra" in marker:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*\(?([^)]*)\)?", requirement)
        if not match or normalize_distribution(match[1]) != wanted:
            continue
        bound = re.search(r">=\s*([^,\s]+)", match[3])
        return bound[1] if bound else ""
    return None
