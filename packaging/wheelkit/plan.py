"""The build matrix: one cell per (Python, variant), with its expected tag, output name and exact commands."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from .errors import WheelkitError
from .interpreters import Interpreter

# Requirements of the persistent per-Python build environments (mirrors pyproject's build-system.requires).
BUILD_REQUIREMENTS = ("scikit-build-core>=1.0", "pybind11>=2.13", "setuptools-scm>=8")

# Environment knobs a maintainer sets; every build gets the same ones (documented in `build_linux -- --help`).
KNOBS: Mapping[str, str] = {
    "CABLESIM_BUILD_TYPE": "CMake build type of the wheels (default Release)",
    "CABLESIM_CMAKE_ARGS": "extra CMake arguments for every build, e.g. '-DCMAKE_CXX_FLAGS=-O3'",
    "CMAKE_BUILD_PARALLEL_LEVEL": "compile jobs per build (default: cores / parallel builds)",
    "SETUPTOOLS_SCM_PRETEND_VERSION": "pin the version instead of asking git",
}

MANYLINUX_BEST_ON_GLIBC_2_34 = 34  # linking against glibc >= 2.34 references __libc_start_main@GLIBC_2.34


def normalize_name(name: str) -> str:
    """The wheel file name form of a distribution name (PEP 427 / 503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def expected_platform(machine: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The platform tag auditwheel should give on this machine: the image's policy, else the host glibc's best."""
    env = os.environ if environ is None else environ
    arch = machine or platform.machine()
    if env.get("AUDITWHEEL_PLAT"):
        return env["AUDITWHEEL_PLAT"]
    libc, version = platform.libc_ver()
    if libc != "glibc" or not version:
        return f"linux_{arch}"
    major, minor = (int(part) for part in version.split(".")[:2])
    if minor >= MANYLINUX_BEST_ON_GLIBC_2_34:
        minor = MANYLINUX_BEST_ON_GLIBC_2_34
    return f"manylinux_{major}_{minor}_{arch}"


@dataclass(frozen=True)
class Cell:
    """One wheel to build."""

    python: Interpreter
    variant: str  # "default" or a variant word
    platform_tag: str
    distribution: str
    version: str
    root: Path  # the checkout
    build_root: Path  # build/ under the checkout
    cmake_args: tuple[str, ...] = ()
    build_type: str = "Release"

    @property
    def key(self) -> str:
        return f"{self.python.tag}-{self.variant}"

    @property
    def wheel_tag(self) -> str:
        return f"{self.python.tag}-{self.python.tag}-{self.platform_tag}"

    @property
    def output_name(self) -> str:
        return f"{normalize_name(self.distribution)}-{self.version}-{self.wheel_tag}.whl"

    @property
    def env_dir(self) -> Path:
        """Persistent build environment for this Python: reused, so no fresh random env per wheel."""
        return self.build_root / "envs" / self.python.tag

    @property
    def build_dir(self) -> Path:
        """Persistent CMake build folder: an unchanged rebuild only re-links nothing and takes seconds."""
        return self.build_root / "wheels" / self.key

    @property
    def staging_dir(self) -> Path:
        return self.build_root / "staging" / self.key

    @property
    def log_path(self) -> Path:
        return self.build_root / "logs" / f"{self.key}.log"

    @property
    def env_python(self) -> Path:
        return self.env_dir / "bin" / "python"

    def wheel_command(self, core_dir: Path) -> list[str]:
        """pip wheel without isolation, into the persistent build folder, linking the core built once."""
        return [
            str(self.env_python),
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(self.staging_dir / "raw"),
            f"--config-settings=build-dir={self.build_dir}",
            f"--config-settings=cmake.build-type={self.build_type}",
            f"--config-settings=cmake.define.CABLESIM_PREBUILT_CORE_DIR={core_dir}",
            *(f"--config-settings=cmake.args={arg}" for arg in self.cmake_args),
            str(self.root),
        ]


@dataclass(frozen=True)
class Plan:
    cells: tuple[Cell, ...]
    jobs: int
    wheelhouse: Path
    core_dir: Path
    core_command: tuple[str, ...] = field(default_factory=tuple)

    def commands(self) -> list[str]:
        """Every command the build runs, in order, as a maintainer could paste them."""
        lines = [shlex.join(self.core_command)] if self.core_command else []
        for cell in self.cells:
            lines.append(shlex.join([str(cell.python.path), "-m", "venv", str(cell.env_dir)]))
            lines.append(shlex.join([str(cell.env_python), "-m", "pip", "install", *BUILD_REQUIREMENTS]))
            lines.append(shlex.join(cell.wheel_command(self.core_dir)))
            lines.append(
                shlex.join(
                    ["auditwheel", "repair", "--plat", cell.platform_tag, "-w", str(cell.staging_dir / "repaired"),
                     str(cell.staging_dir / "raw" / "*.whl")]
                )
            )
        return lines


def default_jobs(cells: int, cores: Optional[int] = None) -> int:
    available = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(cells, available))


def make_plan(
    pythons: Sequence[Interpreter],
    variants: Sequence[str],
    *,
    root: Path,
    version: str,
    distribution: str = "cablesim",
    wheelhouse: Optional[Path] = None,
    jobs: Optional[int] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Plan:
    """The whole matrix for these Pythons and variants, with the environment knobs applied to every cell."""
    env = os.environ if environ is None else environ
    if jobs is not None and jobs < 1:
        raise WheelkitError(f"--jobs must be at least 1, got {jobs}")
    build_type = env.get("CABLESIM_BUILD_TYPE", "Release")
    if build_type not in ("Release", "RelWithDebInfo", "Debug", "MinSizeRel"):
        raise WheelkitError(
            f"CABLESIM_BUILD_TYPE={build_type!r} is not a CMake build type: use Release, RelWithDebInfo, "
            "Debug or MinSizeRel"
        )
    cmake_args = tuple(shlex.split(env.get("CABLESIM_CMAKE_ARGS", "")))
    build_root = root / "build"
    cells = tuple(
        Cell(
            python=python,
            variant=variant,
            platform_tag=expected_platform(python.machine, env),
            distribution=distribution,
            version=version,
            root=root,
            build_root=build_root,
            cmake_args=cmake_args,
            build_type=build_type,
        )
        for variant in (variants or ("default",))
        for python in pythons
    )
    core_dir = build_root / "core" / build_type
    core_command = (
        "cmake", "-S", str(root), "-B", str(core_dir), f"-DCMAKE_BUILD_TYPE={build_type}",
        "-DCABLESIM_BUILD_PYTHON=OFF", *cmake_args,
    )
    return Plan(
        cells=cells,
        jobs=jobs if jobs is not None else default_jobs(len(cells)),
        wheelhouse=wheelhouse or root / "wheelhouse",
        core_dir=core_dir,
        core_command=core_command,
    )


def host_is_linux() -> bool:
    return sys.platform.startswith("linux")
