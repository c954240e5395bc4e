"""Distribution files by their names (PyPA packaging.utils): which release a wheel or an sdist belongs to, and an
sdist's PKG-INFO."""

from __future__ import annotations

import tarfile
from pathlib import Path

from packaging.metadata import RawMetadata
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from .errors import WheelkitError
from .wheelfile import normal_version, parse_wheel_name, read_metadata


def is_sdist(path: Path) -> bool:
    """An sdist (NAME-VERSION.tar.gz), not the debug archive a wheel has next to it."""
    return path.name.endswith(".tar.gz") and not path.name.endswith(".debug.tar.gz")


def parse_sdist_name(filename: str) -> tuple[str, str]:
    """An sdist's name and version as its file name writes them; refuses a name that is none (PEP 625)."""
    try:
        parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise WheelkitError(f"{filename} is not an sdist file name (NAME-VERSION.tar.gz): build it with "
                            "`nox -s sdist`") from None
    name, _, version = filename[: -len(".tar.gz")].rpartition("-")
    return name, version


def release_of(filename: str) -> tuple[str, str] | None:
    """The (canonical name, normalised version) a wheel or sdist file belongs to; None for any other file."""
    try:
        if filename.endswith(".whl"):
            wheel = parse_wheel_name(filename)
            name, version = wheel.distribution, wheel.version
        elif is_sdist(Path(filename)):
            name, version = parse_sdist_name(filename)
        else:
            return None
    except WheelkitError:
        return None
    return canonicalize_name(name), normal_version(version)


def belongs_to(filename: str, distribution: str, version: str) -> bool:
    """Whether a file is a wheel or the sdist of distribution-version (names and versions compared normalised)."""
    return release_of(filename) == (canonicalize_name(distribution), normal_version(version))


def sdist_metadata(path: Path) -> RawMetadata:
    """An sdist's PKG-INFO (read_metadata)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            top = path.name[: -len(".tar.gz")]
            member = archive.extractfile(f"{top}/PKG-INFO")
            text = member.read().decode("utf-8") if member else ""
    except (OSError, KeyError, tarfile.TarError) as error:
        raise WheelkitError(f"{path.name}: cannot read its PKG-INFO ({error}); build it again with nox -s sdist"
                            ) from None
    return read_metadata(text)
