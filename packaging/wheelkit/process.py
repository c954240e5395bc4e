"""Running commands: the one place wheelkit starts a process. Every command is known while it runs (STOP), so that
an interrupt stops whole process trees, refuses new commands and publishes nothing more."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from .errors import Interrupted, WheelkitError

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30  # of a failing step's output, in its error


@dataclass(frozen=True)
class Completed:
    """A command that ran, with its output (a missing program is exit 127, a timeout 124, as a shell says)."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """What runs a command for a check or an upload: `run` here, or a fake in the tests."""

    def __call__(self, command: Sequence[str], *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None, timeout: float | None = None) -> Completed: ...


def tail(text: str, lines: int = 15) -> str:
    """The last lines of a command's output, for a message."""
    return "\n".join(text.strip().splitlines()[-lines:])


class Processes:
    """The commands running now. With own_groups (a build, whose signal handlers stop them), each starts in a
    session and process group of its own, so that a signal stops whole trees (cmake, ninja and the compilers; uv and
    its children) and a terminal's Ctrl-C reaches them only through wheelkit, which then publishes nothing more.
    Without, they share wheelkit's group and a terminal's Ctrl-C reaches them directly. One per process (STOP)."""

    GRACE = 2.0  # seconds between SIGTERM (ninja removes half-written objects) and SIGKILL

    def __init__(self, own_groups: bool = False) -> None:
        self.own_groups = own_groups
        self.reason = ""  # why the run was interrupted; "" while it runs
        self.published: list[Path] = []  # the files moved into a wheelhouse, in order
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopped: list[subprocess.Popen[bytes]] = []
        self._publishing = threading.Lock()

    @contextmanager
    def running(self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None,
                stdout: int | IO[bytes] | IO[str] | None = None, stderr: int | IO[str] | None = None,
                ) -> Iterator[subprocess.Popen[bytes]]:
        """Start a command and keep it known while it runs; refused once interrupted."""
        if self.reason:
            raise Interrupted(self.reason)
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   env=dict(env), cwd=cwd, start_new_session=self.own_groups)
        self._running.add(process)
        try:
            if self.reason:  # interrupted while it started: interrupt() may not have seen it
                self.send(process, signal.SIGTERM)
            yield process
        finally:
            self._running.discard(process)

    def interrupt(self, reason: str) -> bool:
        """Stop every running command (SIGTERM, SIGKILL after GRACE) and refuse further commands and publishing; a
        file being moved into the wheelhouse is moved first. True the first time."""
        with self._publishing:
            if self.reason:
                return False
            self.reason = reason
        self._stopped = list(self._running)
        for process in self._stopped:
            self.send(process, signal.SIGTERM)
        if self._stopped:
            timer = threading.Timer(self.GRACE, self.kill)
            timer.daemon = True
            timer.start()
        return True

    def kill(self) -> None:
        """SIGKILL what an interrupt stopped and what still runs (a second signal: no more waiting)."""
        for process in {*self._stopped, *self._running}:
            self.send(process, signal.SIGKILL)

    def finish(self, timeout: float = 1.0) -> None:
        """After an interrupt: give the stopped processes a moment to end (ninja's clean-up), then kill the rest."""
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in self._stopped) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.kill()

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Move files into the wheelhouse either before an interrupt or not at all."""
        with self._publishing:
            if self.reason:
                raise Interrupted(self.reason)
            yield

    def send(self, process: subprocess.Popen[bytes], signum: int) -> None:
        """Signal a command (its whole group with own_groups)."""
        try:
            if self.own_groups:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)
        except (ProcessLookupError, PermissionError):
            pass  # it has ended


STOP = Processes()


def run(command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None) -> Completed:
    """Run a command with its output captured (the Runner of the checks, uploads and probes)."""
    log.debug("$ %s%s", shlex.join(command), f" (in {cwd})" if cwd else "")
    try:
        with STOP.running(command, env=os.environ if env is None else env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                STOP.send(process, signal.SIGKILL)
                out, _ = process.communicate()
                return Completed(tuple(command), 124, out.decode(errors="replace"),
                                 f"timed out after {timeout:.0f} s")
    except FileNotFoundError:
        return Completed(tuple(command), 127, "", f"{command[0]}: not found")
    if STOP.reason:
        raise Interrupted(STOP.reason)
    return Completed(tuple(command), process.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def run_captured(command: Sequence[str], what: str) -> str:
    """Run a short query command and return its output; raise with its error output when it fails."""
    done = run(command)
    if done.returncode == 127 and done.stderr.endswith(": not found"):
        raise WheelkitError(f"{what}: {command[0]} not found; is it installed?")
    if done.returncode != 0:
        raise WheelkitError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def run_shown(command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Run a command whose output the user watches (a nested nox session); returns its exit status."""
    try:
        with STOP.running(command, env=os.environ if env is None else env, cwd=cwd) as process:
            returncode = process.wait()
    except FileNotFoundError:
        raise WheelkitError(f"{command[0]} not found; is it installed?") from None
    if STOP.reason:
        raise Interrupted(STOP.reason)
    return returncode


class StepFailed(WheelkitError):
    """A step's command failed: what it was, its exit status, and the last lines it wrote into its log."""

    def __init__(self, what: str, returncode: int, log_path: Path, tail: Sequence[str]) -> None:
        self.headline = f"{what} failed (exit {returncode})"
        self.log_path = log_path
        self.tail = tuple(tail)
        shown = "\n".join(self.tail) if self.tail else "(it printed nothing)"
        super().__init__(f"{self.headline}; last lines of {log_path}:\n{shown}")


def _wait_with_cpu(process: subprocess.Popen[bytes]) -> tuple[int, float | None]:
    """Wait for a process; return its exit code and the CPU seconds it and its waited-for children used (the logs
    say where a build's CPU goes), or None where the platform cannot tell."""
    if not hasattr(os, "wait4"):
        return process.wait(), None
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def run_logged(command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, what: str = "",
               cwd: Path | None = None) -> None:
    """Run a command with its output appended to log_path; on failure raise StepFailed with the last lines this
    command wrote (not an earlier step's) and the log's path; Interrupted when a signal stopped it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        output_starts = handle.tell()
        started = time.perf_counter()
        try:
            with STOP.running(command, env=os.environ if env is None else env, cwd=cwd, stdout=handle,
                              stderr=subprocess.STDOUT) as process:
                returncode, cpu = _wait_with_cpu(process)
        except FileNotFoundError as error:
            raise WheelkitError(f"{what or command[0]}: {error.filename} not found; is it installed?") from None
        cpu_note = f" ({cpu:.2f} s of CPU)" if cpu is not None else ""
        handle.write(f"# exit {returncode} after {time.perf_counter() - started:.2f} s{cpu_note}\n")
    if STOP.reason:
        raise Interrupted(STOP.reason)  # stopped by wheelkit: not the step's failure
    if returncode != 0:
        with log_path.open("rb") as handle:
            handle.seek(output_starts)
            output = handle.read().decode("utf-8", errors="replace").splitlines()[:-1]  # without the "# exit" line
        lines = [line.rstrip() for line in output if line.strip()]
        raise StepFailed(what or command[0], returncode, log_path, lines[-LOG_TAIL_LINES:])


PARENT_POLL = 0.2  # seconds between looks at whether the parent process (nox) still runs


def stop_on_signals() -> None:
    """For a job's whole run (the build, the wheel tests): on SIGINT or SIGTERM, or when the parent process (nox)
    ends, stop every command's whole tree (each runs in a process group of its own) and start no other (STOP); a
    second signal kills what still runs. Nothing is raised from the handler itself: an exception there could land
    anywhere, even inside starting a process; the run ends with Interrupted as the commands it waits for end."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not STOP.interrupt(signal.Signals(signum).name):
            STOP.kill()

    STOP.own_groups = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    parent = os.getppid()

    def watch_parent() -> None:
        # SIGTERM ends nox at once, without a word to its children: without this, a build would go on and move
        # wheels into wheelhouse/ after the session died.
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        STOP.interrupt("its parent process ended")

    threading.Thread(target=watch_parent, name="wheelkit-parent", daemon=True).start()
