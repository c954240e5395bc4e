"""Which wheels to build: Python selectors (39, 3.12, 3*, cp311, 3.14t, cp314t) and variant words (coreneuron, mpi),
over [tool.wheelkit]'s Pythons and variants."""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import WheelkitError
from ..interpreters import FREE_THREADED_MINORS, SUPPORTED_MINORS, Interpreter
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


SUPPORTED = (*(f"3.{minor}" for minor in SUPPORTED_MINORS), *(f"3.{minor}t" for minor in FREE_THREADED_MINORS))


def _selector_pattern(selector: str) -> str:
    """Normalise '39', '3.9', 'cp39', '314t', 'cp314t', '3*', '3.1*', '*' to a glob over dotted versions such as '3.9'
    or '3.14t' (free-threaded); a selector of a CPython that no wheel is built for ('cp27', '3.8', '3.13t') is refused
    as unsupported."""
    text = selector.strip().lower()
    text = text.removeprefix("cp")
    if text in ("*", "3*", "3.*"):
        return "3.*"
    match = re.fullmatch(r"(?P<major>[23])(?:\.?(?P<minor>\d{1,2}))?(?P<threaded>t)?(?P<glob>\*)?", text)
    if match is None or not (match["minor"] or match["glob"]) or (match["threaded"] and not match["minor"]):
        raise WheelkitError(
            f"'{selector}' is not a Python selector: use forms like 39, 3.12, cp311, 3.14t, cp314t, '3*' or '3.1*' "
            f"(variants: {', '.join(KNOWN_VARIANTS)})"
        )
    pattern = f"{match['major']}.{match['minor'] or ''}{match['threaded'] or ''}{match['glob'] or ''}"
    supported = list(SUPPORTED)
    if not fnmatch.filter(supported, pattern):
        raise WheelkitError(
            f"'{selector}' selects CPython {pattern}, which cablesim does not build wheels for: the supported "
            f"versions are {SUPPORTED[0]}-{SUPPORTED[len(SUPPORTED_MINORS) - 1]} and "
            f"{', '.join(SUPPORTED[len(SUPPORTED_MINORS):])} (free-threaded)"
        )
    return pattern


def select(arguments: Sequence[str], found: Sequence[Interpreter], pythons: Sequence[str] | None = None,
           variants_by_default: Sequence[str] = ()) -> Selection:
    """Split posargs into Python selectors and variant words and match them against the interpreters found.

    No selector, and a glob ('3*', '3.1*'), mean the interpreters found among `pythons` ([tool.wheelkit]; None: all
    found); an exact selector (3.14t) takes the one it names even outside them. No variant word means
    variants_by_default. A selector that matches nothing is an error listing what was found.
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
    if not variants and not any(a.strip().lower() in ALWAYS_ON_VARIANTS for a in arguments):
        variants = [v for v in variants_by_default if v != "default"]
        if variants and "default" in variants_by_default:
            variants.insert(0, "default")
    configured = [i for i in found if pythons is None or i.dotted in pythons]
    if not patterns:
        if not configured:
            raise WheelkitError(f"none of the Pythons found ({', '.join(i.dotted for i in found)}) is among the "
                                f"configured ones ({', '.join(pythons or ())}): see [tool.wheelkit] pythons")
        return Selection(tuple(sorted(configured, key=lambda i: (i.free_threaded, i))), tuple(variants))
    chosen: list[Interpreter] = []
    for original, pattern in patterns:
        pool = configured if "*" in pattern else found
        matches = [i for i in pool if fnmatch.fnmatch(i.dotted, pattern)]
        if not matches:
            available = ", ".join(f"{i.dotted} ({i.path})" for i in found)
            raise WheelkitError(f"no Python matches '{original}'; found: {available}")
        chosen.extend(m for m in matches if m not in chosen)
    return Selection(tuple(sorted(chosen, key=lambda i: (i.free_threaded, i))), tuple(variants))
