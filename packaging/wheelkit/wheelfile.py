"""Wheel files (PEP 427 / PEP 491): their names and tags, what is inside (METADATA, WHEEL, entry points, RECORD), and
writing one with a correct RECORD. General on purpose: nothing here is specific to cablesim.

verify_record is hand-written: installers check RECORD only while installing, and say less about what differs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import stat
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packaging.metadata import RawMetadata, parse_email
from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from .errors import WheelkitError
from .native import ELF_MAGIC, is_vendored

if TYPE_CHECKING:
    from typing_extensions import Self  # annotations only: never imported at run time


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel's file name (PEP 427) as written in it, and its tags (PyPA packaging's)."""

    filename: str
    distribution: str
    version: str
    build: str
    tags: frozenset[Tag]

    @property
    def tag_text(self) -> str:
        """The compressed tag as written in the file name, e.g. cp39-cp39-manylinux_2_34_x86_64."""
        return "-".join(self.filename[:-4].rsplit("-", 3)[-3:])


def parse_wheel_name(filename: str) -> WheelName:
    """Split a wheel's file name into distribution, version, build tag and the (expanded) set of tags."""
    name = PurePosixPath(filename).name
    try:
        _, _, _, tags = parse_wheel_filename(name)
    except InvalidWheelFilename:
        raise WheelkitError(
            f"'{name}' is not a wheel file name: expected NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl (PEP 427); "
            "rename it as the build produced it"
        ) from None
    parts = name[: -len(".whl")].split("-")
    return WheelName(name, parts[0], parts[1], parts[2] if len(parts) == 6 else "", tags)


_TAG_PART = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


def parse_tags(text: str) -> frozenset[Tag]:
    """The tags of a tag as a file name or a WHEEL file writes it, compressed or not:
    cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64."""
    parts = text.strip().split("-")
    if len(parts) != 3 or not all(_TAG_PART.match(part) for part in parts):
        raise WheelkitError(
            f"'{text}' is not a wheel tag: expected PYTHON-ABI-PLATFORM of letters, digits and '_', e.g. "
            "cp311-cp311-manylinux_2_34_x86_64"
        )
    return parse_tag(text.strip())


def filename_name(distribution: str) -> str:
    """A distribution's name as wheel and sdist file names carry it: canonical (PEP 503), with underscores."""
    return canonicalize_name(distribution).replace("-", "_")


def normal_version(text: str) -> str:
    """The PEP 440 normal form of a version (as file names carry it); the text itself when it is none."""
    try:
        return str(Version(text))
    except InvalidVersion:
        return text


def read_metadata(text: str) -> RawMetadata:
    """METADATA or PKG-INFO read by PyPA's packaging.metadata, leniently: what a check compares, not a validation
    (twine check --strict validates before an upload). A field given twice is left out."""
    raw, _ = parse_email(text)
    return raw


def name_and_version_disagreements(file_distribution: str, file_version: str, metadata: RawMetadata,
                                   source: str = "METADATA") -> list[str]:
    """Where a distribution's file name and its METADATA (or an sdist's PKG-INFO) disagree on the name or the version:
    a renamed file."""
    meta_name, meta_version = metadata.get("name", ""), metadata.get("version", "")
    problems = []
    if canonicalize_name(meta_name) != canonicalize_name(file_distribution):
        problems.append(f"its {source} names {meta_name!r}, its file name {file_distribution!r}")
    if normal_version(meta_version) != file_version:
        problems.append(f"its {source} says version {meta_version!r}, its file name {file_version!r} (versions must "
                        "be PEP 440-normalised and agree)")
    return problems


def disagreements(wheel: WheelContents) -> list[str]:
    """Where a wheel's file name disagrees with what it says of itself: METADATA's Name and Version, WHEEL's Tag lines
    (a renamed or re-tagged file). The one check of test_wheels, upload and the wheelhouse; each adds its advice."""
    name = wheel.name
    problems = name_and_version_disagreements(name.distribution, name.version, wheel.metadata())
    declared = wheel.wheel_tags()
    if declared != name.tags:
        problems.append(f"its WHEEL file declares {', '.join(sorted(map(str, declared))) or 'no Tag'}, its file name "
                        f"{', '.join(sorted(map(str, name.tags)))}")
    return problems


def moved_member(member: str, old_dist_info: str, new_stem: str) -> str:
    """A wheel member's name once its .dist-info and .data folders belong to new_stem (name-version): what a
    rename or a new version does to every member; others keep their names."""
    top, _, rest = member.partition("/")
    if top == old_dist_info:
        return f"{new_stem}.dist-info/{rest}"
    if top == f"{old_dist_info[: -len('.dist-info')]}.data":
        return f"{new_stem}.data/{rest}"
    return member


# --- what is inside ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordEntry:
    path: str
    hash: str  # "sha256=<urlsafe b64, no padding>" or "" for RECORD itself
    size: int | None


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    """A RECORD hash field: algorithm=urlsafe-base64 digest without padding."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class WheelContents:
    """A wheel opened for reading: its file list, .dist-info files, tags, metadata and RECORD."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = parse_wheel_name(self.path.name)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as error:
            raise WheelkitError(
                f"cannot open {self.path} as a wheel (zip): {error}; download or build it again"
            ) from None
        self.names = [info.filename for info in self._zip.infolist() if not info.is_dir()]
        dist_infos = sorted({n.split("/", 1)[0] for n in self.names if n.split("/", 1)[0].endswith(".dist-info")})
        expected = f"{self.name.distribution}-{self.name.version}.dist-info"
        matching = [d for d in dist_infos if _same_release(d[: -len(".dist-info")], self.name)]
        if len(matching) != 1:
            raise WheelkitError(
                f"{self.path.name} has no single {expected}/ folder (found {dist_infos or 'none'}): the file name and "
                "the metadata disagree; rebuild the wheel instead of renaming it"
            )
        self.dist_info = matching[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def read(self, name: str) -> bytes:
        try:
            return self._zip.read(name)
        except KeyError:
            raise WheelkitError(f"{self.path.name} has no file {name}: the wheel is incomplete; rebuild it") from None

    def read_text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def mode(self, name: str) -> int:
        return (self._zip.getinfo(name).external_attr >> 16) & 0xFFFF

    # .dist-info ---------------------------------------------------------------------------------------------------
    def metadata(self) -> RawMetadata:
        """Its METADATA (read_metadata)."""
        return read_metadata(self.read_text(f"{self.dist_info}/METADATA"))

    def metadata_version(self) -> str:
        return self.metadata().get("version", "")

    def requires_dist(self) -> list[str]:
        return list(self.metadata().get("requires_dist", []))

    def wheel_tags(self) -> frozenset[Tag]:
        """The Tag: lines of the WHEEL file."""
        message = HeaderParser().parsestr(self.read_text(f"{self.dist_info}/WHEEL"))
        return frozenset(tag for value in message.get_all("Tag", []) for tag in parse_tags(str(value)))

    def entry_points(self, group: str = "console_scripts") -> dict[str, str]:
        """name -> object reference of one entry point group ({} when the wheel has none)."""
        name = f"{self.dist_info}/entry_points.txt"
        if name not in self.names:
            return {}
        points: dict[str, str] = {}
        current = ""
        for raw in self.read_text(name).splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
            elif current == group and "=" in line:
                key, value = line.split("=", 1)
                points[key.strip()] = value.strip()
        return points

    def record(self) -> list[RecordEntry]:
        name = f"{self.dist_info}/RECORD"
        entries = []
        for row in csv.reader(io.StringIO(self.read_text(name))):
            if not row:
                continue
            if len(row) != 3:
                raise WheelkitError(f"{self.path.name}: RECORD row {row} does not have 3 fields: rebuild the wheel")
            path, digest, size = row
            entries.append(RecordEntry(path, digest, int(size) if size else None))
        return entries

    # contents -----------------------------------------------------------------------------------------------------
    def top_level(self) -> list[str]:
        roots = {n.split("/", 1)[0] for n in self.names}
        return sorted(root for root in roots if not root.endswith((".dist-info", ".data")))

    def vendored_libraries(self) -> list[str]:
        """The members that are libraries a repair copied in (auditwheel's <package>.libs/, delocate's .dylibs/)."""
        return sorted(n for n in self.names if is_vendored(n))

    def elf_files(self) -> list[str]:
        return [n for n in self.names if self._zip.open(n).read(4) == ELF_MAGIC]


def _same_release(stem: str, name: WheelName) -> bool:
    """Whether a .dist-info folder's stem (NAME-VERSION) names the file name's release."""
    distribution, _, version = stem.rpartition("-")
    return canonicalize_name(distribution) == canonicalize_name(name.distribution) and \
        normal_version(version) == normal_version(name.version)


def verify_record(wheel: WheelContents) -> int:
    """Every file in the wheel is in RECORD with a matching hash and size, and every RECORD line has its file.

    Returns the number of files checked; raises WheelkitError listing every mismatch.
    """
    record_name = f"{wheel.dist_info}/RECORD"
    entries = wheel.record()
    problems: list[str] = []
    listed: dict[str, RecordEntry] = {}
    for entry in entries:
        if entry.path in listed:
            problems.append(f"{entry.path}: listed twice")
        listed[entry.path] = entry
    present = set(wheel.names)
    unsigned = (record_name, f"{wheel.dist_info}/RECORD.jws", f"{wheel.dist_info}/RECORD.p7s")
    for name in wheel.names:
        if name in unsigned:
            continue
        listed_entry = listed.get(name)
        if listed_entry is None:
            problems.append(f"{name}: in the wheel but not in RECORD")
            continue
        if not listed_entry.hash:
            problems.append(f"{name}: no hash in RECORD")
            continue
        algorithm = listed_entry.hash.split("=", 1)[0]
        if algorithm not in ("sha256", "sha384", "sha512"):
            problems.append(f"{name}: RECORD hash algorithm {algorithm!r} is not allowed (PEP 427: sha256 or stronger)")
            continue
        data = wheel.read(name)
        if record_hash(data, algorithm) != listed_entry.hash:
            problems.append(f"{name}: content does not match its RECORD hash")
        elif listed_entry.size is not None and listed_entry.size != len(data):
            problems.append(f"{name}: {len(data)} bytes, RECORD says {listed_entry.size}")
    problems += [f"{path}: in RECORD but not in the wheel" for path in listed if path not in present]
    if record_name not in listed:
        problems.append(f"{record_name}: RECORD does not list itself")
    if problems:
        raise WheelkitError(
            f"{wheel.path.name}: RECORD does not match the contents ({len(problems)} problem(s)):\n  "
            + "\n  ".join(problems)
            + "\nThe wheel was changed after it was built, or built wrongly: rebuild it (or rewrite it with "
            "wheelkit.wheelfile.write_wheel, which writes a correct RECORD)"
        )
    return len(wheel.names)


# --- writing ----------------------------------------------------------------------------------------------------


ZIP_EARLIEST = 315532800  # 1980-01-01T00:00:00Z: a zip cannot hold an earlier time
FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # the members' time without an epoch


def zip_date(epoch: int | None) -> tuple[int, int, int, int, int, int]:
    """A zip member's time for SOURCE_DATE_EPOCH (UTC, clamped to 1980 as zip needs), or FIXED_DATE without one."""
    if epoch is None:
        return FIXED_DATE
    moment = time.gmtime(max(epoch, ZIP_EARLIEST))
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)


def write_wheel(path: Path, files: Mapping[str, bytes], *, executable: Iterable[str] = (),
                epoch: int | None = None) -> Path:
    """Write a wheel at path from {archive name: content}, adding a correct RECORD (the name comes from path).

    The .dist-info's METADATA and WHEEL must be among files; RECORD is computed, any given one is replaced.
    Deterministic: entries in sorted order with .dist-info last (as wheel builders do), all at one time (the epoch's,
    else FIXED_DATE), modes 644, or 755 for the executable ones. Returns path.
    """
    wheel_name = parse_wheel_name(Path(path).name)
    dist_info = f"{wheel_name.distribution}-{wheel_name.version}.dist-info"
    record_name = f"{dist_info}/RECORD"
    body = {name: data for name, data in files.items() if name != record_name}
    for required in ("METADATA", "WHEEL"):
        if f"{dist_info}/{required}" not in body:
            raise WheelkitError(f"write_wheel: {dist_info}/{required} is missing from the files given")
    executables = set(executable)
    ordered = sorted(body, key=lambda n: (n.startswith(dist_info + "/"), n))
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name in ordered:
        writer.writerow([name, record_hash(body[name]), len(body[name])])
    writer.writerow([record_name, "", ""])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(path).with_name(Path(path).name + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in [*ordered, record_name]:
            info = zipfile.ZipInfo(name, date_time=zip_date(epoch))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((0o755 if name in executables else 0o644) | stat.S_IFREG) << 16
            archive.writestr(info, body[name] if name != record_name else rows.getvalue().encode("utf-8"))
    os.replace(temporary, path)
    return Path(path)


def read_all(path: Path) -> dict[str, bytes]:
    """Every file of a wheel (or any zip) by archive name: the starting point for rewriting one."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def wheels_in(folder: Path) -> list[Path]:
    """Wheel files under folder (recursively), sorted by name."""
    return sorted(p for p in Path(folder).rglob("*.whl") if p.is_file())


