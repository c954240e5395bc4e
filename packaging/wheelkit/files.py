"""Files on disk: their sha256, and unpacking a zip of CI artifacts safely.

safe_extract is hand-written: zipfile.extractall only sanitises names, while a zip of artifacts must be refused
whole (path traversal, links, a zip bomb) before anything is written."""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .errors import WheelkitError

DEFAULT_EXTRACT_LIMIT = 4 * 1024**3  # bytes unpacked from one archive at most: stops a zip bomb


def sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK((info.external_attr >> 16) & 0xFFFF)


def safe_extract(archive: Path, destination: Path, max_bytes: int = DEFAULT_EXTRACT_LIMIT) -> list[Path]:
    """Unpack a zip (e.g. CI artifacts) into destination, refusing it whole if any member would land outside it
    (absolute paths, '..', drive letters), is a symbolic link, or the total size passes max_bytes."""
    destination = Path(destination)
    try:
        archive_zip = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise WheelkitError(f"cannot open {archive} as a zip: {error}; download the artifacts again") from None
    with archive_zip:
        members = archive_zip.infolist()
        root = destination.resolve()
        total = 0
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            unsafe = (
                name.startswith("/")
                or ".." in parts
                or re.match(r"^[A-Za-z]:", name) is not None
                or not (root / name).resolve().is_relative_to(root)
            )
            if unsafe:
                raise WheelkitError(
                    f"{archive} holds '{info.filename}', which would be written outside {destination}: refusing to "
                    "unpack it (path traversal); use artifacts produced by the project's CI"
                )
            if _is_link(info):
                raise WheelkitError(f"{archive} holds a symbolic link '{info.filename}': refusing to unpack it")
            total += info.file_size
            if total > max_bytes:
                raise WheelkitError(
                    f"{archive} unpacks to more than {max_bytes} bytes: refusing it (a zip bomb?); unpack it by hand"
                )
        written = []
        for info in members:
            target = root / info.filename.replace("\\", "/")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive_zip.open(info) as source, target.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            written.append(target)
        return written
