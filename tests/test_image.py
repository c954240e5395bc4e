"""The build image: hadolint on its Dockerfiles and, slow, the real thing with podman: a local bullseye image (glibc
2.31) built from a debootstrap root file system, `nox -s build_linux` inside it on a copy of this checkout, and that
wheel passing `nox -s test_wheels` on the host. The commands behind `invoke image.*`: tests/test_wheelkit/."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_of_this_checkout, installed_tool, run_checked

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit import WheelkitError
from wheelkit.image import (
    Engine,
    exists_command,
    image_reference,
)

DOCKERFILES = [ROOT / "packaging" / "Dockerfile", ROOT / "packaging" / "test-image" / "Containerfile",
               ROOT / "packaging" / "test-image" / "fresh-machine.Containerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_hadolint_passes(dockerfile):
    result = subprocess.run([installed_tool("hadolint"), str(dockerfile)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_names_its_base_image_by_build_argument():
    text = (ROOT / "packaging" / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=quay.io/pypa/manylinux_2_28_x86_64\nFROM ${BASE_IMAGE}" in text
    for needed in ("ccache", "nox==", "uv==", "safe.directory /cablesim"):
        assert needed in text
    # The shims compile from src/mpi/headers everywhere: no second source of mpi.h in the images.
    for image in DOCKERFILES:
        assert not re.search(r"mpich-devel|openmpi-devel|libmpich-dev|libopenmpi-dev", image.read_text()), image


# --- the real thing ---------------------------------------------------------------------------------------------
SUITE, MIRROR = "bullseye", "http://deb.debian.org/debian"
BASE = f"localhost/cablesim-base:{SUITE}"


def _require(condition: bool, reason: str) -> None:
    """Skip, unless CABLESIM_REQUIRE_IMAGE_TEST=1 (set by .ci/run), where a missing prerequisite is a failure."""
    if not condition:
        if os.environ.get("CABLESIM_REQUIRE_IMAGE_TEST") == "1":
            pytest.fail(f"CABLESIM_REQUIRE_IMAGE_TEST=1 but {reason}")
        pytest.skip(reason)


@pytest.mark.slow
def test_wheel_built_inside_a_local_image_passes_test_wheels_on_the_host(tmp_path):
    """First run: debootstrap (~1 min), the image (~1 min), the build (~1 min). Later runs reuse both images (keyed
    by the Containerfile's hash) and a ccache folder, and take about a minute."""
    _require(os.environ.get("CABLESIM_SKIP_IMAGE_TEST") != "1" or os.environ.get("CABLESIM_REQUIRE_IMAGE_TEST") == "1",
             "CABLESIM_SKIP_IMAGE_TEST=1")
    _require(sys.platform.startswith("linux") and platform.machine() == "x86_64", "needs Linux on x86_64")
    _require(shutil.which("podman") is not None, "podman is not installed (apt-get install podman runc)")
    _require(shutil.which("debootstrap") is not None and os.geteuid() == 0, "needs root and debootstrap")
    _require(shutil.which("git") is not None, "needs git")
    try:
        import invoke  # noqa: F401
    except ImportError:
        _require(False, "invoke is not installed (the test extra)")
    from wheelkit.interpreters import discover, resolve

    try:
        host_python = resolve("python3.9", discover())
    except WheelkitError:
        host_python = None
    _require(host_python is not None, "no CPython 3.9 on this host to test the cp39 wheel with")
    import importlib.util

    nox = [sys.executable, "-m", "nox"] if importlib.util.find_spec("nox") else [shutil.which("nox") or ""]
    _require(bool(nox[-1]), "nox is not installed on the host (pip install nox)")

    cache = Path(os.environ.get("CABLESIM_TEST_CACHE", Path.home() / ".cache" / "cablesim-tests"))
    engine = ["--engine", "podman"]
    containerfile = ROOT / "packaging" / "test-image" / "Containerfile"
    key = hashlib.sha256(f"{SUITE} {MIRROR}\n".encode() + containerfile.read_bytes()).hexdigest()[:12]
    tag = f"test-{SUITE}-{key}"
    podman = Engine("podman", shutil.which("podman") or "podman")
    source = copy_of_this_checkout(tmp_path / "checkout")
    invoke_tasks = [sys.executable, "-m", "invoke"]
    timings: dict[str, float] = {}

    def step(name: str, command: list[str]) -> str:
        started = time.perf_counter()
        output = run_checked(command, source)
        timings[name] = time.perf_counter() - started
        return output

    def exists(reference: str) -> bool:
        return subprocess.run(exists_command(podman, reference), capture_output=True, check=False).returncode == 0

    if not exists(BASE):
        step("debootstrap", [*invoke_tasks, "image.base", "--suite", SUITE, "--mirror", MIRROR, *engine])
    if not exists(image_reference(tag)):
        step("image", [*invoke_tasks, "image.build", "--tag", tag, "--file", str(containerfile), "--base", BASE,
                       *engine])
    step("build_linux", [*invoke_tasks, "image.run", "--tag", tag, "--ccache-dir", str(cache / "ccache-test-image"),
                         *engine, "--", "nox", "-s", "build_linux"])
    (wheel,) = (source / "wheelhouse").glob("cablesim-*.whl")
    assert wheel.name.endswith("-cp39-cp39-manylinux_2_31_x86_64.whl")  # bullseye's glibc, not the host's
    assert (source / "build" / f"image-{tag}" / "envs" / "cp39").is_dir()  # the container's own build root
    assert not (source / "build" / "envs").exists() and not (source / ".nox" / "build_linux").exists()
    output = step("test_wheels", [*nox, "-f", str(source / "noxfile.py"), "-s", "test_wheels", "--",
                                  str(host_python.path), str(wheel)])
    assert "1 of 1 wheel(s) passed" in output
    print("image test timings: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
