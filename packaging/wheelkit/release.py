"""`nox -s release -- --type nightly|release --upload false|true`: NEURON's release workflow as nox steps.

Step one builds (build_linux with the version pinned for every wheel, the sdist with the same version), gathers the
release's files into build/release/NAME-VERSION/, tests every wheel there (test_wheels) and records what passed
(tested.json). A nightly with --upload true then uploads at once. A release is never uploaded by the run that
built it: the explicit second command, `--type release --upload true`, uploads the tested folder (and refuses when
there is none, or its files changed since they were tested).

The steps are plain data (`release_steps`), so the noxfile only runs them and the order is unit-tested.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import WheelkitError, raise_on_usage_errors
from .publish import MANIFEST, _matches, is_sdist
from .version import NIGHTLY_DISTRIBUTION, PRETEND_VERSION, BuildVersion
from .wheelfile import normalize_distribution


@dataclass(frozen=True)
class ReleaseOptions:
    kind: str  # nightly | release
    upload: bool
    repository: Optional[str]
    version: Optional[str]
    allow_partial: bool
    platforms: Optional[str]
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
    return root / "build" / "release" / f"{normalize_distribution(release.distribution)}-{release.version}"


@dataclass(frozen=True)
class Step:
    """One nox session to run (`nox -s session -- posargs`) with extra environment variables."""

    session: str
    posargs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    action: str = ""  # "" runs the session; gather / rename-sdist / manifest are done by the release session itself


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
        return [Step("upload", tuple(upload))]
    build = ("--version", release.version, *(["--nightly"] if release.nightly else []), *options.build_args)
    steps = [Step("build_linux", build), Step("sdist", env=((PRETEND_VERSION, release.version),))]
    if release.nightly:
        steps.append(Step("", action="rename-sdist"))
    steps += [Step("", action="gather"), Step("test_wheels", ("--wheelhouse", str(folder))),
              Step("", action="manifest")]
    if release.nightly and options.upload:
        steps.append(Step("upload", tuple(upload)))
    return steps


def gather(wheelhouse: Path, release: BuildVersion, folder: Path) -> list[Path]:
    """Copy the release's wheels and sdist from the top of the wheelhouse into a fresh folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = [p for p in sorted(wheelhouse.iterdir()) if p.is_file() and (p.suffix == ".whl" or is_sdist(p))
             and _matches(p.name, release.distribution, release.version)]
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
