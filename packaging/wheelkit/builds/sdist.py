"""The sdist job (`nox -s sdist`): the source distribution into wheelhouse/, its version baked in (_version.py,
PKG-INFO) so that it builds without git; pinned with --version, or git's, which must then be a commit's."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable

from ..errors import WheelkitError, raise_on_usage_errors
from ..process import run_shown
from ..version import PRETEND_VERSION, pinned_version, release_refusal
from .reproducible import EPOCH, source_date_epoch


def sdist_environment(argv: Sequence[str], root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """What `nox -s sdist -- [--version V]` builds with: the pinned version in SETUPTOOLS_SCM_PRETEND_VERSION, or
    git's, which must then be a commit's (an sdist is a release artifact: a dirty tree is refused as for wheels)."""
    parser = argparse.ArgumentParser(prog="nox -s sdist --", description="Build the sdist into wheelhouse/.")
    parser.add_argument("--version", help="pin the version (PEP 440) instead of asking git")
    raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    pinned = pinned_version(args.version, environ)
    if pinned:
        return {PRETEND_VERSION: pinned}
    refusal = release_refusal(root)
    if refusal:
        raise WheelkitError(f"refusing to build the sdist: {refusal}")
    return {}


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """Build the sdist with PyPA's build into a staging folder, then move it into wheelhouse/ (atomic: a failed
    build leaves nothing there)."""
    root = Path.cwd()
    env = sdist_environment(argv, root, os.environ)
    epoch = source_date_epoch(root, os.environ)
    if epoch is not None:  # scikit-build-core dates the members and the gzip header by it: the same bytes each time
        env[EPOCH] = epoch
    staging = root / "build" / "sdist-staging"
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "build", "--sdist", "--outdir", str(staging), str(root)]
    returncode = run_shown(command, env={**os.environ, **env})
    archives = sorted(staging.glob("*.tar.gz"))
    if returncode != 0 or len(archives) != 1:
        raise WheelkitError(f"building the sdist failed (exit {returncode}): see build's output above")
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    os.replace(archives[0], wheelhouse / archives[0].name)
    shutil.rmtree(staging, ignore_errors=True)
    emit(f"sdist: {wheelhouse / archives[0].name}")
    return 0
