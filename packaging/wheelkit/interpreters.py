"""Finding CPython interpreters: the manylinux layout inside the build image, else the host's.

Inside the build image every CPython lives in /opt/python/cp3XY-cp3XY/bin/python. On a host we look at PATH
(python3.X names), python.org's macOS framework folders, pyenv's versions folder and the `py` launcher's names,
then ask each candidate for its version, so that two paths to one interpreter count once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .errors import WheelkitError
from .process import run

log = logging.getLogger(__name__)

MANYLINUX_PYTHONS = Path("/opt/python")
# Where python.org's macOS installers put each version (what NEURON's macOS wheels are built with).
MACOS_FRAMEWORK_PYTHONS = Path("/Library/Frameworks/Python.framework/Versions")
SUPPORTED_MINORS = range(9, 14)  # CPython 3.9 .. 3.13

_PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': list(sys.version_info[:3]), 'implementation': sys.implementation.name, "
    "'executable': sys.executable, 'soabi': sysconfig.get_config_var('SOABI') or '', "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), 'machine': platform.machine(), "
    "'in_venv': sys.prefix != sys.base_prefix, 'base_prefix': sys.base_prefix}))"
)


@dataclass(frozen=True, order=True)
class Interpreter:
    """One CPython: its version and where it is."""

    version: tuple[int, int, int]
    path: Path
    machine: str = "x86_64"

    @property
    def minor(self) -> tuple[int, int]:
        return self.version[:2]

    @property
    def tag(self) -> str:
        """The CPython tag of its wheels, e.g. cp311."""
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def dotted(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def __str__(self) -> str:
        return f"CPython {'.'.join(map(str, self.version))} ({self.path})"


def candidate_paths(
    manylinux_root: Path = MANYLINUX_PYTHONS,
    pyenv_root: Optional[Path] = None,
    path_env: Optional[str] = None,
    framework_root: Path = MACOS_FRAMEWORK_PYTHONS,
) -> list[Path]:
    """Interpreter paths to probe, best source first. Inside the build image only /opt/python counts."""
    manylinux = sorted(manylinux_root.glob("cp3*/bin/python")) if manylinux_root.is_dir() else []
    # Free-threaded builds (cp313t) need their own ABI tag: not supported yet.
    manylinux = [p for p in manylinux if not p.parent.parent.name.endswith("t")]
    if manylinux:
        return manylinux
    found: list[Path] = []
    search_path = os.environ.get("PATH", "") if path_env is None else path_env
    for minor in SUPPORTED_MINORS:
        for name in (f"python3.{minor}", f"py3.{minor}"):
            located = shutil.which(name, path=search_path)
            if located:
                found.append(Path(located))
    for name in ("python3", "python"):
        located = shutil.which(name, path=search_path)
        if located:
            found.append(Path(located))
    for minor in SUPPORTED_MINORS:
        framework = framework_root / f"3.{minor}" / "bin" / f"python3.{minor}"
        if framework.exists():
            found.append(framework)
    root = pyenv_root if pyenv_root is not None else _pyenv_root()
    if root is not None and (root / "versions").is_dir():
        for version_dir in sorted((root / "versions").iterdir()):
            binary = version_dir / "bin" / "python3"
            if binary.exists():
                found.append(binary)
    return found


def _pyenv_root() -> Optional[Path]:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def probe(path: Path, timeout: float = 30.0) -> Optional[Interpreter]:
    """Ask an interpreter what it is; None if it is not a usable CPython (logged, not raised)."""
    try:
        result = run([str(path), "-I", "-c", _PROBE], timeout=timeout)
    except OSError as error:  # not executable
        log.debug("skipping %s: %s", path, error)
        return None
    if result.returncode != 0:
        log.debug("skipping %s: exit %s: %s", path, result.returncode, result.stderr.strip()[-200:])
        return None
    info = json.loads(result.stdout)
    if info["implementation"] != "cpython" or info["free_threaded"]:
        return None
    version = tuple(info["version"])
    if info.get("in_venv"):
        # A virtual environment's python (nox's own, say, first on PATH): build with the interpreter it was made from,
        # so that build environments never nest in a session's environment.
        base = Path(info["base_prefix"]) / "bin" / f"python{version[0]}.{version[1]}"
        if not base.exists():
            log.debug("skipping %s: a virtual environment whose base interpreter %s is missing", path, base)
            return None
        path = base
    return Interpreter(version=(version[0], version[1], version[2]), path=path, machine=info["machine"])


def discover(paths: Optional[Sequence[Path]] = None) -> list[Interpreter]:
    """Every supported CPython found, one per minor version (the first source wins), oldest first."""
    candidates = list(paths) if paths is not None else candidate_paths()
    with ThreadPoolExecutor(max_workers=8) as pool:
        probed = list(pool.map(probe, candidates))
    by_minor: dict[tuple[int, int], Interpreter] = {}
    for interpreter in probed:
        if interpreter is None or interpreter.version[1] not in SUPPORTED_MINORS or interpreter.version[0] != 3:
            continue
        by_minor.setdefault(interpreter.minor, interpreter)
    found = sorted(by_minor.values())
    log.info("found %d CPython interpreters: %s", len(found), ", ".join(i.dotted for i in found) or "none")
    return found


def resolve(name_or_path: str, known: Iterable[Interpreter] = ()) -> Interpreter:
    """An interpreter named like python3.9, 3.9, 39, cp39 or given as a path."""
    for interpreter in known:
        names = (interpreter.dotted, interpreter.tag, interpreter.tag[2:], str(interpreter.path),
                 f"python{interpreter.dotted}")  # python3.9 when it is not on PATH but was found (pyenv)
        if name_or_path in names:
            return interpreter
    located = shutil.which(name_or_path) or (name_or_path if Path(name_or_path).exists() else None)
    if located is None:
        raise WheelkitError(
            f"no Python interpreter '{name_or_path}': give a name on PATH (python3.9), a path "
            "(/opt/python/cp39-cp39/bin/python) or a version found on this machine"
        )
    probed = probe(Path(located))
    if probed is None:
        raise WheelkitError(f"'{located}' is not a working CPython interpreter")
    return probed
