"""cablesim's contributor tasks (invoke): the build image and the offline wheelhouse. `invoke --list` shows them;
`invoke --help TASK` explains one. Thin: each task reads its options and calls packaging/wheelkit."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "packaging"))  # wheelkit

from wheelkit import WheelkitError


@contextmanager
def _failing_as(name: str) -> Iterator[None]:
    """The one translation of wheelkit's errors for every task: `NAME: message` and exit status 1."""
    try:
        yield
    except WheelkitError as error:
        raise Exit(f"{name}: {error}", code=1) from None


# --- image: the build image -------------------------------------------------------------------------------------
_IMAGE_HELP = {
    "tag": "Image tag (default: $CABLESIM_IMAGE_TAG, else manylinux_2_28_<arch>); the image is <repository>:<tag>",
    "repository": "Image repository (default: $CABLESIM_IMAGE_REPOSITORY, else cablesim-build)",
    "engine": "docker or podman (default: $CABLESIM_CONTAINER_ENGINE, else the first that works here)",
}
_RUN_HELP = {
    **_IMAGE_HELP,
    "arch": "x86_64 (default) or aarch64: the default tag's architecture",
    "version": "Pin the version (SETUPTOOLS_SCM_PRETEND_VERSION inside) instead of reading the mounted .git",
    "mpt_headers": "A headers-only MPI (HPE MPT include folder with mpi.h), mounted read-only for the MPT shim",
    "ccache_dir": "A host folder for ccache (default: $CABLESIM_IMAGE_CCACHE_DIR, else build/image-<tag>/ccache)",
    "ca_bundle": "CA bundle trusted inside (default: $SSL_CERT_FILE when set; for networks that intercept TLS)",
}


@dataclass(frozen=True)
class ContainerOptions:
    """What image.shell and image.run are given (their options, as invoke passes them)."""

    tag: str = ""
    arch: str = "x86_64"
    repository: str = ""
    engine: str = ""
    version: str = ""
    mpt_headers: str = ""
    ccache_dir: str = ""
    ca_bundle: str = ""

    def command(self, command: list[str], *, tty: bool) -> list[str]:
        """The engine's command that runs `command` in the image, with the checkout mounted (its state prepared)."""
        from wheelkit.image import ContainerSpec, default_tag, detect_engine, option_value, prepare_state, run_command

        bundle = self.ca_bundle or os.environ.get("SSL_CERT_FILE", "")
        ccache_dir = option_value("ccache_dir", self.ccache_dir)
        spec = ContainerSpec(tag=option_value("tag", self.tag) or default_tag(self.arch), root=ROOT,
                             repository=self.repository, version=self.version,
                             mpt_headers=Path(self.mpt_headers).resolve() if self.mpt_headers else None,
                             ccache_dir=Path(ccache_dir).resolve() if ccache_dir else None,
                             ca_bundle=Path(bundle) if bundle else None, environ=dict(os.environ),
                             user=(os.getuid(), os.getgid()))
        full = run_command(detect_engine(self.engine), spec, command, tty=tty)
        prepare_state(spec)
        return full


def _run(c: Context, command: list[str], pty: bool = False) -> None:
    c.run(shlex.join(command), echo=True, pty=pty)


@task(name="build", help={**_IMAGE_HELP, "arch": "x86_64 (default) or aarch64: picks the manylinux base image",
                           "file": "The Dockerfile (default: $CABLESIM_IMAGE_FILE, else packaging/Dockerfile)",
                           "base": "Base image (default: $CABLESIM_IMAGE_BASE, else quay.io/pypa/manylinux_2_28_<arch>)",
                           "ca_bundle": "CA bundle for the RUN steps (build secret; default: $SSL_CERT_FILE when set)"})
def image_build(c: Context, tag: str = "", arch: str = "x86_64", repository: str = "", engine: str = "",
                file: str = "", base: str = "", ca_bundle: str = "") -> None:
    """Build the manylinux build image from packaging/Dockerfile (ccache, uv, nox; MPI headers: src/mpi/headers)."""
    from wheelkit.image import DOCKERFILE, BuildSpec, build_command, default_tag, detect_engine, option_value

    bundle = ca_bundle or os.environ.get("SSL_CERT_FILE", "")
    file = option_value("file", file)
    with _failing_as("image.build"):
        spec = BuildSpec(tag=option_value("tag", tag) or default_tag(arch), arch=arch,
                         dockerfile=Path(file) if file else DOCKERFILE, base_image=option_value("base", base),
                         repository=repository, ca_bundle=Path(bundle) if bundle else None)
        command = build_command(detect_engine(engine), spec, ROOT)
    _run(c, command)


@task(name="push", help=_IMAGE_HELP)
def image_push(c: Context, tag: str = "", repository: str = "", engine: str = "") -> None:
    """Push <repository>:<tag> to its registry (log in with `docker login` / `podman login` first)."""
    from wheelkit.image import default_tag, detect_engine, option_value, push_command

    with _failing_as("image.push"):
        command = push_command(detect_engine(engine), option_value("tag", tag) or default_tag("x86_64"), repository)
    _run(c, command)


@task(name="shell", help=_RUN_HELP)
def image_shell(c: Context, tag: str = "", arch: str = "x86_64", repository: str = "", engine: str = "",
                version: str = "", mpt_headers: str = "", ccache_dir: str = "", ca_bundle: str = "") -> None:
    """A shell in the image, in the checkout mounted at /cablesim (own build/ and .nox state in build/image-<tag>)."""
    options = ContainerOptions(tag, arch, repository, engine, version, mpt_headers, ccache_dir, ca_bundle)
    with _failing_as("image.shell"):
        command = options.command(["bash", "-l"], tty=True)
    _run(c, command, pty=True)


@task(name="run", help=_RUN_HELP)
def image_run(c: Context, tag: str = "", arch: str = "x86_64", repository: str = "", engine: str = "",
              version: str = "", mpt_headers: str = "", ccache_dir: str = "", ca_bundle: str = "") -> None:
    """Run the command after `--` in the image, in the mounted checkout: image.run -- nox -s build_linux."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    options = ContainerOptions(tag, arch, repository, engine, version, mpt_headers, ccache_dir, ca_bundle)
    with _failing_as("image.run"):
        command = options.command(shlex.split(c.remainder), tty=tty)
    _run(c, command, pty=tty)


@task(name="base", help={"suite": "Debian suite (default bullseye: glibc 2.31, the oldest one served)",
                          "mirror": "Debian mirror (default http://deb.debian.org/debian)",
                          "name": "Image name (default localhost/cablesim-base); tagged with the suite",
                          "engine": _IMAGE_HELP["engine"]})
def image_base(c: Context, suite: str = "bullseye", mirror: str = "http://deb.debian.org/debian",
               name: str = "localhost/cablesim-base", engine: str = "") -> None:
    """Without a registry: a local base image from a debootstrap root file system (root; apt-get install debootstrap)."""
    import tempfile

    from wheelkit.image import base_image_commands, detect_engine

    if os.geteuid() != 0:
        raise Exit("image.base: debootstrap needs root", code=1)
    with _failing_as("image.base"):
        found = detect_engine(engine)
    with tempfile.TemporaryDirectory(prefix="cablesim-base-") as work:
        for command in base_image_commands(found, suite, mirror, Path(work), f"{name}:{suite}"):
            _run(c, command)


image = Collection("image", image_build, image_push, image_shell, image_run, image_base)

# --- wheelhouse: offline clusters -------------------------------------------------------------------------------


_WHEELHOUSE_ROOT_HELP = "The wheelhouse folder (default: $CABLESIM_WHEELHOUSE)"


@task(
    name="add",
    help={
        "wheels": "A wheel, a folder of wheels or a quoted glob; more after `--`: wheelhouse.add a --root R -- b c",
        "root": _WHEELHOUSE_ROOT_HELP,
        "site": "The local version label every wheel must carry, e.g. hpc for 1.2.0+hpc "
        "(default: $CABLESIM_WHEELHOUSE_SITE)",
        "os_layer": "The OS-layer folder, e.g. rhel8 (default: $CABLESIM_WHEELHOUSE_OS_LAYER, else from the platform "
        "tag: linux-x86_64)",
        "arch_level": "Place binary wheels in this level folder (generic, x86-64-v3, x86-64-v4) instead of the one "
        "their cablesim-build.json marker names",
        "reindex": "Rewrite the simple index afterwards (default: yes; --no-reindex to skip)",
    },
)
def wheelhouse_add(c: Context, wheels: str, root: str = "", site: str = "", os_layer: str = "",
                   arch_level: str = "", reindex: bool = True) -> None:
    """Place wheels in the wheelhouse by OS layer and -march level, all or none; refuse unfit wheels."""
    from wheelkit.site.pages import build_index
    from wheelkit.site.wheelhouse import add_wheels, expand_wheels, resolve_os_layer, resolve_root, resolve_site

    with _failing_as("wheelhouse.add"):
        house = resolve_root(root)
        result = add_wheels(house, expand_wheels([wheels, *shlex.split(c.remainder)]), site=resolve_site(site),
                            os_layer=resolve_os_layer(os_layer), level=arch_level)
        print(result.describe())
        if reindex:
            print(build_index(house).describe(house))


@task(
    name="rewrite",
    iterable=["drop", "relax"],
    help={
        "wheel": "The wheel to rewrite (left unchanged; the result gets the new name)",
        "local_version": "Add this label to the local version: 1.2.0 -> 1.2.0+hpc, 1.2.0+g1ab2 -> 1.2.0+g1ab2.hpc",
        "drop": "Remove the requirements matching this name or pattern, e.g. 'nvidia-*' (repeatable)",
        "relax": "'numpy' removes its version limit, 'numpy>=1.19' replaces it (repeatable)",
        "tag": "New tag, e.g. cp311-cp311-manylinux_2_34_x86_64 for compiled code tagged py3-none-any",
        "out_dir": "Where the rewritten wheel goes (default: next to WHEEL)",
        "check": "Install the result into a fresh venv without any index (default: yes; --no-check to skip)",
        "python": "The interpreter for that check (default: one found on this machine that fits the wheel)",
    },
)
def wheelhouse_rewrite(c: Context, wheel: str, local_version: str = "", drop: list[str] | None = None,
                       relax: list[str] | None = None, tag: str = "", out_dir: str = "", check: bool = True,
                       python: str = "") -> None:
    """Rewrite a wheel's metadata (local version, requirements, tag) into a new, valid wheel with a fresh RECORD."""
    from wheelkit.site.rewrite import Rewrite, check_install, python_for, rewrite_wheel

    with _failing_as("wheelhouse.rewrite"):
        change = Rewrite(local_version=local_version, drop=tuple(drop or ()), relax=tuple(relax or ()), tag=tag)
        result = rewrite_wheel(Path(wheel), Path(out_dir) if out_dir else None, change)
        print(f"wrote {result}")
        if check:
            interpreter = Path(python) if python else python_for(result)
            version = check_install(result, interpreter)
            print(f"checked: installs into a fresh {interpreter} venv as version {version} (--no-deps, --no-index)")


@task(name="index", help={"root": _WHEELHOUSE_ROOT_HELP})
def wheelhouse_index(c: Context, root: str = "") -> None:
    """Write the PEP 503 simple index of every OS layer and level under ROOT/simple/ (unchanged pages stay)."""
    from wheelkit.site.pages import build_index
    from wheelkit.site.wheelhouse import resolve_root

    with _failing_as("wheelhouse.index"):
        house = resolve_root(root)
        print(build_index(house).describe(house))


wheelhouse = Collection("wheelhouse", wheelhouse_add, wheelhouse_rewrite, wheelhouse_index)

namespace = Collection(image, wheelhouse)
