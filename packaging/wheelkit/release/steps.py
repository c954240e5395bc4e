"""The release job (`nox -s release -- --type nightly|release --upload false|true`): NEURON's release workflow as a
list of steps, each a small typed object that runs itself, so the order is data (unit-tested) and the session only
calls wheelkit. A release is never uploaded by the run that built it (docs/publishing.md)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

from ..credentials import refuse_credentials_in_argv
from ..dists import belongs_to, is_sdist
from ..errors import WheelkitError, raise_on_usage_errors
from ..process import run_shown
from ..rename import rename_sdist
from ..version import NIGHTLY_DISTRIBUTION, PRETEND_VERSION, BuildVersion, build_version
from ..wheelfile import filename_name
from .manifest import MANIFEST, write_manifest

NOX_ENV = "WHEELKIT_NOX"  # how to run a nox session of this checkout (the noxfile sets it: its own nox)


@dataclass(frozen=True)
class ReleaseOptions:
    kind: str  # nightly | release
    upload: bool
    repository: str | None
    version: str | None
    allow_partial: bool
    platforms: str | None
    build_args: tuple[str, ...]  # Python selectors and variant words for build_linux


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
    return value in ("true", "1", "yes")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build, test and (for nightlies, or as an explicit second step for releases) upload.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  nox -s release -- --type nightly --upload true --repository testpypi --allow-partial\n"
            "  nox -s release -- --type release --upload false            1: build and test into build/release/\n"
            "  nox -s release -- --type release --upload true --repository pypi   2: upload what step 1 tested"
        ),
    )
    parser.add_argument("selectors", nargs="*", help="Python selectors and variant words for build_linux")
    parser.add_argument("--type", dest="kind", required=True, choices=("nightly", "release"))
    parser.add_argument("--upload", type=_flag, default=False, help="true or false (default false)")
    parser.add_argument("--repository", help="pypi, testpypi or an index URL (required with --upload true)")
    parser.add_argument("--version", help="pin the version (a release from a dirty checkout needs it)")
    parser.add_argument("--allow-partial", action="store_true", help="upload without the whole wheel matrix")
    parser.add_argument("--platforms", help="the platform families of the matrix (see nox -s upload -- --help)")
    return parser


def parse_release_args(argv: Sequence[str], prog: str = "nox -s release --") -> ReleaseOptions:
    parser = build_parser(prog)

    fail = raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    if args.upload and not args.repository:
        fail("--upload true needs --repository pypi|testpypi|URL (nothing goes to PyPI by default)")
    return ReleaseOptions(args.kind, args.upload, args.repository, args.version, args.allow_partial, args.platforms,
                          tuple(args.selectors))


def release_folder(root: Path, release: BuildVersion) -> Path:
    return root / "build" / "release" / f"{filename_name(release.distribution)}-{release.version}"


@dataclass(frozen=True)
class Context:
    """What the steps of one release run share."""

    root: Path
    options: ReleaseOptions
    release: BuildVersion
    nox: tuple[str, ...]  # the command that runs a nox session of this checkout, before `-s SESSION`
    emit: Callable[[str], None]
    run: Callable[[Sequence[str], Mapping[str, str]], int] = lambda command, env: run_shown(command, env=env)

    @property
    def folder(self) -> Path:
        return release_folder(self.root, self.release)

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"


@dataclass(frozen=True)
class Session:
    """Run a nox session (`nox -s NAME -- POSARGS`) with extra environment variables."""

    session: str
    posargs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.session

    def run(self, context: Context) -> None:
        command = [*context.nox, "-s", self.session, *(["--", *self.posargs] if self.posargs else [])]
        status = context.run(command, {**os.environ, **dict(self.env)})
        if status != 0:
            raise WheelkitError(f"nox -s {self.session} failed (exit {status}); the release stops there")


@dataclass(frozen=True)
class RenameSdist:
    """A nightly's sdist, which the sdist session wrote as cablesim-VERSION, renamed to the nightly's name."""

    name = "rename-sdist"

    def run(self, context: Context) -> None:
        source = nightly_sdist_source(context.wheelhouse, context.release)
        rename_sdist(source, context.release.distribution, context.wheelhouse)
        source.unlink()


@dataclass(frozen=True)
class Gather:
    """The release's wheels and sdist copied from the top of the wheelhouse into the release folder."""

    name = "gather"

    def run(self, context: Context) -> None:
        context.emit(f"# Gathering {len(gather(context.wheelhouse, context.release, context.folder))} file(s) into "
                     f"{context.folder}")


@dataclass(frozen=True)
class WriteManifest:
    """What passed the tests, recorded for the upload (tested.json); a release then says how to upload it."""

    name = "manifest"

    def run(self, context: Context) -> None:
        folder = context.folder
        write_manifest(folder, sorted(p for p in folder.iterdir() if p.name != MANIFEST))
        if context.options.kind == "release":
            version = context.release
            context.emit(f"Release {version.version} built and tested in {folder}. Upload it with the explicit "
                         f"second step: nox -s release -- --type release --upload true --repository pypi"
                         f"{' --version ' + version.version if version.pinned else ''}")


Step = Union[Session, RenameSdist, Gather, WriteManifest]


def release_steps(options: ReleaseOptions, release: BuildVersion, root: Path) -> list[Step]:
    folder = release_folder(root, release)
    upload = ["--repository", options.repository or "", *(["--allow-partial"] if options.allow_partial else []),
              *(["--platforms", options.platforms] if options.platforms else []), str(folder)]
    if options.kind == "release" and options.upload:
        if not (folder / MANIFEST).exists():
            raise WheelkitError(
                f"no tested release {release.version} in {folder}: run the first step (nox -s release -- --type "
                "release --upload false, with the same --version) and let its tests pass, then this one"
            )
        return [Session("upload", tuple(upload))]
    build = ("--version", release.version, *(["--nightly"] if release.nightly else []), *options.build_args)
    steps: list[Step] = [Session("build_linux", build), Session("sdist", env=((PRETEND_VERSION, release.version),))]
    if release.nightly:
        steps.append(RenameSdist())
    steps += [Gather(), Session("test_wheels", ("--wheelhouse", str(folder))), WriteManifest()]
    if release.nightly and options.upload:
        steps.append(Session("upload", tuple(upload)))
    return steps


def gather(wheelhouse: Path, release: BuildVersion, folder: Path) -> list[Path]:
    """Copy the release's wheels and sdist from the top of the wheelhouse into a fresh folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = [p for p in sorted(wheelhouse.iterdir()) if p.is_file() and (p.suffix == ".whl" or is_sdist(p))
             and belongs_to(p.name, release.distribution, release.version)]
    if not files:
        raise WheelkitError(f"no files of {release.distribution} {release.version} in {wheelhouse}: the build failed?")
    for path in files:
        shutil.copy2(path, folder / path.name)
    return sorted(folder.iterdir())


def nightly_sdist_source(wheelhouse: Path, release: BuildVersion) -> Path:
    """The sdist the sdist session wrote for the nightly (named cablesim-VERSION), to rename."""
    path = wheelhouse / f"cablesim-{release.version}.tar.gz"
    if not path.exists() or release.distribution != NIGHTLY_DISTRIBUTION:
        raise WheelkitError(f"{path} is missing: the sdist session did not write the nightly's sdist")
    return path


def nox_command(root: Path, environ: Mapping[str, str]) -> tuple[str, ...]:
    """How to run a nox session of the checkout at root: the noxfile's own nox (WHEELKIT_NOX), else this Python's."""
    given = environ.get(NOX_ENV, "")
    return tuple(shlex.split(given)) if given else (sys.executable, "-m", "nox", "--noxfile", str(root / "noxfile.py"))


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit release [arguments]`, in the release session's environment (with setuptools-scm)."""
    refuse_credentials_in_argv(argv)
    options = parse_release_args(argv)
    root = Path.cwd()
    release = build_version(root, sys.executable, option=options.version, nightly=options.kind == "nightly")
    if release.refusal:
        raise WheelkitError(f"refusing to build release {release.version}: {release.refusal}")
    steps = release_steps(options, release, root)
    context = Context(root, options, release, nox_command(root, os.environ), emit)
    emit(f"# {options.kind} {release.distribution} {release.version}: {len(steps)} step(s) into {context.folder}")
    for step in steps:
        step.run(context)
    return 0
