"""The version a build carries (setuptools-scm's, or pinned; PEP 440-normalised), nightly versions, and the refusal
to build a release from a checkout with uncommitted changes (docs/publishing.md)."""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version  # PyPA's packaging (the folder packaging/ is no package)

from .errors import WheelkitError
from .process import run

log = logging.getLogger(__name__)

PRETEND_VERSION = "SETUPTOOLS_SCM_PRETEND_VERSION"
DISTRIBUTION = "cablesim"
NIGHTLY_DISTRIBUTION = "cablesim-nightly"  # the import name stays cablesim


def normalize_version(text: str, what: str = "--version") -> str:
    """The PEP 440 normal form of a version (9.0a -> 9.0a0, 1.0-rc1 -> 1.0rc1); refuses anything else."""
    try:
        return str(Version(text.strip()))
    except InvalidVersion:
        raise WheelkitError(
            f"{what} {text!r} is not a PEP 440 version: use e.g. 1.2.3, 9.0a1, 1.2.3rc1 or 1.2.3.dev4"
        ) from None


def is_local(version: str) -> bool:
    """Whether a version has a local part (+g1ab2c3d...): PyPI and TestPyPI refuse those."""
    return Version(version).local is not None


def pinned_version(option: str | None, environ: Mapping[str, str]) -> str | None:
    """The version pinned by `--version` (first) or SETUPTOOLS_SCM_PRETEND_VERSION, normalised; None if neither."""
    if option:
        return normalize_version(option, "--version")
    if environ.get(PRETEND_VERSION, "").strip():
        return normalize_version(environ[PRETEND_VERSION], PRETEND_VERSION)
    return None


def current_version(root: Path, python: str, environ: Mapping[str, str] | None = None) -> str:
    """Ask setuptools-scm (installed for `python`) the version of the checkout at root, normalised; honours
    SETUPTOOLS_SCM_PRETEND_VERSION like the build does."""
    env = dict(os.environ if environ is None else environ)
    result = run([python, "-m", "setuptools_scm"], cwd=root, env=env)
    version = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not version:
        raise WheelkitError(
            f"cannot work out the version of {root}: setuptools-scm said: {result.stderr.strip()[-300:]}\n"
            "Build from a git checkout, or pin one with --version 1.2.3 (or SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3)"
        )
    return normalize_version(version, "setuptools-scm's version")


def dirty_files(root: Path) -> list[str] | None:
    """Files that differ from the commit: modified, staged, deleted, and untracked unless git-ignored (build/,
    wheelhouse/, .nox/ are). None when root is not a git checkout (or git is missing)."""
    result = run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=root)
    if result.returncode != 0:  # not a checkout, or no git (127)
        return None
    files: list[str] = []
    entries = result.stdout.split("\0")
    position = 0
    while position < len(entries):
        entry = entries[position]
        position += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        files.append(f"{path} ({_STATUS.get(status.strip()[:1], 'changed')})")
        if "R" in status or "C" in status:
            position += 1  # a rename is followed by its original path
    return sorted(files)


_STATUS = {"M": "modified", "A": "added", "D": "deleted", "R": "renamed", "C": "copied", "?": "untracked",
           "U": "unmerged", "T": "type changed"}


def release_refusal(root: Path, shown: int = 20) -> str:
    """Why a release may not be built from root without a pinned version ("" when it may): uncommitted changes, or
    no git checkout at all."""
    files = dirty_files(root)
    if files is None:
        return (f"{root} is not a git checkout, so setuptools-scm cannot tell which release it is. Pin the version: "
                "--version 1.2.3 (or SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3), or build a nightly with --nightly")
    if not files:
        return ""
    listed = "\n  ".join(files[:shown]) + (f"\n  ... and {len(files) - shown} more" if len(files) > shown else "")
    return (
        f"the checkout has {len(files)} uncommitted change(s), so this would not be the release of any commit "
        f"(setuptools-scm would call it +g<hash>.d<date>, which PyPI refuses):\n  {listed}\n"
        "Either commit them (or stash them: git stash -u) and build again, or pin the version you mean with "
        "--version 1.2.3 (or SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3); a nightly (--nightly) is never refused"
    )


def _without_dev(version: Version) -> str:
    return re.sub(r"\.dev\d+$", "", version.public)


def nightly_version(base: str, date: datetime.date, *, pinned: bool = False) -> str:
    """The nightly's version X.Y.Z.devYYYYMMDD: sorts after the last release and before the next one.

    base is setuptools-scm's answer or a pinned version. setuptools-scm already names the next release between two
    tags (1.2.4.dev3+g1ab2 after tag 1.2.3): the dev and local parts are replaced by the date. On an exactly tagged
    commit (1.2.3) the next release is guessed (1.2.4; 9.0a0 -> 9.0a1). A pinned version is the release the nightly
    leads to (--version 9.1 -> 9.1.devYYYYMMDD); a pinned dev version (9.1.dev20250101) is kept as it is.
    """
    version = Version(base)
    stamp = f".dev{date:%Y%m%d}"
    if pinned:
        return version.public if version.is_devrelease else version.public + stamp
    if version.is_devrelease:
        return _without_dev(version) + stamp
    if version.post is not None:
        return re.sub(r"\.post\d+$", f".post{version.post + 1}", version.public) + stamp
    if version.pre is not None:
        letter, number = version.pre
        return re.sub(rf"{letter}\d+$", f"{letter}{number + 1}", version.public) + stamp
    release = list(version.release)
    release[-1] += 1
    epoch = f"{version.epoch}!" if version.epoch else ""
    return epoch + ".".join(map(str, release)) + stamp


@dataclass(frozen=True)
class BuildVersion:
    """What a build will be called, and whether it may run."""

    distribution: str
    version: str
    pinned: bool
    nightly: bool
    refusal: str = ""  # why this release may not be built ("" when it may)

    @property
    def environment(self) -> dict[str, str]:
        """What every build of the matrix gets, so that each one carries exactly this version."""
        return {PRETEND_VERSION: self.version}


def build_version(root: Path, python: str, *, option: str | None, nightly: bool,
                  environ: Mapping[str, str] | None = None, today: datetime.date | None = None) -> BuildVersion:
    """The distribution name and version of a build (`--version`, `--nightly`), with the release check."""
    env = os.environ if environ is None else environ
    pin = pinned_version(option, env)
    version = pin or current_version(root, python, {k: v for k, v in env.items() if k != PRETEND_VERSION})
    if nightly:
        date = today or datetime.datetime.now(datetime.timezone.utc).date()
        return BuildVersion(NIGHTLY_DISTRIBUTION, nightly_version(version, date, pinned=pin is not None),
                            pin is not None, True)
    refusal = "" if pin else release_refusal(root)
    if not refusal and is_local(version):
        log.warning("version %s has a local part (+...): fine for testing, but PyPI refuses it; tag the commit "
                    "(git tag 1.2.3) or pin --version for a release", version)
    return BuildVersion(DISTRIBUTION, version, pin is not None, False, refusal)
