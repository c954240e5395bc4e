"""The build job (`nox -s build_linux|build_osx -- ...`): its arguments (selectors, variants, options, the knobs in
--help) and the whole run behind the sessions, which stay thin; signals stop every build process."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import process
from ..config import Config, load_config
from ..errors import Interrupted, WheelkitError, raise_on_usage_errors
from ..interpreters import discover
from ..knobs import KNOBS
from ..rename import rename_wheel
from ..version import PRETEND_VERSION, BuildVersion, build_version
from .builder import Builder, CellResult, LogProgress, Progress, Status, check_writable
from .plan import make_plan
from .report import RichProgress, failure_report, plan_table, summary_table
from .reproducible import CHECK_FLAG, check_reproducible
from .script import plan_commands
from .selection import KNOWN_VARIANTS, select
from .targets import TARGETS, Target

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BuildOptions:
    selectors: tuple[str, ...]
    plan_only: bool
    jobs: int | None
    keep_going: bool
    version: str | None = None  # --version: pins the version (wins over SETUPTOOLS_SCM_PRETEND_VERSION)
    nightly: bool = False  # --nightly: the distribution cablesim-nightly, version X.Y.Z.devYYYYMMDD
    check_reproducible: bool = False  # --check-reproducible: build again in a second clone and compare
    rebuild: bool = False  # --rebuild: build even the wheels that are up to date


def build_parser(prog: str, config: Config | None = None) -> argparse.ArgumentParser:
    knobs = "\n".join(f"  {name:32s} {text}" for name, text in KNOBS.items())
    settings = (f"\n\nconfiguration ([tool.wheelkit] < WHEELKIT_* variables < command line):\n{config.describe()}"
                if config else "")
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build repaired wheels of cablesim for every CPython found (or the ones selected) into "
        "wheelhouse/, each with its debug information in a .debug.tar.gz next to it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "selectors: 39, 3.12, cp311, 3.14t, cp314t (free-threaded), '3*' (quote it: the configured pythons), "
            f"several at once; variant words: {', '.join(KNOWN_VARIANTS)}\n\nenvironment knobs (passed to every "
            f"build):\n{knobs}{settings}"
        ),
    )
    parser.add_argument("selectors", nargs="*", help="Python selectors and variant words")
    parser.add_argument("--plan", "--dry-run", dest="plan_only", action="store_true",
                        help="print the matrix and the exact commands, build nothing")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="wheels built at once (default: cores + 1)")
    parser.add_argument("--keep-going", action="store_true", help="go on with the other wheels after a failure")
    parser.add_argument("--version", dest="pin", metavar="VERSION", default=None,
                        help=f"pin the version (PEP 440, normalised: 9.0a -> 9.0a0) instead of asking git; "
                        f"wins over {PRETEND_VERSION}. Without a pin, a release from a checkout with uncommitted "
                        "changes is refused")
    parser.add_argument("--nightly", action="store_true",
                        help="build the distribution cablesim-nightly (import name cablesim) with the version "
                        "X.Y.Z.devYYYYMMDD (UTC date); with --version 9.1: 9.1.devYYYYMMDD")
    parser.add_argument("--rebuild", action="store_true",
                        help="build every selected wheel, even one whose sources, commands, environment and tools are "
                        "those of the wheel already in wheelhouse/ (by default that wheel is kept: 'up to date')")
    parser.add_argument(CHECK_FLAG, action="store_true",
                        help="then build the commit again in a clone at another path (its own build folders, another "
                        "jobs count) and compare every wheel and debug archive: sha256 of both, wheel diff on a mismatch")
    return parser


def parse_build_args(argv: Sequence[str], prog: str = "nox -s build_linux --",
                     config: Config | None = None) -> BuildOptions:
    parser = build_parser(prog, config)

    raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    if args.jobs is not None and args.jobs < 1:
        raise WheelkitError(f"--jobs must be at least 1, got {args.jobs}")
    return BuildOptions(tuple(args.selectors), args.plan_only, args.jobs, args.keep_going, args.pin, args.nightly,
                        args.check_reproducible, args.rebuild)


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
    config = load_config(root)
    options = parse_build_args(argv, f"nox -s {target.session} --", config)
    selection = select(options.selectors, discover(), config.pythons.value, config.variants.value)
    release = build_version(root, str(tools_bin / "python"), option=options.version, nightly=options.nightly)
    wheelhouse = root / "wheelhouse"
    # A nightly is built as cablesim (the checkout's name) into a staging folder, then renamed into the wheelhouse.
    built_into = root / "build" / "nightly-stage" if release.nightly else wheelhouse
    plan = make_plan(selection.pythons, selection.variants, root=root, version=release.version, jobs=options.jobs,
                     target=target, wheelhouse=built_into, config=config)
    if release.refusal and not options.plan_only:
        raise WheelkitError(f"refusing to build release {release.version}: {release.refusal}")
    emit(plan_table(plan))
    emit(_version_line(release, wheelhouse))
    if options.plan_only:
        selected = ("command line" if [s for s in options.selectors if s.strip().lower() not in KNOWN_VARIANTS]
                    else config.pythons.source)
        emit(f"Pythons: {' '.join(p.dotted for p in selection.pythons)} ({selected})\n"
             f"Configuration ([tool.wheelkit] < WHEELKIT_* variables < command line):\n{config.describe()}")
        emit("Commands:\n" + "\n".join(plan_commands(plan, tools_bin=tools_bin)))
        if release.refusal:
            raise WheelkitError(f"the build would refuse release {release.version}: {release.refusal}")
        return []
    check_writable(wheelhouse)  # a nightly's wheels are moved in after the build
    progress: Progress = RichProgress(len(plan.cells)) if live else LogProgress(emit)
    builder = Builder(plan, keep_going=options.keep_going, repair_tool=str(tools_bin / target.repair_tool),
                      wheel_tool=str(tools_bin / "wheel"), tools_bin=tools_bin, progress=progress,
                      rebuild=options.rebuild)
    if isinstance(progress, RichProgress):
        with progress:
            results = builder.run()
    else:
        results = builder.run()
    if release.nightly:
        _rename_nightlies(results, plan.wheelhouse, wheelhouse, release.distribution)
    emit(summary_table(results))
    failed = [r for r in results if not r.ok]
    if failed:
        raise WheelkitError(f"{len(failed)} of {len(results)} wheel(s) not built:\n{failure_report(results)}")
    if options.check_reproducible:
        check_reproducible(root, target.name, argv, [r.wheel for r in results if r.wheel], wheelhouse, emit,
                           jobs=options.jobs)
    return results


def _version_line(release: BuildVersion, wheelhouse: Path) -> str:
    how = "pinned" if release.pinned else "from git (setuptools-scm)"
    line = f"Version {release.version} ({how}), passed to every build as {PRETEND_VERSION}"
    if release.nightly:
        line += (f"; nightly: the wheels are renamed to the distribution {release.distribution} (import name "
                 f"cablesim) into {wheelhouse}")
    return line


def _rename_nightlies(results: Sequence[CellResult], staged: Path, wheelhouse: Path, distribution: str) -> None:
    """Move the built wheels (and debug archives) from the staging wheelhouse into the real one, renamed; the
    results then name the renamed wheels."""
    for result in results:
        if not result.ok or result.wheel is None:
            continue
        if process.STOP.reason:
            raise Interrupted(process.STOP.reason)
        destination = wheelhouse / result.wheel.parent.relative_to(staged)
        try:
            renamed = rename_wheel(result.wheel, distribution, destination)
        except WheelkitError as error:
            result.status, result.message = Status.FAILED, f"renaming to {distribution}: {error}"
            continue
        debug = result.wheel.with_name(result.wheel.name[: -len(".whl")] + ".debug.tar.gz")
        if debug.exists():
            os.replace(debug, destination / (renamed.name[: -len(".whl")] + ".debug.tar.gz"))
        result.wheel.unlink()
        result.wheel = renamed
        process.STOP.published.append(renamed)
    shutil.rmtree(staged, ignore_errors=True)


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit build linux|macos [build_linux arguments]`, run by the build sessions inside their
    environment (where the repair tool, wheel and rich are). An interrupt is said in one line, without a
    traceback, and ends with 128 + the signal's number."""
    if not argv or argv[0] not in TARGETS:
        raise WheelkitError(f"name the target: python -m wheelkit build {{{','.join(TARGETS)}}} [arguments; --help]")
    process.stop_on_signals()
    try:
        run_build(argv[1:], root=Path.cwd(), target=TARGETS[argv[0]], tools_bin=Path(sys.executable).parent,
                  emit=emit, live=sys.stdout.isatty())
        if process.STOP.reason:  # after the last step: the run is still reported as interrupted
            raise Interrupted(process.STOP.reason)
    except Interrupted as stop:
        # Said before the last clean-up: nox sends SIGKILL half a second after its own SIGTERM.
        wheelhouse = Path.cwd() / "wheelhouse"
        published = sum(wheel.parent == wheelhouse or wheelhouse in wheel.parents for wheel in process.STOP.published)
        where = (f"only the {published} wheel(s) finished before it are in wheelhouse/" if published
                 else "nothing was moved into wheelhouse/")
        print(f"error: build interrupted ({stop.reason}): every build process was stopped; {where}",
              file=sys.stderr, flush=True)
        process.STOP.finish()
        return 128 + (signal.SIGINT if stop.reason == "SIGINT" else signal.SIGTERM)
    return 0


