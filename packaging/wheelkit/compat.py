"""Which interpreter installs which wheel, and which requirements apply to it, by PyPA's packaging: a wheel fits an
interpreter when one of its tags is among the interpreter's own sys_tags() (Linux, musl, macOS, free-threaded)."""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms, platform_tags
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import WheelkitError


def wheel_fits(wheel_tags: Iterable[Tag], interpreter_tags: Iterable[Tag]) -> bool:
    """Whether an interpreter with these tags (its sys_tags()) installs a wheel with those."""
    return not frozenset(wheel_tags).isdisjoint(interpreter_tags)


def cpython_tags_for(version: Sequence[int], abi: str, platforms: Sequence[str]) -> list[Tag]:
    """What sys_tags() gives in a CPython of this version and ABI (cp312, cp314t) on these platforms, computed here
    with packaging's own functions: for an interpreter too old to run this packaging itself."""
    python = (version[0], version[1])
    return [*cpython_tags(python, [abi], platforms), *compatible_tags(python, f"cp{python[0]}{python[1]}", platforms)]


def host_platforms(machine: str) -> list[str]:
    """The platform tags of this machine for an interpreter built for `machine`, most specific first."""
    if sys.platform == "darwin":
        return list(mac_platforms(arch=machine))
    if machine == platform.machine():
        return list(platform_tags())
    return [f"linux_{machine}"]  # another architecture's interpreter (emulated): its manylinux levels are unknown


# Hand-written: packaging keeps its manylinux parsing private, and this is only said in a message.
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")


def manylinux_glibc(platform_tag: str) -> tuple[int, int] | None:
    """The glibc a manylinux platform tag promises to need at most (None: not a manylinux tag)."""
    for legacy, version in _LEGACY_MANYLINUX.items():
        if platform_tag.startswith(legacy + "_"):
            return version
    match = _MANYLINUX.match(platform_tag)
    return (int(match["major"]), int(match["minor"])) if match else None


def lower_bound(specifier: SpecifierSet) -> str:
    """The highest of the lower bounds a specifier sets (>=, >, ~=, ==, ===), or '' when it sets none."""
    bounds: list[Version] = []
    for spec in specifier:
        text = spec.version.removesuffix(".*")
        if spec.operator in (">=", ">", "~=", "==", "==="):
            try:
                bounds.append(Version(text))
            except InvalidVersion:
                continue
    return str(max(bounds)) if bounds else ""


def required(requirements: Iterable[str], distribution: str,
             environment: Mapping[str, str] | None = None) -> Requirement | None:
    """The requirement on distribution among Requires-Dist lines that applies in an environment (its markers
    evaluated there, with no extra; default: this interpreter's), or None."""
    wanted = canonicalize_name(distribution)
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise WheelkitError(f"cannot read the requirement {line!r} (PEP 508): {error}") from None
        if canonicalize_name(requirement.name) != wanted:
            continue
        if requirement.marker is None or requirement.marker.evaluate({**(environment or {}), "extra": ""}):
            return requirement
    return None


def requirement_lower_bound(requirements: Iterable[str], distribution: str,
                            environment: Mapping[str, str] | None = None) -> str | None:
    """The oldest version of distribution the requirements allow where they apply ('' if unbounded, None if the
    distribution is not required there): numpy~=1.21 -> 1.21."""
    requirement = required(requirements, distribution, environment)
    return None if requirement is None else lower_bound(requirement.specifier)
