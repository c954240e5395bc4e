"""The build matrix: one cell per (Python, variant), with its expected tag, output name and exact commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import WheelkitError
from ..interpreters import Interpreter
from ..pyproject import BuildSystem, build_system
from ..wheelfile import filename_name
from .configure import configure_environment
from .environment import BuildEnvironment
from .targets import LINUX, Target, debug_mode

# The file names of the compiled libraries in a wheel, for `find` in the plan's debug-information loop (the same
# files as targets' library_pattern: tests/test_wheelkit_plan.py compares them).
LIBRARY_NAMES: Mapping[str, tuple[str, ...]] = {"linux": ("*.so", "*.so.*"), "macos": ("*.so", "*.dylib")}


@dataclass(frozen=True)
class Variant:
    """A kind of wheel: the CMake switches of its core and bindings, and what its repair must leave out."""

    name: str
    cmake_defines: tuple[tuple[str, str], ...] = ()
    # Libraries the repair must not copy in; each must match something the wheel needs (checked).
    repair_excludes: tuple[str, ...] = ()
    march: str = ""  # an -march level (x86-64-v3) for arch-optimised builds; "" is the generic target

    @property
    def label(self) -> str:
        """Names its build folders and its wheelhouse folder: coreneuron, coreneuron-x86-64-v3."""
        return f"{self.name}-{self.march}" if self.march else self.name

    @property
    def wheelhouse_subdir(self) -> str:
        """Variant wheels share the default wheels' name and tags, so they live in their own folder."""
        return "" if self.name == "default" else self.label


VARIANTS: Mapping[str, Variant] = {
    "default": Variant("default"),
    # The optimised engine with OpenMP threads (auditwheel vendors libgomp); CABLESIM_MARCH makes it arch-optimised.
    "coreneuron": Variant("coreneuron", (("CABLESIM_CORENEURON", "ON"),)),
}


# Wheels carry the MPI shims on every platform, compiled from the MPI headers of pinned PyPI wheels
# (src/mpi/headers/) and headers only: they link no MPI library (the core loads the user's at run time), so the
# repair has nothing of MPI to leave out and one wheel works with PyPI's, the system's or a cluster's MPI.
MPI_DEFINES = (("CABLESIM_MPI", "ON"),)


def variant_for(name: str, environ: Mapping[str, str], target: Target = LINUX,
                repair_excludes: Mapping[str, Sequence[str]] | None = None) -> Variant:
    """The variant of this name for a target, with the environment's knobs applied (CABLESIM_MARCH for
    coreneuron, CABLESIM_MPT_INCLUDE_DIR for a headers-only MPI shim) and its repair excludes from [tool.wheelkit]."""
    if name not in VARIANTS:
        raise WheelkitError(f"unknown variant '{name}': known are {', '.join(VARIANTS)}")
    base = VARIANTS[name]
    defines = (*base.cmake_defines, *MPI_DEFINES)
    excludes = base.repair_excludes if repair_excludes is None else tuple(repair_excludes.get(name, ()))
    mpt = environ.get("CABLESIM_MPT_INCLUDE_DIR", "")
    if mpt and target.name == "linux":  # one more headers-only shim
        defines = (*defines, ("CABLESIM_MPI_EXTRA_SHIMS", f"mpt={mpt}"))
    variant = Variant(base.name, defines, excludes, base.march)
    march = environ.get("CABLESIM_MARCH", "")
    if march and name == "coreneuron":
        if not re.fullmatch(r"[\w.-]+", march):
            raise WheelkitError(f"CABLESIM_MARCH={march!r} is not an -march level such as x86-64-v3")
        return Variant(variant.name, (*variant.cmake_defines, ("CABLESIM_MARCH", march)), variant.repair_excludes,
                       march)
    return variant


def expected_platform(machine: str, environ: Mapping[str, str] | None = None, target: Target = LINUX) -> str:
    """The platform tag the repair should give for this machine (see targets.py)."""
    return target.platform_tag(machine, os.environ if environ is None else environ)


@dataclass(frozen=True)
class Cell:
    """One wheel to build."""

    python: Interpreter
    variant: Variant
    platform_tag: str
    distribution: str
    version: str
    root: Path  # the checkout
    build_root: Path  # build/ under the checkout
    build_system: BuildSystem  # pyproject.toml's [build-system]
    target: Target = LINUX
    cmake_args: tuple[str, ...] = ()
    build_type: str = "Release"
    debug_info: str = "split"
    environment: tuple[tuple[str, str], ...] = ()  # the target's variables for this build (deployment target...)

    @property
    def key(self) -> str:
        """Names its build folders and logs by the ABI: cp314t never shares cp314's."""
        return f"{self.python.abi}-{self.variant.label}"

    @property
    def wheel_tag(self) -> str:
        return f"{self.python.tag}-{self.python.abi}-{self.platform_tag}"

    @property
    def output_name(self) -> str:
        return f"{filename_name(self.distribution)}-{self.version}-{self.wheel_tag}.whl"

    @property
    def debug_archive_name(self) -> str:
        """The archive of the wheel's debug information, next to it in the wheelhouse."""
        return self.output_name[: -len(".whl")] + ".debug.tar.gz"

    @property
    def env_dir(self) -> Path:
        """Persistent build environment for this Python: reused, so no fresh random env per wheel."""
        return self.build_root / "envs" / self.python.abi

    @property
    def build_dir(self) -> Path:
        """Persistent CMake build folder: an unchanged rebuild only re-links nothing and takes seconds."""
        return self.build_root / "wheels" / self.key

    @property
    def core_dir(self) -> Path:
        """The core's build folder, shared by every Python of this variant and build type."""
        return self.build_root / "core" / f"{self.variant.label}-{self.build_type}"

    @property
    def staging_dir(self) -> Path:
        return self.build_root / "staging" / self.key

    @property
    def log_path(self) -> Path:
        return self.build_root / "logs" / f"{self.key}.log"

    @property
    def core_log_path(self) -> Path:
        """The core's log, next to the wheels' logs: the compiler's messages when the core does not compile."""
        return self.build_root / "logs" / f"core-{self.core_dir.name}.log"

    @property
    def build_env(self) -> BuildEnvironment:
        """Its Python's persistent build environment."""
        return BuildEnvironment(self.env_dir, self.python.path, self.build_system)

    @property
    def env_python(self) -> Path:
        return self.build_env.python

    @property
    def debug_dir(self) -> Path:
        """Where the debug information of the wheel's libraries goes, in the unpacked tree's layout."""
        return self.staging_dir / "debug"

    def _cmake_defines(self) -> list[tuple[str, str]]:
        defines = list(self.variant.cmake_defines)
        if self.debug_info != "strip":
            defines.append(("CABLESIM_DEBUG_INFO", "ON"))
        return defines

    def core_command(self) -> list[str]:
        """Configure the Python-independent core of this variant (compiled once for every Python)."""
        return [
            "cmake", "-S", str(self.root), "-B", str(self.core_dir), f"-DCMAKE_BUILD_TYPE={self.build_type}",
            "-DCABLESIM_BUILD_PYTHON=OFF", *(f"-D{name}={value}" for name, value in self._cmake_defines()),
            *self.cmake_args,
        ]

    def core_configure_inputs(self, environ: Mapping[str, str]) -> dict[str, object]:
        """Everything the core's configure depends on: its command and what CMake reads from the environment."""
        return {"command": self.core_command(), "environment": configure_environment(environ)}

    def bindings_configure_inputs(self, environ: Mapping[str, str]) -> dict[str, object]:
        """Everything the bindings' configure depends on: the Python, the backend's settings, the environment."""
        return {"python": [str(self.python.path), ".".join(map(str, self.python.version))],
                "config-settings": self.config_settings(), "environment": configure_environment(environ)}

    def core_build_command(self) -> list[str]:
        return ["cmake", "--build", str(self.core_dir), "--target", "cablesim_core"]

    def config_settings(self) -> dict[str, object]:
        """The PEP 517 config settings of this cell's build (scikit-build-core's names)."""
        settings: dict[str, object] = {
            "build-dir": str(self.build_dir),
            "cmake.build-type": self.build_type,
            "cmake.define.CABLESIM_PREBUILT_CORE_DIR": str(self.core_dir),
            **{f"cmake.define.{name}": value for name, value in self._cmake_defines()},
        }
        if self.cmake_args:
            settings["cmake.args"] = list(self.cmake_args)
        if self.debug_info != "strip":
            settings["install.strip"] = "false"  # wheelkit splits the debug information off after the build
        return settings

    def wheel_command(self) -> list[str]:
        """Call the build backend directly in the persistent environment (what `pip wheel --no-build-isolation`
        does, without pip's ~1.5 s of start-up per wheel), into the persistent build folder, linking the core built
        once. Runs in the checkout (the backend builds the project in its working folder)."""
        code = self.build_system.hook_code("build_wheel", "sys.argv[1], json.loads(sys.argv[2])")
        return [str(self.env_python), "-c", code, str(self.staging_dir / "raw"),
                json.dumps(self.config_settings(), sort_keys=True)]

    @property
    def unpack_dir(self) -> Path:
        return self.staging_dir / "unpacked"

    def unpack_command(self, wheel_tool: str, wheel: str) -> list[str]:
        return [wheel_tool, "unpack", "--dest", str(self.unpack_dir), wheel]

    def pack_command(self, wheel_tool: str, tree: str) -> list[str]:
        """Pack the unpacked tree again (wheel pack writes a fresh RECORD) for the repair."""
        return [wheel_tool, "pack", "--dest-dir", str(self.staging_dir / "split"), tree]

    def build_environment(self) -> dict[str, str]:
        """The target's variables plus the plan's version, pinned so that every build carries exactly this one."""
        return {**dict(self.environment), "SETUPTOOLS_SCM_PRETEND_VERSION": self.version}


def core_cells(cells: Sequence[Cell]) -> list[Cell]:
    """One of these cells per distinct core build (variant and build type), in their order."""
    seen: dict[Path, Cell] = {}
    for cell in cells:
        seen.setdefault(cell.core_dir, cell)
    return list(seen.values())


@dataclass(frozen=True)
class Plan:
    cells: tuple[Cell, ...]
    jobs: int
    wheelhouse: Path
    target: Target = LINUX

    def output_dir(self, cell: Cell) -> Path:
        """Where a cell's wheel lands: the wheelhouse, or its variant's folder in it."""
        return self.wheelhouse / cell.variant.wheelhouse_subdir if cell.variant.wheelhouse_subdir else self.wheelhouse

    @property
    def core_cells(self) -> list[Cell]:
        """One cell per distinct core build (variant and build type): the cores to compile before the wheels."""
        return core_cells(self.cells)

    def compile_variables(self, cell: Cell, *, core: bool = False, environ: Mapping[str, str] | None = None
                          ) -> dict[str, str]:
        """What a compile's environment gets on top of the inherited one: the cell's variables, then the defaults
        wheelkit gives those a maintainer did not set (parallel level, Ninja, ccache)."""
        env = os.environ if environ is None else environ
        cores = os.cpu_count() or 1
        # All cores for the core (nothing else runs yet); the wheels share them.
        defaults = {"CMAKE_BUILD_PARALLEL_LEVEL": str(cores if core else max(1, cores // max(1, self.jobs)))}
        if shutil.which("ninja"):
            defaults["CMAKE_GENERATOR"] = "Ninja"
        if shutil.which("ccache"):
            # Fixed paths and environments make ccache hits possible across runs and checkouts.
            defaults.update(CMAKE_CXX_COMPILER_LAUNCHER="ccache", CCACHE_BASEDIR=str(cell.root),
                            CCACHE_NOHASHDIR="true")
        return {**dict(sorted(cell.build_environment().items())),
                **{name: value for name, value in sorted(defaults.items()) if name not in env}}

# Wheels built at once: one per core plus one. Each build is mostly one single-threaded compile (the bindings'
# translation unit) plus serial steps (configure, debug split, repair); the extra build keeps the cores busy through
# those steps and through the last odd wheel. Measured 2026-11-23, 5 Pythons on 2 cores, cold: 2 at once 66-72 s,
# 3 at once 57-60 s, 5 at once 60-62 s (more compilers than cores only compete for the caches).
EXTRA_BUILDS = 1


def default_jobs(cells: int, cores: int | None = None) -> int:
    available = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(cells, available + EXTRA_BUILDS))


def make_plan(
    pythons: Sequence[Interpreter],
    variants: Sequence[str],
    *,
    root: Path,
    version: str,
    distribution: str = "cablesim",
    wheelhouse: Path | None = None,
    jobs: int | None = None,
    environ: Mapping[str, str] | None = None,
    target: Target = LINUX,
    config: Config | None = None,
) -> Plan:
    """The whole matrix for these Pythons and variants, with the environment knobs applied to every cell and
    [tool.wheelkit]'s repair excludes and deployment targets (config; None: the built-in ones)."""
    env = os.environ if environ is None else environ
    if jobs is not None and jobs < 1:
        raise WheelkitError(f"--jobs must be at least 1, got {jobs}")
    build_type = env.get("CABLESIM_BUILD_TYPE", "Release")
    if build_type not in ("Release", "RelWithDebInfo", "Debug", "MinSizeRel"):
        raise WheelkitError(
            f"CABLESIM_BUILD_TYPE={build_type!r} is not a CMake build type: use Release, RelWithDebInfo, "
            "Debug or MinSizeRel"
        )
    march = env.get("CABLESIM_MARCH", "")
    if march and "coreneuron" not in variants:
        raise WheelkitError(
            f"CABLESIM_MARCH={march} compiles the coreneuron engine only, and no coreneuron wheel is selected: add "
            f"the variant word (nox -s {target.session} -- coreneuron) or unset CABLESIM_MARCH"
        )
    cmake_args = tuple(shlex.split(env.get("CABLESIM_CMAKE_ARGS", "")))
    build_root = Path(env["CABLESIM_BUILD_ROOT"]) if env.get("CABLESIM_BUILD_ROOT") else root / "build"
    system = build_system(root)
    cells = tuple(
        Cell(
            python=python,
            variant=variant_for(variant, env, target, config.repair_excludes.value if config else None),
            platform_tag=target.platform_tag(python.machine, env, config.deployment_targets.value if config else None),
            distribution=distribution,
            version=version,
            root=root,
            build_root=build_root,
            build_system=system,
            target=target,
            cmake_args=cmake_args,
            build_type=build_type,
            debug_info=debug_mode(env),
            environment=tuple(sorted(target.build_environment(
                python.machine, env, config.deployment_targets.value if config else None).items())),
        )
        for variant in (variants or ("default",))
        for python in pythons
    )
    return Plan(cells=cells, jobs=jobs if jobs is not None else default_jobs(len(cells)),
                wheelhouse=wheelhouse or root / "wheelhouse", target=target)
