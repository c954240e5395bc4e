"""Argument parsing for `nox -s build_linux -- ...`: selectors, variants and options, with the knobs in --help."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Optional, Sequence

from .errors import WheelkitError
from .plan import KNOBS
from .selection import KNOWN_VARIANTS


@dataclass(frozen=True)
class BuildOptions:
    selectors: tuple[str, ...]
    plan_only: bool
    jobs: Optional[int]
    keep_going: bool


def build_parser(prog: str) -> argparse.ArgumentParser:
    knobs = "\n".join(f"  {name:32s} {text}" for name, text in KNOBS.items())
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build repaired wheels of cablesim for every CPython found (or the ones selected).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "selectors: 39, 3.12, cp311, '3*' (quote it), several at once; variant words: "
            f"{', '.join(KNOWN_VARIANTS)}\n\nenvironment knobs (passed to every build):\n{knobs}"
        ),
    )
    parser.add_argument("selectors", nargs="*", help="Python selectors and variant words")
    parser.add_argument("--plan", "--dry-run", dest="plan_only", action="store_true",
                        help="print the matrix and the exact commands, build nothing")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="wheels built in parallel (default: cores)")
    parser.add_argument("--keep-going", action="store_true", help="go on with the other wheels after a failure")
    return parser




def parse_build_args(argv: Sequence[str], prog: str = "nox -s build_linux --") -> BuildOptions:
    parser = build_parser(prog)

    def fail(message: str) -> None:  # argparse would exit; give the caller one error type instead
        raise WheelkitError(f"{message}\n{parser.format_usage().strip()}")

    parser.error = fail  # type: ignore[method-assign,assignment]
    args = parser.parse_args(list(argv))
    if args.jobs is not None and args.jobs < 1:
        raise WheelkitError(f"--jobs must be at least 1, got {args.jobs}")
    return BuildOptions(tuple(args.selectors), args.plan_only, args.jobs, args.keep_going)
