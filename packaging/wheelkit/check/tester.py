"""One job of `nox -s test_wheels`: a work folder with a fresh virtual environment (uv when available), every command
run from an empty folder so the source tree can never be imported, and the checks in order (static ones on the file,
then the installed wheel), each passed, failed or skipped with its time. The work folder is kept when a check failed.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ..errors import WheelkitError
from ..process import Completed, Runner, run, tail
from ..venv import VirtualEnv, install_command
from ..wheelfile import WheelContents, wheels_in
from . import installed, mpi_sources, ring, static
from .jobs import Job
from .results import FAILED, PASSED, SELFTEST_CHECK, SKIPPED, CheckResult, Outcome, Skipped, WheelReport

log = logging.getLogger(__name__)

TIMEOUT = 300.0  # seconds for one command: a hung MPI run must not hang the session
# Variables that would let the interpreter see something else than the installed wheel.
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONUSERBASE", "VIRTUAL_ENV",
             "CONDA_PREFIX", "__PYVENV_LAUNCHER__")


@dataclass
class Tools:
    """The programs the checks use; None where absent (the check says so)."""

    uv: str | None = field(default_factory=lambda: shutil.which("uv"))
    check_wheel_contents: str | None = field(default_factory=lambda: shutil.which("check-wheel-contents"))
    which: Callable[[str], str | None] = shutil.which  # finds the MPI launchers (and brew)
    wheel_names: Callable[[str, Mapping[str, str]], list[str] | None] = mpi_sources.index_wheel_names  # an index's
    homebrew: Sequence[Path] = mpi_sources.HOMEBREW_OPT  # where Homebrew's formulas are (opt/<formula>)


class Check(NamedTuple):
    name: str
    run: Callable[[WheelTester], Outcome]
    needs_install: bool


class WheelTester:
    """Runs every check of one job and returns its report; what the checks share (the job, the opened wheel, the
    environment, what the installed package says about itself) lives here."""

    def __init__(
        self,
        job: Job,
        *,
        use_venv: bool = True,
        tools: Tools | None = None,
        runner: Runner = run,
        environ: Mapping[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
        workdir: Path | None = None,
        keep: bool = False,
        package: str = "cablesim",
        reproduce: str = "",
        select: Sequence[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.job = job
        self.use_venv = use_venv
        self.tools = tools or Tools()
        self.runner = runner
        self.environ = dict(os.environ if environ is None else environ)
        self.progress = progress or (lambda line: log.info("%s", line))
        self.keep = keep
        self.package = package
        self.reproduce = reproduce
        self.select = None if select is None else tuple(select)  # run only these checks (by name)
        self.log_path = log_path  # the job's own log: every command with its output, and every check's line
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="cablesim-test-wheels-"))
        self.run_dir = self.workdir / "run"  # an empty folder: nothing to import from
        self.venv = VirtualEnv(self.workdir / "venv")
        self.wheel: Path | None = job.wheel
        self.contents: WheelContents | None = None
        self.is_installed = False
        self.installed: dict[str, Any] | None = None  # what the installed package says about itself
        self.info: dict[str, Any] | None = None  # its build_info() (ring.build_info)
        self.serial: dict[str, Any] | None = None  # the serial ring's result (ring.serial_ring)
        self._last: Completed | None = None
        self._logging = threading.Lock()
        self._background: ThreadPoolExecutor | None = None
        self._started: dict[str, Future[Any]] = {}
        self.background_seconds: dict[str, float] = {}

    # --- environment ----------------------------------------------------------------------------------------------
    @property
    def python(self) -> Path:
        """The interpreter of the environment the wheel goes into."""
        assert self.job.python is not None
        return self.venv.python if self.use_venv else self.job.python.path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if k not in _SCRUBBED}
        env["PYTHONNOUSERSITE"] = "1"
        # Temporary files of the commands (Open MPI's session folder ompi.*, 8 MB) go with the work folder.
        env["TMPDIR"] = str(self.workdir / "tmp")
        env["UV_PYTHON_DOWNLOADS"] = "never"
        env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        if self.use_venv:
            env["VIRTUAL_ENV"] = str(self.venv.root)
            env["PATH"] = f"{self.venv.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, command: Sequence[str | Path], what: str, *, check: bool = True,
            env: Mapping[str, str] | None = None, timeout: float = TIMEOUT,
            shown: Sequence[str | Path] | None = None, remember: bool = True) -> Completed:
        """Run a command in the empty folder; `shown` is the shorter command to reproduce it with, if any; remember
        False: not the command a failed check names (one run in the background while a check runs)."""
        started = time.perf_counter()
        completed = self.runner([str(c) for c in command], cwd=self.run_dir, env=env or self.env(), timeout=timeout)
        self._log(f"$ {shlex.join(completed.command)}\n{completed.stdout}{completed.stderr}"
                  f"# exit {completed.returncode} after {time.perf_counter() - started:.2f} s")
        if remember:
            self._last = completed if shown is None else Completed(tuple(map(str, shown)), completed.returncode, "", "")
        if check and completed.returncode != 0:
            output = tail(completed.stderr + "\n" + completed.stdout if completed.stderr else completed.stdout)
            command_line = "" if remember else f"\n(the command: {shlex.join(completed.command)})"
            raise WheelkitError(f"{what} failed (exit {completed.returncode}):\n{output}{command_line}")
        return completed

    def python_code(self, code: str, what: str, **options: Any) -> Completed:
        return self.run([self.python, "-I", "-c", code], what, **options)

    def python_code_in(self, python: Path, code: str, what: str) -> str:
        """The last line another environment's python prints for code."""
        return self.run([python, "-c", code], what).stdout.strip().splitlines()[-1]

    def _log(self, text: str) -> None:
        if self.log_path is not None:
            with self._logging, self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(text.rstrip("\n") + "\n")

    def _reproduce(self) -> str:
        if self._last is None:
            return ""
        return f"cd {shlex.quote(str(self.run_dir))} && {shlex.join(self._last.command)}"

    def start(self, key: str, work: Callable[[], Any]) -> None:
        """Start work (commands that touch nothing a check uses) in the background; started(key) waits for it."""
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=3, thread_name_prefix="test-wheel-background")

        def timed() -> tuple[Any, float]:
            began = time.perf_counter()
            return work(), time.perf_counter() - began

        self._started[key] = self._background.submit(timed)

    def started(self, key: str) -> Any:
        """What the work started as key gave (its error raised here), or None when none was started; the seconds it
        took are in self.background_seconds[key] (a check's own time is then only its wait)."""
        future = self._started.pop(key, None)
        if future is None:
            return None
        result, self.background_seconds[key] = future.result()
        return result

    def _stop_background(self) -> None:
        """Wait for the background work (an interrupt stops its commands) before the work folder goes."""
        if self._background is not None:
            wait(self._started.values())
            self._background.shutdown(wait=True)
            self._background, self._started = None, {}

    # --- the job -------------------------------------------------------------------------------------------------
    def checks(self) -> list[Check]:
        """The checks in the order they run: the file first, then the installed wheel. check-wheel-contents and the
        oldest NumPy run in the background from the start (each needs nothing of the others): they come last."""
        programs = self.contents.entry_points() if self.contents is not None else {}
        program_checks = [Check(f"program {name}", installed.program(name), True) for name in sorted(programs)]
        if not programs:
            program_checks.append(Check("programs", lambda t: Skipped("the wheel has no command-line programs"), True))
        return [
            Check("tags", static.tags, False),
            Check("RECORD", static.record, False),
            Check("metadata", static.metadata, False),
            Check("no MPI bundled", static.no_mpi, False),
            Check("vendored libraries", static.vendored, False),
            Check("SBOM", static.sbom, False),
            Check("install", WheelTester.install, False),
            Check("import", installed.imports, True),
            Check("version", installed.version, True),
            Check(SELFTEST_CHECK, installed.selftest, True),
            Check("threads", installed.threads, True),
            *program_checks,
            Check("embedded python", installed.embedded, True),
            Check("engines", ring.engines, True),
            *[Check(f"MPI {name}", ring.mpi(name), True) for name in ring.MPI_IMPLEMENTATIONS],
            Check("oldest NumPy", installed.oldest_numpy, True),  # in an environment of its own
            Check("check-wheel-contents", static.wheel_contents, False),
        ]

    def test(self) -> WheelReport:
        python = self.job.python
        report = WheelReport(python=python.dotted if python else "-", label=self.job.label, wheel=self.job.wheel,
                             reproduce=self.reproduce, log=self.log_path)
        started = time.perf_counter()
        interrupted = False
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text(f"# {self.job.label} with {python.path if python else 'no interpreter'}\n")
        try:
            if python is None or self.job.problem:
                self._record(report, CheckResult("interpreter", FAILED, 0.0, self.job.problem or "no interpreter"))
                return report
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "tmp").mkdir(exist_ok=True)
            if self.job.wheel is None:
                self._step(report, Check("download", WheelTester.download, False))
                if self.wheel is None:
                    return report
            assert self.wheel is not None
            report.wheel = self.wheel
            try:
                self.contents = WheelContents(self.wheel)
            except WheelkitError as error:
                self._record(report, CheckResult("open wheel", FAILED, 0.0, str(error)))
                return report
            chosen = [check for check in self.checks() if self.select is None or check.name in self.select
                      or check.name.split(" ")[0] in self.select]
            # What needs nothing of the tested environment starts now, in the background (1-2 s of commands each).
            if any(check.name.startswith("MPI ") for check in chosen):
                ring.prepare_pypi_mpis(self)
            if any(check.name == "oldest NumPy" for check in chosen):
                installed.prepare_oldest_numpy(self)
            if any(check.name == "check-wheel-contents" for check in chosen):
                static.prepare_wheel_contents(self)
            for check in chosen:
                self._step(report, check)
            return report
        except KeyboardInterrupt:  # Interrupted by a signal: nothing of this job is kept
            interrupted = True
            raise
        finally:
            self._stop_background()
            report.seconds = time.perf_counter() - started
            if self.contents is not None:
                self.contents.close()
            used = self.workdir.exists() and any(p.name not in ("run", "tmp") for p in self.workdir.iterdir())
            if (report.failed or self.keep) and used and not interrupted:
                report.kept = self.workdir
            elif self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _step(self, report: WheelReport, check: Check) -> None:
        if check.needs_install and not self.is_installed:
            self._record(report, CheckResult(check.name, SKIPPED, 0.0, "not installed (see the install check)"))
            return
        if check.needs_install and check.name != "import" and self.installed is None:
            why = f"{self.package} does not import (see the import check)"
            self._record(report, CheckResult(check.name, SKIPPED, 0.0, why))
            return
        self._last = None
        started = time.perf_counter()
        try:
            outcome = check.run(self)
        except WheelkitError as error:
            result = CheckResult(check.name, FAILED, time.perf_counter() - started, str(error), self._reproduce())
        else:
            seconds = time.perf_counter() - started
            if isinstance(outcome, Skipped):
                result = CheckResult(check.name, SKIPPED, seconds, outcome.reason)
            else:
                result = CheckResult(check.name, PASSED, seconds, outcome)
        self._record(report, result)

    def _record(self, report: WheelReport, result: CheckResult) -> None:
        report.results.append(result)
        first_line = result.detail.splitlines()[0] if result.detail else ""
        python = self.job.python.dotted if self.job.python else "-"
        line = f"{result.status.upper():7s} {python:5s} {result.name:22s} {result.seconds:6.2f} s  {first_line}"
        self._log(f"{line}\n{result.detail}" if result.status == FAILED else line)
        self.progress(line)

    # --- getting the wheel in ---------------------------------------------------------------------------------------
    def create_venv(self, root: VirtualEnv | None = None, *, seed: bool = False) -> None:
        """Make the job's environment (or another one, root) from the job's interpreter."""
        assert self.job.python is not None
        environment = root or self.venv
        what = "creating the virtual environment" + (" with uv" if self.tools.uv else "")
        self.run(environment.create_command(self.job.python.path, uv=self.tools.uv, seed=seed), what)

    def download(self) -> Outcome:
        """Resolve the pip spec with pip itself (in the new environment) to the wheel it would install."""
        if self.use_venv:
            self.create_venv(seed=True)
        destination = self.workdir / "download"
        destination.mkdir(parents=True, exist_ok=True)
        self.run([self.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", destination,
                  *self.job.spec], f"pip download {shlex.join(self.job.spec)}")
        wheels = wheels_in(destination)
        if len(wheels) != 1:
            raise WheelkitError(f"pip download {shlex.join(self.job.spec)} gave {len(wheels)} wheels, expected one")
        self.wheel = wheels[0]
        return f"{self.wheel.name} from {shlex.join(self.job.spec)}"

    def install(self) -> Outcome:
        assert self.wheel is not None
        if self.use_venv and not self.venv.root.exists():
            self.create_venv()
        command = install_command(self.python, ["--force-reinstall", self.wheel], uv=self.tools.uv)
        self.run(command, f"installing {self.wheel.name}")
        self.is_installed = True
        return f"into {self.venv.root if self.use_venv else self.job.python}"
