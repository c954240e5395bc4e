"""`python -m wheelkit JOB [arguments]`: how every nox session calls wheelkit, inside the session's environment
(where the tools are). The only place that prints an error."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Callable, Protocol

from .errors import WheelkitError


class Job(Protocol):
    def __call__(self, argv: Sequence[str], emit: Callable[[str], None]) -> int: ...


# job -> (module with its main(argv, emit), usage)
JOBS: dict[str, tuple[str, str]] = {
    "build": ("builds.cli", "build {linux,macos} [arguments; --help]   the wheel matrix (nox -s build_linux|build_osx)"),
    "sdist": ("builds.sdist", "sdist [--version V]                    the sdist into wheelhouse/ (nox -s sdist)"),
    "diff": ("diff", "diff A B [--folder F]                  two wheels, folders or versions (nox -s wheel_diff)"),
    "test": ("check.cli", "test [arguments; --help]               wheels as users get them (nox -s test_wheels)"),
    "upload": ("release.upload", "upload [arguments; --help]             check and upload a release (nox -s upload)"),
    "tested": ("release.manifest", "tested record|verify [arguments; --help]  what passed its tests (nox -s tested)"),
    "release": ("release.steps", "release [arguments; --help]            build, test, upload (nox -s release)"),
    "rename-sdist": ("rename", "rename-sdist SDIST DISTRIBUTION DESTINATION"),
    "matrix": ("config", "matrix [--event E] [--describe]       the CI wheel matrix from [tool.wheelkit], JSON"),
    "mpi-headers": ("mpi_headers", "mpi-headers check | update NAME==VERSION...   (nox -s mpi_headers)"),
}


def usage() -> str:
    return "usage: " + "\n       ".join(f"python -m wheelkit {text}" for _, text in JOBS.values())


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in JOBS:
        print(usage(), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def emit(text: str) -> None:
        print(text, flush=True)

    module, _ = JOBS[arguments[0]]
    job: Job = importlib.import_module(f"{__package__}.{module}").main
    try:
        return job(arguments[1:], emit)
    except WheelkitError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
        return 130
