"""The one error type of wheelkit."""

from __future__ import annotations

import argparse
from typing import Callable, NoReturn


class WheelkitError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""


def raise_on_usage_errors(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """Make a parser raise WheelkitError (with its usage line) where argparse would exit, so that every caller meets
    one error type; returns that function for the caller's own argument checks."""

    def fail(message: str) -> NoReturn:
        raise WheelkitError(f"{message}\n{parser.format_usage().strip()}")

    parser.error = fail  # type: ignore[method-assign]
    return fail
