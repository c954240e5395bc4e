"""wheelkit.process: a step's output goes to its log and only its own last lines into the error; an interrupt stops
a command's whole process group and refuses new commands; captured runs say a missing program and a timeout."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from wheelkit import WheelkitError, process
from wheelkit.errors import Interrupted


@pytest.fixture
def processes(monkeypatch):
    """Running commands and an interruption of this test's own, each command in a group of its own (as in a build)."""
    stop = process.Processes(own_groups=True)
    monkeypatch.setattr(process, "STOP", stop)
    return stop


def test_run_logged_reports_the_log_tail(tmp_path):
    log_path = tmp_path / "logs" / "x.log"
    with pytest.raises(WheelkitError, match=r"step failed \(exit 3\); last lines of .*x.log:\nsomething broke$"):
        process.run_logged([sys.executable, "-c", "print('something broke'); raise SystemExit(3)"], log_path, what="step")
    with pytest.raises(WheelkitError, match="no-such-tool not found"):
        process.run_logged(["no-such-tool"], log_path)


def test_run_logged_shows_only_the_failing_steps_own_lines(tmp_path):
    log_path = tmp_path / "logs" / "x.log"
    process.run_logged([sys.executable, "-c", "print('an earlier step')"], log_path, what="earlier")
    with pytest.raises(process.StepFailed) as caught:
        process.run_logged([sys.executable, "-c", "print('it broke'); raise SystemExit(2)"], log_path, what="step")
    assert (caught.value.headline, caught.value.tail, caught.value.log_path) == (
        "step failed (exit 2)", ("it broke",), log_path)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_an_interrupt_stops_the_running_commands_process_group_and_refuses_new_ones(tmp_path, processes):
    log_path = tmp_path / "step.log"
    child = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {child}; wait"
    timer = threading.Timer(0.5, processes.interrupt, ("SIGINT",))
    timer.start()
    started = time.monotonic()
    with pytest.raises(Interrupted, match="SIGINT"):
        process.run_logged(["sh", "-c", script], log_path, what="a long step")
    assert time.monotonic() - started < 5
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]:
        assert time.monotonic() < deadline, "the step's child still runs"
        time.sleep(0.05)
    with pytest.raises(Interrupted):
        process.run_logged(["true"], log_path)


def test_a_captured_run_says_a_missing_program_and_a_timeout_as_a_shell_would(processes):
    missing = process.run(["no-such-program-here"])
    assert (missing.returncode, missing.stderr) == (127, "no-such-program-here: not found")
    slow = process.run([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], timeout=1)
    assert (slow.returncode, slow.stdout.strip(), slow.stderr) == (124, "started", "timed out after 1 s")
    done = process.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", "err\n")


def test_run_logged_records_each_steps_wall_and_cpu_seconds_with_its_childrens(tmp_path):
    log = tmp_path / "step.log"
    # A child whose grandchild burns 0.3 s of CPU (by its own clock, on any machine), and one that sleeps.
    spin = "import time\nwhile time.process_time() < 0.3: pass"
    burn = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}], check=True)"
    process.run_logged([sys.executable, "-c", burn], log, what="burning")
    process.run_logged([sys.executable, "-c", "import time; time.sleep(0.3)"], log, what="sleeping")
    lines = [line for line in log.read_text().splitlines() if line.startswith("# exit")]
    (burned, slept) = [float(line.split("(")[1].split(" s of CPU")[0]) for line in lines]
    assert burned >= 0.3 and slept < 0.15, lines
    with pytest.raises(WheelkitError):  # a failing step still reports its exit code
        process.run_logged([sys.executable, "-c", "raise SystemExit(3)"], log, what="failing")
    assert "# exit 3 after" in log.read_text()
