"""The build image: hadolint on its Dockerfiles and, slow, the real thing with podman: a local bullseye image (glibc
2.31) built from a debootstrap root file system, `nox -s build_linux` inside it on a copy of this checkout, and that
wheel passing `nox -s test_wheels` on the host. The commands behind `invoke image.*`: tests/test_wheelkit/."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys

import pytest
from conftest import (
    ROOT,
    Steps,
    copy_of_this_checkout,
    installed_tool,
    nox_command,
    require,
    require_container_tools,
    stand_in_ccache,
    stand_in_image,
)

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit import WheelkitError  # noqa: E402

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
REQUIRE = "CABLESIM_REQUIRE_IMAGE_TEST"


@pytest.mark.slow
def test_wheel_built_inside_a_local_image_passes_test_wheels_on_the_host(tmp_path):
    """First run: debootstrap (~1 min), the image (~1 min), the build (~1 min). Later runs reuse both images (keyed
    by the Containerfile's hash) and a ccache folder, and take about a minute."""
    require(os.environ.get("CABLESIM_SKIP_IMAGE_TEST") != "1" or os.environ.get(REQUIRE) == "1",
            "CABLESIM_SKIP_IMAGE_TEST=1", REQUIRE)
    require(platform.machine() == "x86_64", "needs Linux on x86_64", REQUIRE)
    require_container_tools(REQUIRE)
    require(shutil.which("git") is not None, "needs git", REQUIRE)
    from wheelkit.interpreters import discover, resolve

    try:
        host_python = resolve("python3.9", discover())
    except WheelkitError:
        host_python = None
    require(host_python is not None, "no CPython 3.9 on this host to test the cp39 wheel with", REQUIRE)
    assert host_python is not None
    source = copy_of_this_checkout(tmp_path / "checkout")
    steps = Steps(source)
    tag = stand_in_image(steps)
    invoke_tasks = [sys.executable, "-m", "invoke"]
    steps.run("build_linux", [*invoke_tasks, "image.run", "--tag", tag, "--ccache-dir",
                              str(stand_in_ccache()), "--engine", "podman", "--",
                              "nox", "-s", "build_linux"])
    (wheel,) = (source / "wheelhouse").glob("cablesim-*.whl")
    assert wheel.name.endswith("-cp39-cp39-manylinux_2_31_x86_64.whl")  # bullseye's glibc, not the host's
    assert (source / "build" / f"image-{tag}" / "envs" / "cp39").is_dir()  # the container's own build root
    assert not (source / "build" / "envs").exists() and not (source / ".nox" / "build_linux").exists()
    output = steps.run("test_wheels", [*nox_command(), "-f", str(source / "noxfile.py"), "-s", "test_wheels", "--",
                                       str(host_python.path), str(wheel)])
    assert "1 of 1 wheel(s) passed" in output
    print(steps.report("image test timings"))
