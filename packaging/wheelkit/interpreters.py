"""Finding CPython interpreters (the build image's /opt/python, else PATH, python.org's macOS folders and pyenv's) and
asking each what it is and which wheels it installs.

Hand-written discovery: no PyPA library finds the interpreters of a machine, and each is asked, so that two paths to
one interpreter count once."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.tags import Tag, parse_tag

import packaging

from .compat import cpython_tags_for, host_platforms, wheel_fits
from .config import FREE_THREADED_FROM, NEWEST_FREE_THREADED, NEWEST_SUPPORTED, OLDEST_SUPPORTED, supported
from .errors import WheelkitError
from .process import run

log = logging.getLogger(__name__)

MANYLINUX_PYTHONS = Path("/opt/python")
# Where python.org's macOS installers put each version (what NEURON's macOS wheels are built with).
MACOS_FRAMEWORK_PYTHONS = Path("/Library/Frameworks/Python.framework/Versions")
# python.org's free-threaded builds (the installer's option) live in a framework of their own.
MACOS_FREE_THREADED_FRAMEWORK = "PythonT.framework"
SUPPORTED_MINORS = range(OLDEST_SUPPORTED[1], NEWEST_SUPPORTED[1] + 1)  # CPython 3.9 .. 3.15 (config.py)
FREE_THREADED_MINORS = range(FREE_THREADED_FROM[1], NEWEST_FREE_THREADED[1] + 1)  # 3.14t

# Run in the interpreter asked: its facts, and its own sys_tags() and marker environment from this process's
# packaging, loaded by its path (never anything else of this environment); None where that packaging does not run.
_PROBE = """
import json, platform, sys, sysconfig
facts = {'version': list(sys.version_info[:3]), 'implementation': sys.implementation.name,
         'executable': sys.executable, 'soabi': sysconfig.get_config_var('SOABI') or '',
         'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
         'debug': bool(sysconfig.get_config_var('Py_DEBUG')), 'machine': platform.machine(),
         'in_venv': sys.prefix != sys.base_prefix, 'base_prefix': sys.base_prefix, 'tags': None, 'environment': None}
try:
    import importlib.util
    spec = importlib.util.spec_from_file_location('packaging', sys.argv[1], submodule_search_locations=[sys.argv[2]])
    module = importlib.util.module_from_spec(spec)
    sys.modules['packaging'] = module
    spec.loader.exec_module(module)
    from packaging.markers import default_environment
    from packaging.tags import sys_tags
    facts['tags'] = [str(tag) for tag in sys_tags()]
    facts['environment'] = dict(default_environment())
except Exception:
    pass
print(json.dumps(facts))
"""
_PACKAGING = Path(packaging.__file__).parent


@dataclass(frozen=True, order=True)
class Interpreter:
    """One CPython: its version, where it is, and what it installs (its sys_tags(), best first) and evaluates
    markers with."""

    version: tuple[int, int, int]
    path: Path
    machine: str = "x86_64"
    free_threaded: bool = field(default=False, compare=False)
    tags: tuple[Tag, ...] = field(default=(), compare=False, repr=False)
    environment: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def minor(self) -> tuple[int, int]:
        return self.version[:2]

    @property
    def tag(self) -> str:
        """The CPython tag of its wheels, e.g. cp311."""
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def abi(self) -> str:
        """The ABI tag of its wheels, which names its builds too: cp311, cp314t (free-threaded)."""
        return f"{self.tag}{'t' if self.free_threaded else ''}"

    @property
    def dotted(self) -> str:
        return f"{self.version[0]}.{self.version[1]}{'t' if self.free_threaded else ''}"

    def installs(self, wheel_tags: Iterable[Tag]) -> bool:
        """Whether it installs a wheel with these tags."""
        return wheel_fits(wheel_tags, self.tags)

    def markers(self) -> dict[str, str]:
        """Its marker environment (python_version, sys_platform, ...)."""
        return dict(self.environment)

    def __str__(self) -> str:
        return f"CPython {'.'.join(map(str, self.version))}{'t' if self.free_threaded else ''} ({self.path})"


def candidate_paths(
    manylinux_root: Path = MANYLINUX_PYTHONS,
    pyenv_root: Path | None = None,
    path_env: str | None = None,
    framework_root: Path = MACOS_FRAMEWORK_PYTHONS,
) -> list[Path]:
    """Interpreter paths to probe, best source first, free-threaded ones (cp314t-cp314t, python3.14t) included.
    Inside the build image only /opt/python counts."""
    manylinux = sorted(manylinux_root.glob("cp3*/bin/python")) if manylinux_root.is_dir() else []
    if manylinux:
        return manylinux
    found: list[Path] = []
    search_path = os.environ.get("PATH", "") if path_env is None else path_env
    names = [(f"python3.{minor}", f"py3.{minor}") for minor in SUPPORTED_MINORS]
    names += [(f"python3.{minor}t", f"py3.{minor}t") for minor in FREE_THREADED_MINORS]
    for name in (name for pair in names for name in pair):
        located = shutil.which(name, path=search_path)
        if located:
            found.append(Path(located))
    for name in ("python3", "python"):
        located = shutil.which(name, path=search_path)
        if located:
            found.append(Path(located))
    threaded_root = framework_root.parent.parent / MACOS_FREE_THREADED_FRAMEWORK / "Versions"
    frameworks = [framework_root / f"3.{minor}" / "bin" / f"python3.{minor}" for minor in SUPPORTED_MINORS]
    frameworks += [threaded_root / f"3.{minor}" / "bin" / f"python3.{minor}t" for minor in FREE_THREADED_MINORS]
    found += [framework for framework in frameworks if framework.exists()]
    root = pyenv_root if pyenv_root is not None else _pyenv_root()
    if root is not None and (root / "versions").is_dir():
        for version_dir in sorted((root / "versions").iterdir()):
            # pyenv names a free-threaded build 3.14.0t; its python3 may be the GIL one's name, python3.14t is not.
            binaries = sorted((version_dir / "bin").glob("python3.*t")) if version_dir.name.endswith("t") else []
            binary = binaries[0] if binaries else version_dir / "bin" / "python3"
            if binary.exists():
                found.append(binary)
    return found


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def probe(path: Path, timeout: float = 30.0) -> Interpreter | None:
    """Ask an interpreter what it is; None if it is not a usable CPython (logged, not raised)."""
    try:
        result = run([str(path), "-I", "-c", _PROBE, str(_PACKAGING / "__init__.py"), str(_PACKAGING)],
                     timeout=timeout)
    except OSError as error:  # not executable
        log.debug("skipping %s: %s", path, error)
        return None
    if result.returncode != 0:
        log.debug("skipping %s: exit %s: %s", path, result.returncode, result.stderr.strip()[-200:])
        return None
    return from_facts(path, json.loads(result.stdout))


def from_facts(path: Path, info: dict[str, Any]) -> Interpreter | None:
    """The interpreter a probe describes; its tags and marker environment computed here with packaging when it
    could not run this packaging itself (an interpreter older than packaging supports)."""
    if info["implementation"] != "cpython":
        return None
    major, minor, micro = (int(part) for part in info["version"])
    if info.get("in_venv"):
        # A virtual environment's python (nox's own, say, first on PATH): build with the interpreter it was made from,
        # so that build environments never nest in a session's environment.
        base = Path(info["base_prefix"]) / "bin" / f"python{major}.{minor}{'t' if info['free_threaded'] else ''}"
        if not base.exists():
            log.debug("skipping %s: a virtual environment whose base interpreter %s is missing", path, base)
            return None
        path = base
    if info.get("tags") is not None:
        tags = tuple(tag for text in info["tags"] for tag in parse_tag(text))
        environment = dict(info["environment"])
    else:
        abi = f"cp{major}{minor}{'d' if info.get('debug') else ''}{'t' if info['free_threaded'] else ''}"
        tags = tuple(cpython_tags_for((major, minor), abi, host_platforms(info["machine"])))
        environment = {**default_environment(), "python_version": f"{major}.{minor}",
                       "python_full_version": f"{major}.{minor}.{micro}", "implementation_version": f"{major}.{minor}.{micro}",
                       "platform_machine": info["machine"]}
    return Interpreter(version=(major, minor, micro), path=path, machine=info["machine"],
                       free_threaded=bool(info["free_threaded"]), tags=tags,
                       environment=tuple(sorted(environment.items())))


def discover(paths: Sequence[Path] | None = None) -> list[Interpreter]:
    """Every supported CPython found, one per ABI (3.14 and 3.14t apart; the first source wins), oldest first, the
    free-threaded ones after the others. 3.13t stays out (config.FREE_THREADED_FROM)."""
    candidates = list(paths) if paths is not None else candidate_paths()
    with ThreadPoolExecutor(max_workers=8) as pool:
        probed = list(pool.map(probe, candidates))
    by_abi: dict[str, Interpreter] = {}
    for interpreter in probed:
        if interpreter is None or interpreter.version[0] != 3 or not supported(interpreter.dotted):
            continue
        by_abi.setdefault(interpreter.abi, interpreter)
    found = sorted(by_abi.values(), key=lambda i: (i.free_threaded, i))
    log.info("found %d CPython interpreters: %s", len(found), ", ".join(i.dotted for i in found) or "none")
    return found


def resolve(name_or_path: str, known: Iterable[Interpreter] = ()) -> Interpreter:
    """An interpreter named like python3.9, 3.9, 39, cp39, 3.14t, cp314t or given as a path."""
    for interpreter in known:
        names = (interpreter.dotted, interpreter.abi, interpreter.abi[2:], str(interpreter.path),
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
