"""The build image: hadolint on its Dockerfiles, the commands behind `invoke image.*` (with a fake engine), and,
slow, the real thing with podman: a local bullseye image (glibc 2.31) built from a debootstrap root file system,
`nox -s build_linux` inside it on a copy of this checkout, and that wheel passing `nox -s test_wheels` on the host."""

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

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.image import (  # noqa: E402
    BuildSpec,
    ContainerSpec,
    Engine,
    base_image_commands,
    build_command,
    container_environment,
    detect_engine,
    exists_command,
    image_reference,
    prepare_state,
    push_command,
    run_command,
)

DOCKERFILES = [ROOT / "packaging" / "Dockerfile", ROOT / "packaging" / "test-image" / "Containerfile",
               ROOT / "packaging" / "test-image" / "fresh-machine.Containerfile"]
PODMAN = Engine("podman", "/usr/bin/podman", (("nofile", 20000), ("nproc", 32768)))
DOCKER = Engine("docker", "/usr/bin/docker")


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


# --- engine detection -------------------------------------------------------------------------------------------
def test_docker_without_a_daemon_gives_way_to_podman():
    which = {"docker": "/usr/local/bin/docker", "podman": "/usr/bin/podman"}.get
    engine = detect_engine(environ={}, which=which, responds=lambda exe: "podman" in exe)
    assert (engine.name, engine.executable) == ("podman", "/usr/bin/podman")
    assert ("nproc", engine.ulimits[-1][1]) == engine.ulimits[-1] and engine.limit_options()[0] == "--ulimit"


def test_working_docker_is_preferred_and_gets_no_limits():
    engine = detect_engine(environ={}, which=lambda name: f"/usr/bin/{name}", responds=lambda exe: True)
    assert engine == Engine("docker", "/usr/bin/docker")


def test_requested_engine_wins_and_must_exist():
    engine = detect_engine(environ={"CABLESIM_CONTAINER_ENGINE": "podman"}, which=lambda name: f"/bin/{name}")
    assert engine.name == "podman"
    with pytest.raises(WheelkitError, match="docker not found on PATH; install it or choose another with --engine"):
        detect_engine("docker", environ={}, which=lambda name: None)
    with pytest.raises(WheelkitError, match="unknown container engine 'lxc': use one of docker, podman"):
        detect_engine("lxc", environ={})


def test_no_engine_explains_each():
    with pytest.raises(WheelkitError) as error:
        detect_engine(environ={}, which={"docker": "/bin/docker"}.get, responds=lambda exe: False)
    assert "docker: `docker version` fails (no daemon?); podman: not on PATH" in str(error.value)
    assert "apt-get install podman" in str(error.value)


# --- build and push ---------------------------------------------------------------------------------------------
def test_build_command_for_aarch64(monkeypatch):
    monkeypatch.delenv("CABLESIM_IMAGE_REPOSITORY", raising=False)
    command = build_command(DOCKER, BuildSpec(tag="manylinux_2_28_aarch64", arch="aarch64"), ROOT)
    assert command == [
        "/usr/bin/docker", "build", "--file", str(ROOT / "packaging" / "Dockerfile"),
        "--tag", "cablesim-build:manylinux_2_28_aarch64", "--platform", "linux/arm64",
        "--build-arg", "BASE_IMAGE=quay.io/pypa/manylinux_2_28_aarch64", str(ROOT / "packaging"),
    ]


def test_build_command_with_a_local_base_and_a_ca_bundle():
    spec = BuildSpec(tag="test", dockerfile=Path("packaging/test-image/Containerfile"), base_image="localhost/b:1",
                     repository="localhost/cb", ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"))
    command = build_command(PODMAN, spec, ROOT)
    assert command[command.index("--tag") + 1] == "localhost/cb:test"
    assert "BASE_IMAGE=localhost/b:1" in command
    assert command[command.index("--secret") + 1] == "id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt"
    assert command[-5:] == ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                            str(ROOT / "packaging" / "test-image")]


def test_build_refuses_unknown_arch_and_missing_dockerfile(tmp_path):
    with pytest.raises(WheelkitError, match="--arch ppc64le: the build image exists for x86_64, aarch64"):
        build_command(DOCKER, BuildSpec(tag="t", arch="ppc64le"), ROOT)
    with pytest.raises(WheelkitError, match="no Dockerfile at"):
        build_command(DOCKER, BuildSpec(tag="t"), tmp_path)


def test_push_needs_a_registry(monkeypatch):
    monkeypatch.delenv("CABLESIM_IMAGE_REPOSITORY", raising=False)
    assert push_command(DOCKER, "manylinux_2_28_x86_64", "ghcr.io/org/cablesim-build") == [
        "/usr/bin/docker", "push", "ghcr.io/org/cablesim-build:manylinux_2_28_x86_64"]
    with pytest.raises(WheelkitError, match="cablesim-build:x names no registry: pass --repository"):
        push_command(DOCKER, "x")
    with pytest.raises(WheelkitError, match="image tag 'a b'"):
        image_reference("a b")


# --- shell and run ----------------------------------------------------------------------------------------------
def checkout(tmp_path: Path, name: str = "checkout") -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)
    return root


def test_run_mounts_the_checkout_with_its_own_build_and_nox_state(tmp_path):
    root = checkout(tmp_path)
    spec = ContainerSpec(tag="manylinux_2_28_x86_64", root=root, environ={"CABLESIM_BUILD_TYPE": "Debug",
                                                                         "AUDITWHEEL_PLAT": "linux_x86_64"})
    command = run_command(PODMAN, spec, ["nox", "-s", "build_linux"])
    state = "/cablesim/build/image-manylinux_2_28_x86_64"
    assert command == [
        "/usr/bin/podman", "run", "--rm",
        "--volume", f"{root}:/cablesim",
        "--volume", f"{root}/build/image-manylinux_2_28_x86_64/nox:/cablesim/.nox",
        "--workdir", "/cablesim",
        "--env", f"CABLESIM_BUILD_ROOT={state}", "--env", f"CCACHE_DIR={state}/ccache",
        "--env", "CABLESIM_BUILD_TYPE",  # the host's knob, by name; the image's own AUDITWHEEL_PLAT is not overridden
        "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
        "cablesim-build:manylinux_2_28_x86_64", "nox", "-s", "build_linux",
    ]
    prepare_state(spec)
    assert (root / "build" / "image-manylinux_2_28_x86_64" / "nox").is_dir() and (root / ".nox").is_dir()


def test_shell_options_version_mpt_headers_ccache_ca_bundle_and_user(tmp_path):
    root = checkout(tmp_path)
    (tmp_path / "mpt").mkdir()
    (tmp_path / "mpt" / "mpi.h").write_text("/* MPT */\n")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    spec = ContainerSpec(tag="t", root=root, version="1.2.3", mpt_headers=tmp_path / "mpt",
                         ccache_dir=tmp_path / "ccache", ca_bundle=tmp_path / "ca.crt", user=(1001, 121))
    command = run_command(DOCKER, spec, ["bash", "-l"], tty=True)
    assert command[:9] == ["/usr/bin/docker", "run", "--rm", "--interactive", "--tty", "--user", "1001:121",
                           "--env", "HOME=/tmp"]
    pairs = {(a, b) for a, b in zip(command, command[1:])}
    assert ("--volume", f"{tmp_path}/mpt:/opt/mpt/include:ro") in pairs
    assert ("--volume", f"{tmp_path}/ccache:/ccache") in pairs
    assert ("--volume", f"{tmp_path}/ca.crt:/run/cablesim/ca-bundle.crt:ro") in pairs
    for env in ("SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3", "CCACHE_DIR=/ccache",
                "CABLESIM_MPT_INCLUDE_DIR=/opt/mpt/include",
                "SSL_CERT_FILE=/run/cablesim/ca-bundle.crt", "PIP_CERT=/run/cablesim/ca-bundle.crt"):
        assert ("--env", env) in pairs
    assert command[-3:] == ["cablesim-build:t", "bash", "-l"]
    assert "--user" not in run_command(PODMAN, spec, ["true"])  # rootless podman maps root to the user already


def test_run_refuses_what_cannot_work_inside(tmp_path):
    root = tmp_path / "worktree"
    root.mkdir()
    (root / ".git").write_text("gitdir: /elsewhere/.git/worktrees/x\n")
    with pytest.raises(WheelkitError, match=r"\.git is a file \(a worktree or submodule\).*pass --version"):
        container_environment(ContainerSpec(tag="t", root=root))
    assert "SETUPTOOLS_SCM_PRETEND_VERSION=2.0" in container_environment(
        ContainerSpec(tag="t", root=root, environ={"SETUPTOOLS_SCM_PRETEND_VERSION": "2.0"}))
    with pytest.raises(WheelkitError, match="--mpt-headers .*: no mpi.h there"):
        run_command(DOCKER, ContainerSpec(tag="t", root=checkout(tmp_path, "a"), mpt_headers=tmp_path), ["true"])
    with pytest.raises(WheelkitError, match="no command to run: invoke image.run -- nox -s build_linux"):
        run_command(DOCKER, ContainerSpec(tag="t", root=checkout(tmp_path, "b")), [])


def test_base_image_from_debootstrap(tmp_path):
    commands = base_image_commands(PODMAN, "bullseye", "http://deb.debian.org/debian", tmp_path, "localhost/b:bullseye")
    assert commands == [
        ["debootstrap", "--variant=minbase", "bullseye", f"{tmp_path}/rootfs", "http://deb.debian.org/debian"],
        ["tar", "--numeric-owner", "-C", f"{tmp_path}/rootfs", "-cf", f"{tmp_path}/rootfs.tar", "."],
        ["/usr/bin/podman", "import", f"{tmp_path}/rootfs.tar", "localhost/b:bullseye"],
    ]


# --- the tasks themselves: invoke's parsing down to the engine command ------------------------------------------
def test_invoke_lists_and_runs_the_image_tasks(tmp_path):
    pytest.importorskip("invoke")
    repo = checkout(tmp_path, "repo")  # tasks.py and wheelkit alone: the tasks create state folders in their checkout
    shutil.copy2(ROOT / "tasks.py", repo / "tasks.py")
    shutil.copytree(ROOT / "packaging", repo / "packaging", ignore=shutil.ignore_patterns("__pycache__"))
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls"
    (fake / "podman").write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    (fake / "podman").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", CABLESIM_CONTAINER_ENGINE="podman",
               SETUPTOOLS_SCM_PRETEND_VERSION="9.9.9")
    env.pop("SSL_CERT_FILE", None)

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(repo), *args], env=env,
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)

    listing = invoke("--list")
    assert listing.returncode == 0, listing.stderr
    for name in ("image.build", "image.push", "image.shell", "image.run", "image.base"):
        assert name in listing.stdout
    result = invoke("image.run", "--tag", "fake-tag", "--", "nox", "-s", "build_linux", "--", "--plan")
    assert result.returncode == 0, result.stderr
    call = log.read_text().split()
    assert call[:2] == ["run", "--rm"]
    assert call[-6:] == ["cablesim-build:fake-tag", "nox", "-s", "build_linux", "--", "--plan"]
    assert f"{repo}:/cablesim" in call and (repo / "build" / "image-fake-tag" / "nox").is_dir()
    assert "SETUPTOOLS_SCM_PRETEND_VERSION=9.9.9" in call
    assert invoke("image.build", "--arch", "aarch64").returncode == 0
    assert "BASE_IMAGE=quay.io/pypa/manylinux_2_28_aarch64" in log.read_text().splitlines()[-1]
    refused = invoke("image.push")
    assert refused.returncode == 1 and "names no registry" in refused.stderr


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
