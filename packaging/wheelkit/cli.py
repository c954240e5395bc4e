"""`nox -s build_linux|build_osx -- ...`: argument parsing (selectors, variants, options, the knobs in --help) and
the whole run behind the sessions, which stay thin."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .build import Builder, CellResult, LogProgress, Progress
from .errors import WheelkitError
from .interpreters import discover
from .plan import KNOBS, make_plan
from .report import RichProgress, plan_table, summary_table
from .selection import KNOWN_VARIANTS, select
from .targets import LINUX, MACOS, Target
from .version import current_version

log = logging.getLogger(__name__)

TARGETS = {"linux": LINUX, "macos": MACOS}


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
        description="Build repaired wheels of cablesim for every CPython found (or the ones selected) into "
        "wheelhouse/, each with its debug information in a .debug.tar.gz next to it.",
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


def run_build(
    argv: Sequence[str],
    *,
    root: Path,
    target: Target,
    tools_bin: Path,
    emit: Callable[[str], None],
    live: bool = False,
) -> list[CellResult]:
    """What `nox -s build_linux|build_osx -- argv` does, with the tools (the repair tool, wheel, setuptools-scm,
    rich) installed in tools_bin. emit shows a line to the user; live shows progress bars instead of lines.
    Returns the results ([] for --plan); raises WheelkitError on bad input or when any wheel was not built."""
    options = parse_build_args(argv, f"nox -s {target.session} --")
    selection = select(options.selectors, discover())
    version = current_version(root, str(tools_bin / "python"))
    plan = make_plan(selection.pythons, selection.variants, root=root, version=version, jobs=options.jobs,
                     target=target)
    emit(plan_table(plan))
    if options.plan_only:
        emit("Commands:\n" + "\n".join(plan.commands()))
        return []
    progress: Progress = RichProgress(len(plan.cells)) if live else LogProgress(emit)
    builder = Builder(plan, keep_going=options.keep_going, repair_tool=str(tools_bin / target.repair_tool),
                      wheel_tool=str(tools_bin / "wheel"), tools_bin=tools_bin, progress=progress)
    if isinstance(progress, RichProgress):
        with progress:
            results = builder.run()
    else:
        results = builder.run()
    emit(summary_table(results))
    failed = [r for r in results if r.status != "built"]
    if failed:
        details = "\n".join(
            f"{r.cell.key}: {r.status}: {r.message.splitlines()[-1] if r.message else ''} (log: {r.log_path})"
            for r in failed
        )
        raise WheelkitError(f"{len(failed)} of {len(results)} wheel(s) not built:\n{details}")
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m wheelkit build linux|macos [build_linux arguments]`, run by the nox sessions inside their
    environment (where the tools are). Prints the error and returns 1 on failure; the only place that prints."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) < 2 or arguments[0] != "build" or arguments[1] not in TARGETS:
        print(f"usage: python -m wheelkit build {{{','.join(TARGETS)}}} [arguments; --help]", file=sys.stderr)
        return 2
    target = TARGETS[arguments[1]]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        run_build(arguments[2:], root=Path.cwd(), target=target, tools_bin=Path(sys.executable).parent,
                  emit=lambda text: print(text, flush=True), live=sys.stdout.isatty())
    except WheelkitError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0
