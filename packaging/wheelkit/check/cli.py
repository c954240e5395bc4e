"""The arguments of `nox -s test_wheels` (NEURON's test_wheels.sh: PYTHON, a wheel, folder, zip or pip spec, and
use_venv) and the run over every job, the only part that knows about more than one wheel."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import process
from ..errors import Interrupted, WheelkitError, raise_on_usage_errors
from ..interpreters import Interpreter, discover
from .installed import SKIP_EMBEDDED_ENV
from .jobs import Job, resolve_jobs
from .report import failure_summary, summary_table
from .results import FAILED, CheckResult, WheelReport
from .tester import Tools, WheelTester

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    python: str | None
    target: str | None
    use_venv: bool
    keep: bool
    wheelhouse: Path | None
    jobs: int | None = None  # wheels tested at once; None: one per core
    logs: Path | None = None  # the folder of the jobs' logs; None: build/test_wheels/ under the checkout


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


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
    parser.add_argument("-j", "--jobs", type=int, default=None,
                        help=f"wheels tested at once (default: one per core, here {cores()}); 1: one after another")
    parser.add_argument("--logs", type=Path, default=None,
                        help="folder of the jobs' logs, one per wheel (default: build/test_wheels/)")
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
    if args.jobs is not None and args.jobs < 1:
        fail(f"--jobs must be at least 1, got {args.jobs}")
    return Options(args.python, args.target, flag in ("true", "1", "yes", "use_venv"), args.keep, args.wheelhouse,
                   args.jobs, args.logs)


def reproduce_command(job: Job, options: Options, prog: str = "nox -s test_wheels --") -> str:
    """The command that tests this job alone (a zip or folder is named as given: what is in it is re-picked)."""
    if job.python is None:
        return ""
    target = options.target or (str(job.wheel) if job.wheel is not None else shlex.join(job.spec))
    return f"{prog} {shlex.join([str(job.python.path), target])}{'' if options.use_venv else ' false'}"


def log_name(job: Job) -> str:
    """The job's log file: the interpreter and the wheel (or spec), made safe for a file name; the next run of the
    same job writes it again."""
    python = f"cp{job.python.version[0]}{job.python.version[1]}" if job.python else "none"
    return f"{python}-{re.sub(r'[^A-Za-z0-9._+-]+', '_', job.label)[:120]}.log"


def run_wheel_tests(
    options: Options,
    *,
    root: Path,
    tools: Tools | None = None,
    progress: Callable[[str], None] | None = None,
    interpreters: Callable[[], list[Interpreter]] = discover,
) -> list[WheelReport]:
    """Resolve what `options` name and test the jobs, up to options.jobs (one per core) at once, each with its own
    log; returns one report per job, in the order of the jobs whatever order they finish in. Each job is mostly
    subprocesses, so threads suffice. A job that breaks is a failed report, never the end of the others; an interrupt
    (process.STOP) stops every job's commands and removes their work folders."""
    wheelhouse = options.wheelhouse or root / "wheelhouse"
    unpack_dir = Path(tempfile.mkdtemp(prefix="cablesim-artifacts-"))
    reports: list[WheelReport] = []
    emitting = threading.Lock()

    def emit(line: str) -> None:
        with emitting:  # whole lines, whichever job says them
            (progress or log.info)(line)

    try:
        jobs = resolve_jobs(options.python, options.target, wheelhouse=wheelhouse, unpack_dir=unpack_dir,
                            interpreters=interpreters)
        logs = (options.logs or root / "build" / "test_wheels").resolve()

        def test(job: Job, log_path: Path) -> WheelReport:
            if process.STOP.reason:  # interrupted before this job began: it never does
                raise Interrupted(process.STOP.reason)
            emit(f"# Testing {job.label} with {job.python or 'no interpreter'} (log: {log_path})")
            tester = WheelTester(job, use_venv=options.use_venv, tools=tools, progress=emit, keep=options.keep,
                                 reproduce=reproduce_command(job, options), log_path=log_path)
            try:
                return tester.test()
            except Exception as error:  # a bug in a check: this job's failure, not the run's
                log.debug("job %s broke", job.label, exc_info=True)
                broken = WheelReport(python=job.python.dotted if job.python else "-", label=job.label,
                                     wheel=job.wheel, reproduce=reproduce_command(job, options), log=log_path)
                broken.results.append(CheckResult("job", FAILED, 0.0, f"{type(error).__name__}: {error}"))
                return broken

        workers = max(1, min(options.jobs or cores(), len(jobs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="test-wheel") as pool:
            futures: list[Future[WheelReport]] = [
                pool.submit(test, job, logs / log_name(job)) for job in jobs]
            try:
                for future in futures:
                    reports.append(future.result())
            except BaseException:
                # An interrupt: the jobs not started never start, the running ones end as their commands are
                # stopped, and each removes its work folder before the pool lets go.
                process.STOP.interrupt("SIGINT")
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return reports
    finally:
        # Kept only with a failed wheel unpacked there (its reproduce command names it), and then said so.
        keep_unpacked = False
        for report in reports:
            if report.kept and report.wheel is not None and report.wheel.resolve().is_relative_to(unpack_dir.resolve()):
                report.kept_unpacked, keep_unpacked = unpack_dir, True
        if not keep_unpacked:
            shutil.rmtree(unpack_dir, ignore_errors=True)


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit test [arguments]`: every job, the summary table, and what failed (exit 1). An interrupt
    is said in one line and ends with 128 + the signal's number, with no command and no work folder left behind."""
    logging.getLogger("wheelkit").setLevel(logging.INFO)  # the commands themselves are logged at DEBUG
    options = parse_test_args(argv)
    tools = Tools(check_wheel_contents=shutil.which("check-wheel-contents", path=str(Path(sys.executable).parent))
                  or shutil.which("check-wheel-contents"))
    process.stop_on_signals()
    try:
        reports = run_wheel_tests(options, root=Path.cwd(), tools=tools, progress=emit)
        if process.STOP.reason:  # after the last command: the run is still reported as interrupted
            raise Interrupted(process.STOP.reason)
    except Interrupted as stop:
        print(f"error: wheel tests interrupted ({stop.reason}): every test command was stopped and every work "
              "folder removed", file=sys.stderr, flush=True)
        process.STOP.finish()
        return 128 + (signal.SIGINT if stop.reason == "SIGINT" else signal.SIGTERM)
    emit(summary_table(reports))
    if any(report.failed for report in reports):
        raise WheelkitError(f"failed checks:\n{failure_summary(reports)}")
    return 0




