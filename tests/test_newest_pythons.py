"""CPython 3.14 and 3.15 on a machine that can install neither: Debian sid packages both, so a podman image made
from a debootstrap sid root file system (packaging/test-image/sid.Containerfile) builds their wheels with
`nox -s build_linux` and tests them with `nox -s test_wheels`, on a clone of the code under test.

Skips without podman, debootstrap or root, unless CABLESIM_REQUIRE_SID_TEST=1 (.ci/run sets it): then it fails.
coreutils' `timeout` fails inside sid under podman and runc, so the time limit is the host's (subprocess)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, copy_of_this_checkout, require

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.image import Engine, exists_command, image_reference

SUITE, MIRROR = "sid", "http://deb.debian.org/debian"
BASE = f"localhost/cablesim-base:{SUITE}"
CONTAINERFILE = ROOT / "packaging" / "test-image" / "sid.Containerfile"
STEP_TIMEOUT = 20 * 60  # [s] one step; a hang must not hold CI to its limit


def _require(condition: bool, reason: str) -> None:
    require(condition, reason, "CABLESIM_REQUIRE_SID_TEST")


@pytest.mark.slow
def test_cp314_and_cp315_wheels_build_and_pass_test_wheels_in_debian_sid(tmp_path):
    """First run: debootstrap (~30 s), the image (~1 min); then the two wheels (~1.5 min) and their tests."""
    _require(sys.platform.startswith("linux"), "needs Linux")
    _require(shutil.which("podman") is not None, "podman is not installed (apt-get install podman runc)")
    _require(shutil.which("debootstrap") is not None and os.geteuid() == 0, "needs root and debootstrap")
    podman = Engine("podman", shutil.which("podman") or "podman")
    invoke = [sys.executable, "-m", "invoke"]
    engine = ["--engine", "podman"]
    key = hashlib.sha256(f"{SUITE} {MIRROR}\n".encode() + CONTAINERFILE.read_bytes()).hexdigest()[:12]
    tag = f"test-{SUITE}-{key}"
    cache = Path(os.environ.get("CABLESIM_TEST_CACHE", Path.home() / ".cache" / "cablesim-tests"))
    source = copy_of_this_checkout(tmp_path / "checkout")
    timings: dict[str, float] = {}

    def step(name: str, command: list[str]) -> str:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=STEP_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
        timings[name] = time.perf_counter() - started
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{name}: `{' '.join(command)}` failed (exit {done.returncode}):\n{output[-5000:]}"
        return output

    def exists(reference: str) -> bool:
        return subprocess.run(exists_command(podman, reference), capture_output=True, check=False).returncode == 0

    if not exists(BASE):
        step("debootstrap", [*invoke, "image.base", "--suite", SUITE, "--mirror", MIRROR, *engine])
    if not exists(image_reference(tag)):
        step("image", [*invoke, "image.build", "--tag", tag, "--file", str(CONTAINERFILE), "--base", BASE, *engine])
    run = [*invoke, "image.run", "--tag", tag, "--ccache-dir", str(cache / "ccache-sid"), *engine, "--"]
    step("build_linux", [*run, "nox", "-s", "build_linux", "--", "3.14", "3.15"])
    wheels = sorted(p.name for p in (source / "wheelhouse").glob("cablesim-*.whl"))
    assert [re.sub(r"^cablesim-[^-]+-", "", name).split("-manylinux_")[0] for name in wheels] == [
        "cp314-cp314", "cp315-cp315"], wheels
    for dotted in ("3.14", "3.15"):
        output = step(f"test_wheels {dotted}", [*run, "nox", "-s", "test_wheels", "--", dotted, "wheelhouse/"])
        assert "1 of 1 wheel(s) passed" in output, output[-3000:]
        assert re.search(r"MPI mpich .*2 ranks, same \d+ spikes as serial", output), output[-3000:]
    print("sid test timings: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
