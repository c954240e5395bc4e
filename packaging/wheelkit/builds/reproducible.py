"""Byte-identical rebuilds (docs/packaging.md): the time every step gets (SOURCE_DATE_EPOCH, the commit's), the
deterministic debug archive, the facts of a wheel's SBOM, and --check-reproducible (build again in a second clone at
another path, with another jobs count and its own build folders, and compare)."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Callable

from .. import process
from ..diff import diff_archives, diff_wheels, render
from ..errors import WheelkitError
from ..files import sha256
from ..mpi_pins import pinned_versions
from ..native import is_vendored
from ..sbom import BuildFacts, vendored_origins
from ..version import dirty_files

EPOCH = "SOURCE_DATE_EPOCH"
# the implementation of a shim (libcablesim_mpi_<name>.so) -> (its name, the sonames it loads at run time)
MPI_ABIS = {"mpich": ("MPICH", "libmpich.so.12, libmpi.so.12"), "openmpi": ("Open MPI", "libmpi.so.40")}
CHECK_FLAG = "--check-reproducible"


def source_date_epoch(root: Path, environ: Mapping[str, str]) -> str | None:
    """SOURCE_DATE_EPOCH as given, else the commit's time (git log -1 --format=%ct): one time for every build of a
    commit, whatever the clock. A pinned version or uncommitted changes keep the commit's time: it says what the build
    started from. None outside a git checkout (the archives then get fixed times)."""
    if environ.get(EPOCH, "").isdigit():
        return environ[EPOCH]
    done = process.run(["git", "log", "-1", "--format=%ct"], cwd=root)
    text = done.stdout.strip()
    return text if done.returncode == 0 and text.isdigit() else None


def write_debug_archive(archive: Path, folder: Path, epoch: int | None) -> Path:
    """A .tar.gz of folder's tree, deterministic: members sorted by name, at the epoch's time, owned by 0:0 without
    names, modes 644 or 755 (executables and folders); a gzip header with the epoch and no file name (tarfile's w:gz
    writes the clock's time and the archive's name there)."""
    mtime = epoch or 0
    paths = sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()) if folder.is_dir() else []
    with archive.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
            info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return archive


def compiler(build_dir: Path, run: Callable[[Sequence[str]], str] | None = None) -> tuple[str, str]:
    """(name, version) of the C++ compiler, from CMake's record of it in the build folder, else `c++ --version`'s
    first line."""
    for path in sorted(build_dir.glob("CMakeFiles/*/CMakeCXXCompiler.cmake")):
        text = path.read_text(errors="replace")
        name = re.search(r'set\(CMAKE_CXX_COMPILER_ID "([^"]*)"\)', text)
        version = re.search(r'set\(CMAKE_CXX_COMPILER_VERSION "([^"]*)"\)', text)
        if name and version and name[1]:
            return name[1], version[1]
    asked = (run or _first_line)(["c++", "--version"])
    return ("c++", asked) if asked else ("", "")


def _first_line(command: Sequence[str]) -> str:
    done = process.run(command, timeout=30)
    return done.stdout.splitlines()[0].strip() if done.returncode == 0 and done.stdout.strip() else ""


def installed_version(environment: Path, distribution: str) -> str:
    """The version of a distribution installed in a build environment (its .dist-info folder's name), '' if none."""
    for info in sorted(environment.glob(f"lib*/python*/site-packages/{distribution}-*.dist-info")):
        return info.name[len(distribution) + 1: -len(".dist-info")]
    return ""


def mpi_abis(root: Path, members: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
    """(implementation, sonames, headers' version) of each MPI shim the wheel holds, the version from the headers'
    pins (mpi_pins: src/mpi/headers/<name>-<version>; '' unless there is exactly one)."""
    pinned = pinned_versions(root)
    found = []
    for name, (implementation, sonames) in sorted(MPI_ABIS.items()):
        shipped = any(PurePosixPath(m).name.startswith(f"libcablesim_mpi_{name}.") for m in members)
        versions = pinned.get(name, [])
        if shipped:
            found.append((implementation, sonames, versions[0] if len(versions) == 1 else ""))
    return tuple(found)


def build_facts(root: Path, build_dir: Path, environment: Path, members: Sequence[str]) -> BuildFacts:
    """What the SBOM says beyond the wheel's files: the compiler, pybind11 from the build environment, the MPI
    ABIs, and where each vendored library came from."""
    pybind11 = installed_version(environment, "pybind11")
    return BuildFacts(compiler=compiler(build_dir), compiled_in=(("pybind11", pybind11),) if pybind11 else (),
                      mpi_abis=mpi_abis(root, members),
                      origins=vendored_origins([m for m in members if is_vendored(m)]))


# --- the check -----------------------------------------------------------------------------------------------------


def without_check_flag(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if a != CHECK_FLAG]


def rebuild_argv(argv: Sequence[str], jobs: int) -> list[str]:
    """The build's arguments for the second build: the same, with another jobs count."""
    kept: list[str] = []
    skip = False
    for argument in without_check_flag(argv):
        if skip:
            skip = False
            continue
        if argument in ("--jobs", "-j"):
            skip = True
            continue
        if argument.startswith(("--jobs=", "-j")):
            continue
        kept.append(argument)
    return [*kept, "--jobs", str(jobs)]


def clone_commit(root: Path, destination: Path) -> str:
    """A clone of root's commit at destination (no working-tree changes come along); returns the commit."""
    commit = process.run_captured(["git", "-C", str(root), "rev-parse", "HEAD"], "asking git for the commit").strip()
    process.run_captured(["git", "clone", "--quiet", "--no-checkout", str(root), str(destination)], "cloning")
    process.run_captured(["git", "-C", str(destination), "checkout", "--quiet", "--detach", commit], "checking out")
    return commit


def check_reproducible(root: Path, target: str, argv: Sequence[str], built: Sequence[Path], wheelhouse: Path,
                       emit: Callable[[str], None], *, jobs: int | None = None,
                       environ: Mapping[str, str] | None = None) -> None:
    """Build again in a clone of the commit at another path (its own build folders; another jobs count, one compile
    job) and compare every built wheel and its debug archive with the rebuild's: sha256 of both, and wheel diff's
    report on a mismatch. Raises WheelkitError when any differs; the clone is then kept to look into."""
    environ = dict(os.environ if environ is None else environ)
    dirty = dirty_files(root)
    if dirty:
        raise WheelkitError(f"{CHECK_FLAG} rebuilds the commit in a clone, which has none of the {len(dirty)} "
                            f"uncommitted change(s) ({', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}): "
                            "commit them, or run it in a clean clone")
    files = [f for wheel in built for f in (wheel, wheel.with_name(wheel.name[:-len(".whl")] + ".debug.tar.gz"))
             if f.exists()]
    started = time.perf_counter()
    clone_parent = Path(tempfile.mkdtemp(prefix="cablesim-rebuild-"))
    clone = clone_parent / "cablesim"
    emit(f"# {CHECK_FLAG}: building again in {clone}")
    commit = clone_commit(root, clone)
    env = {key: value for key, value in environ.items() if key != "CABLESIM_BUILD_ROOT"}  # its own build folders
    parallel = environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "")
    env["CMAKE_BUILD_PARALLEL_LEVEL"] = "2" if parallel == "1" else "1"
    env["PYTHONPATH"] = os.pathsep.join([str(clone / "packaging"), *filter(None, [environ.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "wheelkit", "build", target, *rebuild_argv(argv, 2 if jobs == 1 else 1)]
    log_path = clone_parent / "rebuild.log"
    process.run_logged(command, log_path, env, f"the rebuild in {clone} (commit {commit[:12]})", cwd=clone)
    lines, differ = [], []
    for ours in files:
        theirs = clone / "wheelhouse" / ours.relative_to(wheelhouse)
        if not theirs.exists():
            differ.append(f"{ours.name}: the rebuild made no such file")
            continue
        mine, other = sha256(ours), sha256(theirs)
        lines.append(f"{ours.name}\n  sha256 {mine} (this build)\n  sha256 {other} (rebuild) "
                     f"{'identical' if mine == other else 'DIFFERENT'}")
        if mine != other:
            report = render(diff_wheels(ours, theirs)) if ours.suffix == ".whl" else \
                "\n".join(f"  {line}" for line in [f"{ours.name}:", *diff_archives(ours, theirs)])
            differ.append(report)
    emit("\n".join(lines))
    seconds = time.perf_counter() - started
    if differ:
        raise WheelkitError(f"not reproducible: {len(differ)} file(s) differ between {wheelhouse} and the rebuild in "
                            f"{clone} (kept; its log: {log_path}):\n" + "\n".join(differ))
    shutil.rmtree(clone_parent, ignore_errors=True)
    emit(f"# {CHECK_FLAG}: {len(files)} file(s) byte-identical in a second clone ({seconds:.0f} s for the rebuild)")
