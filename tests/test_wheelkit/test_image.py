"""wheelkit.image: the commands behind `invoke image.*`, with fake engines (which engine, build, push, run with the
checkout mounted, a base image from debootstrap)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.image import (
    BuildSpec,
    ContainerSpec,
    Engine,
    base_image_commands,
    build_command,
    container_environment,
    detect_engine,
    image_reference,
    prepare_state,
    push_command,
    run_command,
)

ROOT = Path(__file__).resolve().parents[2]
PODMAN = Engine("podman", "/usr/bin/podman", (("nofile", 20000), ("nproc", 32768)))
DOCKER = Engine("docker", "/usr/bin/docker")


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
