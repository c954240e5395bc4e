"""The one error type of wheelkit, and the interruption by a signal."""

from __future__ import annotations

import argparse
from typing import Callable, NoReturn


class WheelkitError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run (reason: which, or that the parent process ended); not the user's mistake, so it is
    said in one line, without a traceback."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def raise_on_usage_errors(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """Make a parser raise WheelkitError (with its usage line) where argparse would exit, so that every caller meets
    one error type; returns that function for the caller's own argument checks."""

    def fail(message: str) -> NoReturn:
        raise WheelkitError(f"{message}\n{parser.format_usage().strip()}")

    parser.error = fail  # type: ignore[method-assign]
    return fail
