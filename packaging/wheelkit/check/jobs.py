"""What `nox -s test_wheels -- [PYTHON [TARGET]]` means: jobs, each a wheel (or a pip spec) with its interpreter."""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from packaging.version import InvalidVersion, Version

from ..errors import WheelkitError
from ..files import safe_extract
from ..interpreters import Interpreter, discover, resolve
from ..wheelfile import parse_wheel_name, wheels_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One thing to test with one interpreter: a wheel file or a pip spec (its arguments, index options included)."""

    python: Interpreter | None
    wheel: Path | None = None
    spec: tuple[str, ...] = ()
    problem: str = ""  # why it cannot be tested (no interpreter for it)

    @property
    def label(self) -> str:
        if self.wheel is None:
            return shlex.join(self.spec)
        # A variant's wheel has the default wheel's name: its folder tells them apart.
        variant = self.wheel.parent.name if self.wheel.parent.parent.name == "wheelhouse" else ""
        return f"{variant}/{self.wheel.name}" if variant else self.wheel.name


def _fits(wheel: Path, python: Interpreter) -> bool:
    try:
        return python.installs(parse_wheel_name(wheel.name).tags)
    except WheelkitError:
        return False


def _newest(wheels: Sequence[Path]) -> list[Path]:
    """Per distribution, the wheel of the highest version (several with the same version are all kept)."""
    groups: dict[str, list[Path]] = {}
    for wheel in wheels:
        groups.setdefault(parse_wheel_name(wheel.name).distribution.lower(), []).append(wheel)
    chosen: list[Path] = []
    for members in groups.values():
        def key(path: Path) -> Any:
            try:
                return (1, Version(parse_wheel_name(path.name).version))
            except InvalidVersion:
                return (0, path.stat().st_mtime)

        best = max(key(p) for p in members)
        chosen += [p for p in members if key(p) == best]
    return sorted(chosen)


def pick_wheels(folder: Path, python: Interpreter, what: str) -> list[Path]:
    """The wheels under folder that this interpreter installs (the newest version of each distribution)."""
    found = wheels_in(folder)
    if not found:
        raise WheelkitError(f"no wheels in {what}: build them with `nox -s build_linux`, or give a wheel file")
    fitting = [w for w in found if _fits(w, python)]
    if not fitting:
        names = ", ".join(w.name for w in found)
        raise WheelkitError(
            f"none of the wheels in {what} fits CPython {python.dotted} on {python.machine}: {names}; "
            f"build one with `nox -s build_linux -- {python.dotted}` or pick another interpreter"
        )
    chosen = _newest(fitting)
    if len(fitting) > len(chosen):
        names = ", ".join(w.name for w in chosen)
        log.info("%s: testing the newest of %d fitting wheels: %s", what, len(fitting), names)
    return chosen


def looks_like_spec(target: str) -> bool:
    """A pip spec (with options) rather than a path: has spaces or options, or names no existing file."""
    if Path(target).exists():
        return False
    if target.startswith("-") or " " in target.strip():
        return True
    return not target.endswith((".whl", ".zip")) and "/" not in target and os.sep not in target


def resolve_jobs(
    python: str | None,
    target: str | None,
    *,
    wheelhouse: Path,
    unpack_dir: Path,
    interpreters: Callable[[], list[Interpreter]] = discover,
) -> list[Job]:
    """What `test_wheels -- [PYTHON [WHEEL_OR_SPEC]]` means: jobs, each with its interpreter.

    No arguments: every wheel of the wheelhouse (and of its variant folders, such as coreneuron/) with the
    interpreter that fits it. PYTHON only: the wheelhouse's wheels for it. A zip is unpacked (safely) into
    unpack_dir first. Every path is made absolute here: the checks run in an empty folder of their own.
    """
    wheelhouse, unpack_dir = Path(wheelhouse).resolve(), Path(unpack_dir).resolve()
    if python is None:
        every = sorted([*Path(wheelhouse).glob("*.whl"), *Path(wheelhouse).glob("*/*.whl")])
        if not every:
            raise WheelkitError(f"no wheels in {wheelhouse}: run `nox -s build_linux` first, or pass PYTHON WHEEL")
        # Builds of earlier versions stay in the wheelhouse: the newest build is what is meant.
        wheels = sorted(_newest(every))
        if len(wheels) < len(every):
            log.info("testing the newest version's %d wheel(s); %d older one(s) left out (name them to test them)",
                     len(wheels), len(every) - len(wheels))
        found = interpreters()
        jobs = []
        for wheel in wheels:
            match = next((i for i in reversed(found) if _fits(wheel, i)), None)
            problem = "" if match else (
                f"no interpreter on this machine installs {wheel.name}: install that CPython (pyenv install 3.X) "
                "or pass PYTHON explicitly")
            jobs.append(Job(match, wheel=wheel, problem=problem))
        return sorted(jobs, key=lambda j: (j.python.version if j.python else (9, 9, 9), j.label))
    interpreter = resolve_interpreter(python, interpreters)
    if target is None:
        return [Job(interpreter, wheel=w) for w in pick_wheels(Path(wheelhouse), interpreter, str(wheelhouse))]
    if looks_like_spec(target):
        return [Job(interpreter, spec=tuple(shlex.split(target)))]
    if not Path(target).exists():
        raise WheelkitError(f"{target}: no such file or folder; give a wheel, a folder of wheels, a zip or a pip spec")
    path = Path(target).resolve()
    if path.is_dir():
        return [Job(interpreter, wheel=w) for w in pick_wheels(path, interpreter, target)]
    if path.suffix == ".zip":
        safe_extract(path, unpack_dir)
        return [Job(interpreter, wheel=w) for w in pick_wheels(unpack_dir, interpreter, f"{path} (unpacked)")]
    if path.suffix == ".whl":
        parse_wheel_name(path.name)
        return [Job(interpreter, wheel=path.resolve())]
    raise WheelkitError(f"{target} is neither a wheel (.whl), a folder of wheels, a zip of artifacts nor a pip spec")


def resolve_interpreter(name: str, interpreters: Callable[[], list[Interpreter]] = discover) -> Interpreter:
    """A path, or python3.9, 3.9, 39, cp39: the interpreters found on this machine first (a pyenv shim on PATH
    may not run), then PATH."""
    if os.sep in name:
        return resolve(name)
    return resolve(name, interpreters())
