"""The version a build will carry: setuptools-scm's answer for the checkout (or the pinned one)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import WheelkitError


def current_version(root: Path, python: str) -> str:
    """Ask setuptools-scm (installed for `python`) the version of the checkout at root; honours
    SETUPTOOLS_SCM_PRETEND_VERSION like the build does."""
    result = subprocess.run(
        [python, "-m", "setuptools_scm"], cwd=root, capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    version = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not version:
        raise WheelkitError(
            f"cannot work out the version of {root}: setuptools-scm said: {result.stderr.strip()[-300:]}\n"
            "Build from a git checkout, or pin one with SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3"
        )
    return version
