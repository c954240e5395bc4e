"""The checks on the installed wheel: it imports from the new environment (never the source tree), carries its
version, passes its own self-test and threads check (the GIL stays disabled on free-threaded Python), its programs
run, and it works with the oldest NumPy it allows."""

from __future__ import annotations

import functools
import json
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable

from ..compat import requirement_lower_bound
from ..errors import WheelkitError
from ..process import tail
from ..venv import VirtualEnv
from .results import Outcome, Skipped

if TYPE_CHECKING:
    from ..interpreters import Interpreter
    from .tester import WheelTester


SKIP_EMBEDDED_ENV = "CABLESIM_SKIP_EMBEDDED_PYTHON_TEST"  # =1: do not run the programs that embed Python
SOURCE_TREE = Path(__file__).resolve().parents[3]  # the checkout wheelkit runs from
# A tiny simulation for the oldest-NumPy import: an HH soma must fire once.
SMOKE_SIMULATION = (
    "import numpy, cablesim\n"
    "model = cablesim.Model()\n"
    "soma = model.Section('soma', L=18.8, diam=18.8, nseg=1, Ra=123, cm=1).insert('hh')\n"
    "model.IClamp(soma(0.5), delay=1, dur=1, amp=0.1)\n"
    "v = model.record(soma(0.5))\n"
    "model.run(10, dt=0.025, v_init=-65, celsius=6.3)\n"
    "assert float(numpy.max(v.values)) > 0, 'the HH soma did not fire'\n"
    "print(numpy.__version__)\n"
)
_INSPECT = (
    "import importlib.metadata as md, json, sys, sysconfig\n"
    "import {package} as package\n"
    "try:\n"  # build_info() for the engine and MPI checks, from the same start of Python; they ask again if it fails
    "    info = package.build_info() if hasattr(package, 'build_info') else None\n"
    "except Exception:\n"
    "    info = 'failed'\n"
    "print(json.dumps({{'file': package.__file__, 'version': getattr(package, '__version__', ''), "
    "'metadata_version': md.version('{distribution}'), 'prefix': sys.prefix, 'scripts': sysconfig.get_path('scripts'), "
    "'platlib': sysconfig.get_path('platlib'), 'purelib': sysconfig.get_path('purelib'), "
    "'numpy': __import__('numpy').__version__, 'build_info': info}}))\n"
)


def site_label(*, built: str, published: str) -> str | None:
    """The local-version label a site rewrite appended to the built version (1.0 -> 1.0+hpc, 1.0+g12 -> 1.0+g12.hpc),
    or None when the two versions differ otherwise."""
    for joint in (".", "+"):
        prefix = built + joint
        if published.startswith(prefix) and ("+" in built) == (joint == ".") and published[len(prefix):]:
            return published[len(prefix):]
    return None


def _inspect(t: WheelTester) -> dict[str, Any]:
    assert t.contents is not None
    code = _INSPECT.format(package=t.package, distribution=t.contents.name.distribution)
    completed = t.python_code(code, f"import {t.package}", check=False,
                              shown=[t.python, "-I", "-c", f"import {t.package}"])
    if completed.returncode != 0:
        raise WheelkitError(
            f"import {t.package} fails in the new environment:\n{tail(completed.stderr, 6)}\n"
            "The wheel lacks a module or a library it needs, or was built for another Python: rebuild it"
        )
    try:
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise WheelkitError(f"import {t.package} printed no report:\n{tail(completed.stdout)}") from None
    return result


def imports(t: WheelTester) -> Outcome:
    """Import from an empty folder; the module must come from the new environment, never the source tree."""
    installed = _inspect(t)
    module = Path(installed["file"]).resolve()
    home = (t.venv.root if t.use_venv else Path(installed["prefix"])).resolve()
    if not module.is_relative_to(home):
        raise WheelkitError(
            f"{t.package} was imported from {module}, not from {home}: something on sys.path shadows the "
            "installed wheel (a source tree or PYTHONPATH); run from an empty folder"
        )
    if module.is_relative_to(SOURCE_TREE) and not home.is_relative_to(SOURCE_TREE):
        raise WheelkitError(f"{t.package} was imported from the source tree ({module}), not the wheel")
    t.installed = installed
    return f"{module.parent} (numpy {installed['numpy']})"


def version(t: WheelTester) -> Outcome:
    assert t.installed is not None and t.contents is not None
    built = str(t.installed["version"])
    expected = t.contents.name.version
    if not built:
        raise WheelkitError(f"{t.package}.__version__ is empty: the build did not write _version.py")
    if built != expected:
        label = site_label(built=built, published=expected)
        if label is None:
            raise WheelkitError(
                f"{t.package}.__version__ is {built!r} but the wheel's file name says {expected!r}: "
                "the version file is stale; rebuild from a clean checkout"
            )
        return f"{expected} (built as {built}; the label '{label}' was added by `invoke wheelhouse.rewrite`)"
    return built


def selftest(t: WheelTester) -> Outcome:
    completed = t.python_code(f"import sys, {t.package}\nsys.exit(0 if {t.package}.test() else 1)",
                              f"{t.package}.test()")
    return tail(completed.stdout, 1) or "passed"


# The threads check (`python -m cablesim.selftest --threads-check`) runs on every interpreter: on a free-threaded one
# it is what checks that importing the wheel leaves the GIL disabled; on a GIL build it costs 0.3 s on 3.11 for the
# default wheel (0.8-1.7 s wall with the coreneuron engine on 2 busy cores), against 3.5 s for the wheel's other
# checks, and is the only check that runs models side by side with the GIL released, in the wheel as built.
THREADS_CHECK_PASSED = "cablesim threads check passed"  # the first words of its line on stdout
GIL_STAYED_DISABLED = "free-threaded Python, GIL disabled"  # in that line when it checked the GIL
_GIL_PROBE = "import sys, {package}\nprint('GIL enabled' if sys._is_gil_enabled() else 'GIL disabled')\n"


def gil_must_stay_disabled(python: Interpreter) -> bool:
    """Whether importing the wheel must leave the GIL disabled: on a free-threaded interpreter, as the interpreter
    itself said (sysconfig's Py_GIL_DISABLED, asked by interpreters.probe)."""
    return python.free_threaded


def threads(t: WheelTester) -> Outcome:
    """Independent models in threads give their serial results; on a free-threaded interpreter the GIL stays
    disabled after the import. The line must say what was checked: a run that did not check the GIL fails."""
    assert t.job.python is not None
    free_threaded = gil_must_stay_disabled(t.job.python)
    command: list[str | Path] = [t.python, "-I", "-m", f"{t.package}.selftest", "--threads-check"]
    completed = t.run(command, "the threads check", check=False)
    if completed.returncode == 2 and "unrecognized arguments: --threads-check" in completed.stderr:
        if not free_threaded:
            return Skipped("the wheel's selftest has no --threads-check (an older release)")
        said = t.python_code(_GIL_PROBE.format(package=t.package), f"import {t.package} on free-threaded Python",
                             shown=[t.python, "-I", "-c", f"import sys, {t.package}; print(sys._is_gil_enabled())"])
        if said.stdout.strip().splitlines()[-1:] != ["GIL disabled"]:
            raise WheelkitError(
                f"{t.job.python} is free-threaded, but importing {t.package} enabled the GIL:\n{tail(said.stderr)}\n"
                "an extension module of the wheel does not declare that it runs without the GIL (pybind11: "
                "py::mod_gil_not_used(), pybind11 >= 2.13): rebuild it"
            )
        return "GIL disabled after the import (the wheel's selftest has no --threads-check: an older release)"
    if completed.returncode != 0:
        raise WheelkitError(f"{t.package}.selftest --threads-check failed (exit {completed.returncode}):\n"
                            f"{tail(completed.stderr or completed.stdout)}")
    line = next((text for text in completed.stdout.splitlines() if text.startswith(THREADS_CHECK_PASSED)), "")
    if not line:
        raise WheelkitError(f"{t.package}.selftest --threads-check exited 0 without its line "
                            f"'{THREADS_CHECK_PASSED}: ...'; it printed:\n{tail(completed.stdout)}")
    if free_threaded and GIL_STAYED_DISABLED not in line:
        raise WheelkitError(
            f"{t.job.python} is free-threaded (Py_GIL_DISABLED), but the threads check did not check the GIL: "
            f"{line!r}; its selftest does not see a free-threaded Python: rebuild the wheel for {t.job.python.abi}"
        )
    return line[len(THREADS_CHECK_PASSED):].lstrip(": ")


def program(name: str) -> Callable[[WheelTester], Outcome]:
    """The check of one console script: --help prints something, --version (if it has one) the built version."""

    def check(t: WheelTester) -> Outcome:
        assert t.installed is not None and t.contents is not None
        path = Path(t.installed["scripts"]) / name
        if not path.exists():
            raise WheelkitError(f"{name} was not installed into {path.parent}: check the wheel's entry points")
        helped = t.run([path, "--help"], f"{name} --help")
        if not helped.stdout.strip():
            raise WheelkitError(f"{name} --help printed nothing")
        versioned = t.run([path, "--version"], f"{name} --version", check=False)
        if versioned.returncode != 0:
            return "--help works (no --version)"
        expected = str(t.installed["version"])  # the program reports the version it was built as
        if expected not in versioned.stdout + versioned.stderr:
            raise WheelkitError(
                f"{name} --version says {(versioned.stdout + versioned.stderr).strip()!r}, not {expected}"
            )
        return f"--help, --version: {versioned.stdout.strip()}"

    return check


def embedded_programs(t: WheelTester) -> list[str]:
    """ELF executables shipped in <package>/bin/ or *.data/scripts/ (entry points are written by installers)."""
    assert t.contents is not None

    def shipped_program(name: str) -> bool:
        in_scripts = "/scripts/" in name and name.split("/", 1)[0].endswith(".data")
        return in_scripts or name.startswith(f"{t.package}/bin/")

    return [name for name in t.contents.elf_files() if shipped_program(name)]


def embedded(t: WheelTester) -> Outcome:
    assert t.installed is not None
    programs = embedded_programs(t)
    if not programs:
        return Skipped("the wheel ships no program embedding Python")
    if t.environ.get(SKIP_EMBEDDED_ENV, "") not in ("", "0"):
        return Skipped(f"{SKIP_EMBEDDED_ENV} is set")
    ran = []
    for name in programs:
        if name.split("/", 1)[0].endswith(".data"):
            path = Path(t.installed["scripts"]) / PurePosixPath(name).name
        else:
            path = Path(t.installed["platlib"]) / name
        t.run([path, "--version"], f"{PurePosixPath(name).name} --version")
        ran.append(PurePosixPath(name).name)
    return f"ran {', '.join(ran)} --version (skip with {SKIP_EMBEDDED_ENV}=1)"


def _oldest_numpy_requirement(t: WheelTester) -> str | Skipped:
    assert t.contents is not None and t.job.python is not None
    bound = requirement_lower_bound(t.contents.requires_dist(), "numpy", t.job.python.markers())
    if bound is None:
        return Skipped("the wheel does not require NumPy")
    if not t.use_venv:
        return Skipped("use_venv is false: the interpreter's own NumPy is left alone")
    if not t.tools.uv:
        return Skipped("needs uv to find the oldest NumPy with a wheel for this Python (pip install uv)")
    return f"numpy>={bound}" if bound else "numpy"


def _with_oldest_numpy(t: WheelTester, requirement: str) -> str:
    """The wheel in an environment of its own with the oldest NumPy it allows (lowest-direct: the oldest release with
    a binary wheel for this Python), running the smoke simulation; the NumPy version it ran with."""
    assert t.job.python is not None and t.wheel is not None and t.tools.uv is not None
    environment = VirtualEnv(t.workdir / "oldest-numpy")
    t.run(environment.create_command(t.job.python.path, uv=t.tools.uv), "creating the oldest NumPy's environment",
          remember=False)
    t.run([t.tools.uv, "pip", "install", "--quiet", "--python", environment.python, "--resolution", "lowest-direct",
           "--only-binary", ":all:", requirement, t.wheel], f"installing the oldest NumPy allowed ({requirement})",
          remember=False)
    completed = t.run([environment.python, "-I", "-c", SMOKE_SIMULATION], "a simulation with the oldest NumPy",
                      remember=False)
    return completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else "?"


def prepare_oldest_numpy(t: WheelTester) -> None:
    """Start the oldest-NumPy check in the background: it needs nothing of the other checks' environment."""
    requirement = _oldest_numpy_requirement(t)
    if not isinstance(requirement, Skipped):
        t.start("oldest-numpy", functools.partial(_with_oldest_numpy, t, requirement))


def oldest_numpy(t: WheelTester) -> Outcome:
    requirement = _oldest_numpy_requirement(t)
    if isinstance(requirement, Skipped):
        return requirement
    started = t.started("oldest-numpy")
    installed = started if started is not None else _with_oldest_numpy(t, requirement)
    background = f"; {t.background_seconds['oldest-numpy']:.2f} s in the background" if started is not None else ""
    return f"numpy {installed} (wheel requires {requirement}): imported, HH soma fired{background}"
