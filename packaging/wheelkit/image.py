"""The build image behind `invoke image.*`: which container engine, and the commands that build, push and enter it with
the checkout mounted at /cablesim and its own state in build/image-<tag>/ (docs/build-image.md). Commands only."""

from __future__ import annotations

import os
import re
import resource
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import WheelkitError
from .knobs import KNOBS
from .process import run

ENGINES = ("docker", "podman")
CHECKOUT_MOUNT = "/cablesim"  # where the checkout is mounted and worked in (packaging/Dockerfile trusts it for git)
CCACHE_MOUNT = "/ccache"
MPT_HEADERS_MOUNT = "/opt/mpt/include"  # a headers-only MPI (HPE MPT) for the MPT shim
CA_BUNDLE_MOUNT = "/run/cablesim/ca-bundle.crt"
DEFAULT_REPOSITORY = "cablesim-build"
DOCKERFILE = Path("packaging") / "Dockerfile"
# The manylinux_2_28 images (AlmaLinux 8, glibc 2.28) per architecture; `--arch` picks one, `--base` overrides it.
BASE_IMAGES: Mapping[str, str] = {
    "x86_64": "quay.io/pypa/manylinux_2_28_x86_64",
    "aarch64": "quay.io/pypa/manylinux_2_28_aarch64",
}
OCI_PLATFORMS: Mapping[str, str] = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
# Host variables a build inside the image sees as well: wheelkit's knobs, less the ones the image decides itself.
OWNED_BY_IMAGE = ("AUDITWHEEL_PLAT", "MACOSX_DEPLOYMENT_TARGET", "CABLESIM_BUILD_ROOT")
PASSED_THROUGH = tuple(name for name in KNOBS if name not in OWNED_BY_IMAGE)


@dataclass(frozen=True)
class Engine:
    """A container engine and the options every container and build of it needs on this host."""

    name: str  # docker | podman
    executable: str
    # podman applies its own default limits, which a host with lower hard limits refuses to set ("error setting
    # rlimit"); the host's own hard limits always work. docker's daemon sets its limits itself.
    ulimits: tuple[tuple[str, int], ...] = ()

    def limit_options(self) -> list[str]:
        return [option for name, value in self.ulimits for option in ("--ulimit", f"{name}={value}:{value}")]


def host_ulimits() -> tuple[tuple[str, int], ...]:
    """This host's hard limits on open files and processes (processes capped at kernel.pid_max, above which a
    container's limit cannot be set either)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        pid_max = 32768
    limits = []
    if nofile != resource.RLIM_INFINITY:
        limits.append(("nofile", nofile))
    limits.append(("nproc", pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)))
    return tuple(limits)


def _responds(executable: str) -> bool:
    """Whether an engine works: `docker version` fails when no daemon answers; podman needs none."""
    return run([executable, "version"], timeout=30).returncode == 0


def make_engine(name: str, executable: str) -> Engine:
    return Engine(name, executable, host_ulimits() if name == "podman" else ())


def detect_engine(
    requested: str = "",
    *,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    responds: Callable[[str], bool] = _responds,
) -> Engine:
    """The engine asked for (--engine, else $CABLESIM_CONTAINER_ENGINE), else the first of docker and podman that
    works here (a docker client without a daemon does not)."""
    env = os.environ if environ is None else environ
    wanted = requested or env.get("CABLESIM_CONTAINER_ENGINE", "")
    if wanted:
        if wanted not in ENGINES:
            raise WheelkitError(f"unknown container engine {wanted!r}: use one of {', '.join(ENGINES)}")
        executable = which(wanted)
        if executable is None:
            raise WheelkitError(f"{wanted} not found on PATH; install it or choose another with --engine")
        return make_engine(wanted, executable)
    tried = []
    for name in ENGINES:
        executable = which(name)
        if executable is None:
            tried.append(f"{name}: not on PATH")
        elif not responds(executable):
            tried.append(f"{name}: `{name} version` fails (no daemon?)")
        else:
            return make_engine(name, executable)
    raise WheelkitError(
        "no working container engine (" + "; ".join(tried) + "): install docker or podman "
        "(apt-get install podman), or build without the image: `nox -s build_linux` on this host"
    )


# The image.* options a variable gives when the option is not: so that a command as a workflow writes it
# (`invoke image.build --arch x86_64`) can be pointed at another image, e.g. the tests' stand-in (docs/build-image.md).
# The repository's ($CABLESIM_IMAGE_REPOSITORY) and the engine's ($CABLESIM_CONTAINER_ENGINE) are read where used.
OPTION_VARIABLES: Mapping[str, str] = {
    "tag": "CABLESIM_IMAGE_TAG",
    "file": "CABLESIM_IMAGE_FILE",
    "base": "CABLESIM_IMAGE_BASE",
    "ccache_dir": "CABLESIM_IMAGE_CCACHE_DIR",
}


def option_value(name: str, given: str, environ: Mapping[str, str] | None = None) -> str:
    """An image.* option as given, else its variable (OPTION_VARIABLES), else "" (the task's own default)."""
    env = os.environ if environ is None else environ
    return given or env.get(OPTION_VARIABLES[name], "")


def image_reference(tag: str, repository: str = "") -> str:
    """repository:tag, the repository from --repository, else $CABLESIM_IMAGE_REPOSITORY, else cablesim-build."""
    if not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
        raise WheelkitError(f"image tag {tag!r}: use letters, digits, '_', '.' and '-' (e.g. manylinux_2_28_x86_64)")
    name = repository or os.environ.get("CABLESIM_IMAGE_REPOSITORY", "") or DEFAULT_REPOSITORY
    return f"{name}:{tag}"


def default_tag(arch: str) -> str:
    return f"manylinux_2_28_{arch}"


def state_dir(root: Path, tag: str) -> Path:
    """The container's own build root inside the checkout (build/image-<tag>)."""
    return root / "build" / f"image-{tag}"


def _volume(source: Path, target: str, read_only: bool = False) -> list[str]:
    if ":" in str(source):
        raise WheelkitError(f"cannot mount {source}: container engines split volume options at ':'")
    return ["--volume", f"{source}:{target}" + (":ro" if read_only else "")]


@dataclass(frozen=True)
class BuildSpec:
    """What `invoke image.build` builds."""

    tag: str
    arch: str = "x86_64"
    dockerfile: Path = DOCKERFILE
    base_image: str = ""  # default: BASE_IMAGES[arch]
    repository: str = ""
    ca_bundle: Path | None = None  # given to RUN steps as the build secret `ca-bundle`
    build_args: tuple[tuple[str, str], ...] = ()


def build_command(engine: Engine, spec: BuildSpec, root: Path) -> list[str]:
    """Build the image from the Dockerfile, with its own folder as the (small) context."""
    if spec.arch not in BASE_IMAGES:
        raise WheelkitError(f"--arch {spec.arch}: the build image exists for {', '.join(BASE_IMAGES)}")
    dockerfile = spec.dockerfile if spec.dockerfile.is_absolute() else root / spec.dockerfile
    if not dockerfile.is_file():
        raise WheelkitError(f"no Dockerfile at {dockerfile}")
    command = [engine.executable, "build", "--file", str(dockerfile),
               "--tag", image_reference(spec.tag, spec.repository),
               "--platform", OCI_PLATFORMS[spec.arch],
               "--build-arg", f"BASE_IMAGE={spec.base_image or BASE_IMAGES[spec.arch]}"]
    for name, value in spec.build_args:
        command += ["--build-arg", f"{name}={value}"]
    if spec.ca_bundle is not None:
        command += ["--secret", f"id=ca-bundle,src={spec.ca_bundle}"]
    return [*command, *engine.limit_options(), str(dockerfile.parent)]


def push_command(engine: Engine, tag: str, repository: str = "") -> list[str]:
    reference = image_reference(tag, repository)
    name = reference.rsplit(":", 1)[0]
    if "/" not in name:
        raise WheelkitError(
            f"{reference} names no registry: pass --repository REGISTRY/NAME (e.g. ghcr.io/ORG/cablesim-build) or set "
            "CABLESIM_IMAGE_REPOSITORY, and build with the same one"
        )
    return [engine.executable, "push", reference]


def exists_command(engine: Engine, reference: str) -> list[str]:
    """Exit status 0 when the image is in the engine's store."""
    return [engine.executable, "image", "inspect", "--format", "{{.Id}}", reference]


@dataclass(frozen=True)
class ContainerSpec:
    """What `invoke image.shell` and `invoke image.run` start."""

    tag: str
    root: Path  # the checkout, mounted whole (with .git) at CHECKOUT_MOUNT
    repository: str = ""
    version: str = ""  # pinned version: SETUPTOOLS_SCM_PRETEND_VERSION inside
    mpt_headers: Path | None = None
    ccache_dir: Path | None = None  # default: build/image-<tag>/ccache in the checkout
    ca_bundle: Path | None = None  # mounted, and named by SSL_CERT_FILE, PIP_CERT and REQUESTS_CA_BUNDLE inside
    environ: Mapping[str, str] = field(default_factory=dict)  # the host's variables (the knobs come from here)
    # docker runs containers as root: a non-root host user's uid:gid, so that files written into the checkout stay
    # theirs (rootless podman maps its root to the user already).
    user: tuple[int, int] | None = None


def container_environment(spec: ContainerSpec) -> list[str]:
    """-e options: the container's build root and ccache, the pinned version, the host's knobs by name."""
    state = f"{CHECKOUT_MOUNT}/build/image-{spec.tag}"
    env = [f"CABLESIM_BUILD_ROOT={state}", f"CCACHE_DIR={CCACHE_MOUNT if spec.ccache_dir else state + '/ccache'}"]
    version = spec.version or spec.environ.get("SETUPTOOLS_SCM_PRETEND_VERSION", "")
    if version:
        env.append(f"SETUPTOOLS_SCM_PRETEND_VERSION={version}")
    elif (spec.root / ".git").is_file():
        raise WheelkitError(
            f"{spec.root}/.git is a file (a worktree or submodule): its repository is outside the mount, so "
            "setuptools-scm cannot work inside; pass --version X.Y.Z (or set SETUPTOOLS_SCM_PRETEND_VERSION)"
        )
    # Passed by name: the engine copies the host's value (no quoting, nothing secret in the command line).
    env += [name for name in PASSED_THROUGH if name != "SETUPTOOLS_SCM_PRETEND_VERSION" and spec.environ.get(name)]
    if spec.mpt_headers is not None:
        env.append(f"CABLESIM_MPT_INCLUDE_DIR={MPT_HEADERS_MOUNT}")
    if spec.ca_bundle is not None:
        env += [f"{name}={CA_BUNDLE_MOUNT}" for name in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")]
    return [option for item in env for option in ("--env", item)]


def container_mounts(spec: ContainerSpec) -> list[str]:
    state = state_dir(spec.root, spec.tag)
    mounts = _volume(spec.root, CHECKOUT_MOUNT) + _volume(state / "nox", f"{CHECKOUT_MOUNT}/.nox")
    if spec.ccache_dir is not None:
        mounts += _volume(spec.ccache_dir, CCACHE_MOUNT)
    if spec.mpt_headers is not None:
        if not (spec.mpt_headers / "mpi.h").is_file():
            raise WheelkitError(f"--mpt-headers {spec.mpt_headers}: no mpi.h there; give the MPT include folder")
        mounts += _volume(spec.mpt_headers, MPT_HEADERS_MOUNT, read_only=True)
    if spec.ca_bundle is not None:
        if not spec.ca_bundle.is_file():
            raise WheelkitError(f"CA bundle {spec.ca_bundle} does not exist (--ca-bundle or $SSL_CERT_FILE)")
        mounts += _volume(spec.ca_bundle, CA_BUNDLE_MOUNT, read_only=True)
    return mounts


def prepare_state(spec: ContainerSpec) -> None:
    """Create the folders mounted into the container and the mount point .nox, which an engine would otherwise
    create as root (and the host's nox could then not use)."""
    (state_dir(spec.root, spec.tag) / "nox").mkdir(parents=True, exist_ok=True)
    (spec.root / ".nox").mkdir(exist_ok=True)
    if spec.ccache_dir is not None:
        spec.ccache_dir.mkdir(parents=True, exist_ok=True)


def run_command(engine: Engine, spec: ContainerSpec, command: Sequence[str], *, tty: bool = False) -> list[str]:
    """`engine run` of a command in the image, in the mounted checkout; the container is removed afterwards."""
    if not command:
        raise WheelkitError("no command to run: invoke image.run -- nox -s build_linux")
    interactive = ["--interactive", "--tty"] if tty else []
    user: list[str] = []
    if engine.name == "docker" and spec.user is not None and spec.user[0] != 0:
        user = ["--user", f"{spec.user[0]}:{spec.user[1]}", "--env", "HOME=/tmp"]  # a writable home for the caches
    return [engine.executable, "run", "--rm", *interactive, *user, *container_mounts(spec), "--workdir",
            CHECKOUT_MOUNT, *container_environment(spec), *engine.limit_options(),
            image_reference(spec.tag, spec.repository), *command]


def base_image_commands(engine: Engine, suite: str, mirror: str, workdir: Path, reference: str) -> list[list[str]]:
    """A local base image from a debootstrap root file system (needs root and debootstrap): for machines that reach
    no registry, as the tests' stand-in image (packaging/test-image/Containerfile) is built FROM."""
    rootfs, tarball = workdir / "rootfs", workdir / "rootfs.tar"
    return [
        ["debootstrap", "--variant=minbase", suite, str(rootfs), mirror],
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
        [engine.executable, "import", str(tarball), reference],
    ]
