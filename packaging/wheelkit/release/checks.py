"""What must hold before the first file of a release is uploaded: one distribution and one version, file names that
agree with METADATA / PKG-INFO and WHEEL, intact RECORDs, the sdist and the whole wheel matrix (unless allowed
partial), repaired platform tags, no local version on PyPI, and twine check --strict. Any problem uploads nothing."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import process
from ..config import DEFAULTS, supported
from ..dists import is_sdist, parse_sdist_name, sdist_metadata
from ..errors import WheelkitError
from ..process import Runner, tail
from ..wheelfile import (
    WheelContents,
    disagreements,
    name_and_version_disagreements,
    normal_version,
    parse_wheel_name,
    verify_record,
)
from .repository import Repository

# The platform families of a full release: [tool.wheelkit] release-platforms (wheelkit's default here).
DEFAULT_PLATFORMS = tuple(DEFAULTS["release-platforms"])
_REPAIRED_PLATFORM = re.compile(r"^(manylinux|musllinux|macosx)_")
_LEGACY_MANYLINUX = re.compile(r"^manylinux(1|2010|2014)_")
_PYTHON_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")
# Declares free-threaded wheels: with it, every classified Python that has a free-threaded build (3.14t) is a cell.
FREE_THREADING_CLASSIFIER = "Programming Language :: Python :: Free Threading :: "


def collect(paths: Sequence[Path]) -> list[Path]:
    """The wheels and sdists named, or at the top of the folders named (not their variant subfolders; debug
    archives are not uploaded)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and (p.suffix == ".whl" or is_sdist(p)))
        elif path.is_file() and (path.suffix == ".whl" or is_sdist(path)):
            files.append(path)
        elif path.exists():
            raise WheelkitError(f"{path} is neither a wheel, an sdist (.tar.gz) nor a folder of them")
        else:
            raise WheelkitError(f"{path} does not exist: build the release first (nox -s build_linux, nox -s sdist)")
    return files


@dataclass(frozen=True)
class Release:
    """The files to upload, all of one distribution and version."""

    distribution: str  # as in METADATA, e.g. cablesim-nightly
    version: str
    wheels: tuple[Path, ...]
    sdist: Path | None
    pythons: tuple[str, ...] = ()  # from the classifiers: 3.9 ... 3.15, 3.14t (free-threaded)
    missing: tuple[str, ...] = ()  # cells of the matrix without a wheel (only with --allow-partial)

    @property
    def files(self) -> list[Path]:
        """Upload order: wheels first, the sdist last (pip never builds from source while wheels are missing)."""
        return [*self.wheels, *([self.sdist] if self.sdist else [])]


def platform_family(platform: str) -> str:
    """manylinux_2_34_x86_64 and manylinux2014_x86_64 -> manylinux_x86_64; macosx_11_0_arm64 -> macosx_arm64."""
    if _LEGACY_MANYLINUX.match(platform):
        return "manylinux_" + platform.split("_", 1)[1]
    match = re.match(r"^(manylinux|musllinux|macosx)_\d+_\d+_(.+)$", platform)
    return f"{match[1]}_{match[2]}" if match else platform


def check_release(files: Sequence[Path], *, repository: Repository, platforms: Sequence[str] = DEFAULT_PLATFORMS,
                  allow_partial: bool = False) -> Release:
    """Everything about the files that must hold before the first upload; raises listing every problem."""
    problems: list[str] = []
    names: dict[str, list[str]] = {}
    versions: dict[str, list[str]] = {}
    pythons: set[str] = set()
    wheels, sdists = [], []
    display_name = ""
    if not files:
        raise WheelkitError("no wheels or sdist to upload: build them (nox -s build_linux, nox -s sdist) or name them")
    for path in files:
        try:
            if path.suffix == ".whl":
                wheels.append(path)
                name = parse_wheel_name(path.name)
                file_name, file_version = name.distribution, name.version
                with WheelContents(path) as wheel:
                    verify_record(wheel)
                    metadata = wheel.metadata()
                    disagreeing = disagreements(wheel)
                for tag in name.tags:
                    if not _REPAIRED_PLATFORM.match(tag.platform) and not _LEGACY_MANYLINUX.match(tag.platform):
                        problems.append(f"{path.name}: platform tag {tag.platform} is not a repaired one (manylinux, "
                                        "musllinux, macosx): PyPI refuses it; use the wheels of nox -s build_linux / "
                                        "build_osx from wheelhouse/, not a plain build")
            else:
                sdists.append(path)
                file_name, file_version = parse_sdist_name(path.name)
                metadata = sdist_metadata(path)
                disagreeing = name_and_version_disagreements(file_name, file_version, metadata, "PKG-INFO")
        except WheelkitError as error:
            problems.append(str(error))
            continue
        meta_name, meta_version = metadata.get("name", ""), metadata.get("version", "")
        display_name = display_name or meta_name
        problems += [f"{path.name}: {problem}: rebuild it instead of renaming it" for problem in disagreeing]
        names.setdefault(canonicalize_name(meta_name or file_name), []).append(path.name)
        versions.setdefault(normal_version(meta_version or file_version), []).append(path.name)
        pythons.update(classified_pythons(metadata.get("classifiers", [])))
    for what, seen in (("distribution names", names), ("versions", versions)):
        if len(seen) > 1:
            listing = "; ".join(f"{key}: {', '.join(sorted(value))}" for key, value in sorted(seen.items()))
            problems.append(f"the files carry {len(seen)} {what} ({listing}): upload one release at a time (name "
                            "its files, or a folder holding only them)")
    version = next(iter(versions), "")
    if len(sdists) != 1:
        problems.append(f"{len(sdists)} sdists ({', '.join(p.name for p in sdists) or 'none'}): a release uploads "
                        "exactly one; build it with nox -s sdist")
    for each in versions:
        try:
            local = Version(each).local is not None
        except InvalidVersion:
            local = False
            problems.append(f"version {each!r} is not a PEP 440 version")
        if local and repository.public:
            problems.append(f"version {each} is a local version (+...): {repository.name} refuses it. Build "
                            "from a tagged commit (git tag 1.2.3) or pin the version (nox -s build_linux -- --version "
                            "1.2.3)")
    missing = expected_missing(wheels, sorted(pythons, key=python_order), platforms)
    if missing and not allow_partial:
        problems.append(f"{len(missing)} wheel(s) of the matrix missing (Pythons from the classifiers x platforms "
                        f"{', '.join(platforms)}): {', '.join(missing)}. Build them, or upload what there is with "
                        "--allow-partial (or limit --platforms)")
    if problems:
        raise WheelkitError("nothing uploaded, the release is not ready:\n  - " + "\n  - ".join(problems))
    return Release(display_name, version, tuple(sorted(wheels)), sdists[0],
                   tuple(sorted(pythons, key=python_order)), tuple(missing))


def python_order(version: str) -> tuple[bool, int, int]:
    """3.9 < 3.15 < 3.14t: the free-threaded builds after the others."""
    major, minor = version.removesuffix("t").split(".")
    return version.endswith("t"), int(major), int(minor)


def classified_pythons(classifiers: Sequence[str]) -> list[str]:
    """The Pythons a release's classifiers promise wheels for: each X.Y, and X.Yt where a free-threaded build exists
    (3.14t) when the Free Threading classifier is there."""
    versions = [m[1] for c in classifiers if (m := _PYTHON_CLASSIFIER.match(c))]
    threaded = any(c.startswith(FREE_THREADING_CLASSIFIER) for c in classifiers)
    return [*versions, *(f"{v}t" for v in versions if threaded and supported(f"{v}t"))]


def expected_missing(wheels: Sequence[Path], pythons: Sequence[str], platforms: Sequence[str]) -> list[str]:
    """The (ABI, platform family) cells of the matrix without a wheel, e.g. cp313-macosx_arm64, cp314t-manylinux_x86_64
    (a cp314 wheel does not stand for a cp314t one, nor the reverse)."""
    have = {(tag.abi, platform_family(tag.platform)) for w in wheels for tag in parse_wheel_name(w.name).tags}
    return [f"cp{p.replace('.', '')}-{platform}" for platform in platforms for p in pythons
            if (f"cp{p.replace('.', '')}", platform) not in have]


def twine_check(files: Sequence[Path], twine: str, run: Runner = process.run) -> None:
    """`twine check --strict` on every file (the long description renders, the metadata is complete)."""
    result = run([twine, "check", "--strict", *map(str, files)])
    if result.returncode == 127:
        raise WheelkitError(f"{twine} not found: install twine (the upload session does)")
    if result.returncode != 0:
        said = textwrap.indent(tail(result.stdout + result.stderr, 12), "    ")
        raise WheelkitError(f"nothing uploaded: twine check --strict failed:\n{said}")
