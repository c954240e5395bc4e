"""Signals to a running build (issue 13): real processes, a build whose steps are long-running stand-ins for cmake
and the build environment's python, run through nox and alone; every build process stops and nothing is published."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


# Stand-ins for the steps of a build: cmake (the core) and the build environment's python (the wheel build).
# The step named by WHEELKIT_TEST_STALL never finishes: it records its process id and its long-running child's.
STAND_IN = """#!/bin/sh
case "$2" in *get_requires_for_build_wheel*) echo '[]' > "$3"; exit 0;; esac  # the backend asks for nothing more
if [ "$WHEELKIT_TEST_STALL" = "$1" ] || { [ "$1" = --build ] && [ "$WHEELKIT_TEST_STALL" = core ]; } \\
   || { [ "$1" = -c ] && [ "$WHEELKIT_TEST_STALL" = wheel ]; }; then
    echo $$ > "$WHEELKIT_TEST_PIDS/step.pid"
    sleep 300 &
    echo $! > "$WHEELKIT_TEST_PIDS/child.pid"
    wait
fi
"""
NOXFILE = """import os

import nox


@nox.session(venv_backend="none")
def build(session: nox.Session) -> None:
    session.run(os.environ["WHEELKIT_TEST_PYTHON"], "-m", "wheelkit", "build", "linux", *session.posargs,
                external=True)
"""
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped; only its parent's wait is missing


@pytest.fixture
def stalled_build(tmp_path):
    """A checkout whose build runs stand-ins for cmake and for the build environment's python (made already, so
    nothing is installed); run() starts the build in its own process group, with WHEELKIT_TEST_STALL naming the
    step that never finishes. Whatever the outcome, no process stays behind."""
    from wheelkit.builds.environment import BuildEnvironment
    from wheelkit.pyproject import build_system

    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "cmake").write_text(STAND_IN)
    (tools / "cmake").chmod(0o755)
    (tools / f"python{PY}").symlink_to(sys.executable)  # the Python the build is for
    root = tmp_path / "checkout"
    environment = root / "build" / "envs" / TAG
    (environment / "bin").mkdir(parents=True)
    (environment / "bin" / "python").write_text(STAND_IN)
    (environment / "bin" / "python").chmod(0o755)
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    BuildEnvironment(environment, Path(sys.executable), build_system(root)).record()
    (root / "noxfile.py").write_text(NOXFILE)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(PACKAGING),
           "WHEELKIT_TEST_PIDS": str(pids), "WHEELKIT_TEST_PYTHON": sys.executable}
    env.pop("CABLESIM_BUILD_ROOT", None)
    started: list[subprocess.Popen[str]] = []

    def run(command: list[str], stall: str) -> tuple[subprocess.Popen[str], list[int]]:
        process = subprocess.Popen(command, cwd=root, env={**env, "WHEELKIT_TEST_STALL": stall},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)  # its own group, as a terminal's Ctrl-C reaches it
        started.append(process)
        deadline = time.monotonic() + 60
        while not (pids / "child.pid").exists():
            assert process.poll() is None, f"the build ended early:\n{process.communicate()[0]}"
            assert time.monotonic() < deadline, "the build did not reach the stalled step"
            time.sleep(0.1)
        time.sleep(0.3)  # the ids are written before the stand-in waits
        return process, [int((pids / name).read_text()) for name in ("step.pid", "child.pid")]

    yield root, run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for pid_file in pids.glob("*.pid"):
        if alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.slow
@pytest.mark.parametrize(("how", "stall"), [("SIGTERM to nox", "core"), ("SIGINT to nox alone", "wheel"),
                                            ("Ctrl-C: SIGINT to nox and wheelkit", "core"),
                                            ("SIGTERM to wheelkit", "wheel")])
def test_a_signal_stops_every_build_process_and_publishes_nothing(stalled_build, how, stall):
    root, run = stalled_build
    if how == "SIGTERM to wheelkit":
        command = [sys.executable, "-m", "wheelkit", "build", "linux", PY, "--version", "1.0"]
    elif shutil.which("nox") is None:
        pytest.skip("nox is not installed")
    else:
        command = ["nox", "-f", str(root / "noxfile.py"), "-s", "build", "--", PY, "--version", "1.0"]
    process, tree = run(command, stall)
    if how.startswith("Ctrl-C"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT if "SIGINT" in how else signal.SIGTERM)
    output, _ = process.communicate(timeout=30)  # until wheelkit's end too: it writes into the same pipe
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in tree if alive(pid)], f"still running after {how}:\n{output}"
    assert not (root / "wheelhouse").exists() or not any((root / "wheelhouse").iterdir())
    said = [line for line in output.splitlines() if line.startswith("error:")]  # nox adds its own words
    assert len(said) == 1 and "Traceback" not in output, output
    assert re.match(r"^error: build interrupted \((SIGTERM|SIGINT|its parent process ended)\): every build process "
                    r"was stopped; nothing was moved into wheelhouse/$", said[0]), said[0]
    if how == "SIGTERM to wheelkit":
        assert process.returncode == 128 + signal.SIGTERM
