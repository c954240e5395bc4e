"""Which wheels to build: Python selectors (39, 3.12, 3*, cp311) and variant words (coreneuron, mpi)."""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import WheelkitError
from ..interpreters import SUPPORTED_MINORS, Interpreter
from .plan import VARIANTS

log = logging.getLogger(__name__)

# Variant words a build accepts: the variants the plan knows, and `mpi`. MPI is always on in the Linux wheels (the
# shims load the user's MPI at run time), so `mpi` names the default wheel; it stays accepted because NEURON's build
# scripts take it.
ALWAYS_ON_VARIANTS = ("mpi",)
KNOWN_VARIANTS = (*(name for name in VARIANTS if name != "default"), *ALWAYS_ON_VARIANTS)


@dataclass(frozen=True)
class Selection:
    pythons: tuple[Interpreter, ...]
    variants: tuple[str, ...]  # empty: the default wheel only


def _selector_pattern(selector: str) -> str:
    """Normalise '39', '3.9', 'cp39', '3*', '3.1*', '*' to a glob over dotted versions such as '3.9'; a selector of a
    CPython that no wheel is built for ('cp27', '3.8') is refused as unsupported."""
    text = selector.strip().lower()
    text = text.removeprefix("cp")
    if text in ("*", "3*", "3.*"):
        return "3.*"
    match = re.fullmatch(r"(?P<major>[23])(?:\.?(?P<minor>\d{1,2}))?(?P<glob>\*)?", text)
    if match is None or not (match["minor"] or match["glob"]):
        raise WheelkitError(
            f"'{selector}' is not a Python selector: use forms like 39, 3.12, cp311, '3*' or '3.1*' "
            f"(variants: {', '.join(KNOWN_VARIANTS)})"
        )
    pattern = f"{match['major']}.{match['minor'] or ''}{match['glob'] or ''}"
    supported = [f"3.{minor}" for minor in SUPPORTED_MINORS]
    if not fnmatch.filter(supported, pattern):
        raise WheelkitError(
            f"'{selector}' selects CPython {pattern}, which cablesim does not build wheels for: the supported "
            f"versions are {supported[0]}-{supported[-1]}"
        )
    return pattern


def select(arguments: Sequence[str], found: Sequence[Interpreter]) -> Selection:
    """Split posargs into Python selectors and variant words and match them against the interpreters found.

    No selector means every interpreter found. A selector that matches nothing is an error listing what was found.
    """
    variants: list[str] = []
    patterns: list[tuple[str, str]] = []
    for argument in arguments:
        word = argument.strip().lower()
        if word in KNOWN_VARIANTS:
            if word in ALWAYS_ON_VARIANTS:
                log.info("'%s': every Linux wheel has MPI support (docs/mpi.md); building the default wheel", word)
            elif word not in variants:
                variants.append(word)
            continue
        patterns.append((argument, _selector_pattern(word)))
    if not found:
        raise WheelkitError(
            "no CPython interpreter found: install one (pyenv install 3.12), put python3.X on PATH, "
            "or run inside the build image where they live in /opt/python"
        )
    if not patterns:
        return Selection(tuple(found), tuple(variants))
    chosen: list[Interpreter] = []
    for original, pattern in patterns:
        matches = [i for i in found if fnmatch.fnmatch(i.dotted, pattern)]
        if not matches:
            available = ", ".join(f"{i.dotted} ({i.path})" for i in found)
            raise WheelkitError(f"no Python matches '{original}'; found: {available}")
        chosen.extend(m for m in matches if m not in chosen)
    return Selection(tuple(sorted(chosen)), tuple(variants))
