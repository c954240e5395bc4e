"""`wheel diff` (`nox -s wheel_diff -- A B [--folder F]`): what differs between two wheels, two folders of wheels or two
versions, down to the shared libraries' NEEDED, paths, symbols, sections and build-id; and between two debug archives.

Hand-written: no library compares wheels."""

from __future__ import annotations

import argparse
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import Callable

from .errors import WheelkitError, raise_on_usage_errors
from .native import ELF_MAGIC, ElfFacts, elf_facts
from .wheelfile import moved_member, parse_wheel_name, wheels_in

SHOWN = 12  # at most this many symbols or entries of one kind in a report; the rest are counted


@dataclass
class WheelDiff:
    """The differences between two wheels; empty lists everywhere when they are byte-identical inside."""

    a: Path
    b: Path
    identical_bytes: bool = False
    added: list[tuple[str, int]] = field(default_factory=list)  # (member, size)
    removed: list[tuple[str, int]] = field(default_factory=list)
    changed: list[tuple[str, int, int]] = field(default_factory=list)  # (member, size in a, size in b)
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (file: field, value in a, value in b)
    libraries: list[tuple[str, list[str]]] = field(default_factory=list)  # (member, what differs)
    archive: list[str] = field(default_factory=list)  # zip-level differences: order, times, permissions

    @property
    def same(self) -> bool:
        return self.identical_bytes or not (self.added or self.removed or self.changed or self.fields or
                                            self.libraries or self.archive)


def _headers(text: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for key, value in HeaderParser().parsestr(text).items():
        fields.setdefault(key, []).append(str(value))
    return fields


def _dist_info(names: Sequence[str]) -> str:
    found = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    return found[0] if found else ""


def _field_differences(kind: str, a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> list[tuple[str, str, str]]:
    differences = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key, []), b.get(key, [])
        if left != right:
            differences.append((f"{kind} {key}", "; ".join(left) or "-", "; ".join(right) or "-"))
    return differences


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(sorted(items)[:SHOWN])
    return shown + (f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else "")


def _library_differences(a: ElfFacts, b: ElfFacts) -> list[str]:
    lines = []
    for label, left, right in (("NEEDED", a.needed, b.needed), ("RPATH", a.rpath, b.rpath),
                               ("RUNPATH", a.runpath, b.runpath)):
        if left != right:
            lines.append(f"{label}: {', '.join(left) or '-'} -> {', '.join(right) or '-'}")
    if a.build_id != b.build_id:
        lines.append(f"build-id: {a.build_id or '-'} -> {b.build_id or '-'}")
    if a.exported != b.exported:
        gone, new = sorted(a.exported - b.exported), sorted(b.exported - a.exported)
        if gone:
            lines.append(f"exported symbols removed ({len(gone)}): {_listed(gone)}")
        if new:
            lines.append(f"exported symbols added ({len(new)}): {_listed(new)}")
    sections_a, sections_b = dict(a.sections), dict(b.sections)
    for name in sorted(set(sections_a) | set(sections_b)):
        if sections_a.get(name) != sections_b.get(name):
            size_a = sections_a.get(name)
            size_b = sections_b.get(name)
            lines.append(f"section {name}: {'-' if size_a is None else f'{size_a} B'} -> "
                         f"{'-' if size_b is None else f'{size_b} B'}")
    return lines


def diff_wheels(a: Path, b: Path) -> WheelDiff:
    result = WheelDiff(Path(a), Path(b))
    if Path(a).read_bytes() == Path(b).read_bytes():
        result.identical_bytes = True
        return result
    try:
        zip_a, zip_b = zipfile.ZipFile(a), zipfile.ZipFile(b)
    except (OSError, zipfile.BadZipFile) as error:
        raise WheelkitError(f"cannot open {a} or {b} as a wheel: {error}") from None
    with zip_a, zip_b:
        infos_a = {i.filename: i for i in zip_a.infolist() if not i.is_dir()}
        info_a, info_b = _dist_info(list(infos_a)), _dist_info(zip_b.namelist())
        # Two versions: b's .dist-info and .data members pair with a's, under a's names.
        stem_a = info_a[: -len(".dist-info")]
        infos_b = {(moved_member(i.filename, info_b, stem_a) if info_a and info_b else i.filename): i
                   for i in zip_b.infolist() if not i.is_dir()}
        result.added = [(n, infos_b[n].file_size) for n in sorted(set(infos_b) - set(infos_a))]
        result.removed = [(n, infos_a[n].file_size) for n in sorted(set(infos_a) - set(infos_b))]
        common = sorted(set(infos_a) & set(infos_b))
        data_a = {n: zip_a.read(n) for n in common}
        data_b = {n: zip_b.read(infos_b[n]) for n in common}
        for name in common:
            if data_a[name] != data_b[name]:
                result.changed.append((name, len(data_a[name]), len(data_b[name])))
        for kind in ("METADATA", "WHEEL"):
            text_a = zip_a.read(f"{info_a}/{kind}").decode() if f"{info_a}/{kind}" in infos_a else ""
            text_b = zip_b.read(infos_b[f"{info_a}/{kind}"]).decode() if f"{info_a}/{kind}" in infos_b else ""
            result.fields += _field_differences(kind, _headers(text_a), _headers(text_b))
        for name in common:
            blob_a, blob_b = data_a[name], data_b[name]
            if blob_a != blob_b and blob_a[:4] == ELF_MAGIC and blob_b[:4] == ELF_MAGIC:
                lines = _library_differences(elf_facts(blob_a), elf_facts(blob_b))
                result.libraries.append((name, lines or [("the same NEEDED, paths, symbols, sections and build-id; "
                                                         "the bytes differ inside the sections")]))
        order_a, order_b = [n for n in infos_a if n in infos_b], [n for n in infos_b if n in infos_a]
        if order_a != order_b:
            result.archive.append("the members are in another order")
        for name in common:
            ia, ib = infos_a[name], infos_b[name]
            if ia.date_time != ib.date_time:
                result.archive.append(f"{name}: time {ia.date_time} -> {ib.date_time}")
            if ia.external_attr != ib.external_attr:
                result.archive.append(f"{name}: mode {ia.external_attr >> 16:o} -> {ib.external_attr >> 16:o}")
            if ia.compress_type != ib.compress_type:
                result.archive.append(f"{name}: compression {ia.compress_type} -> {ib.compress_type}")
    return result


def _tar_members(path: Path) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """name -> (member, content) of a tar archive, in its order."""
    try:
        with tarfile.open(path) as archive:
            members = {}
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                members[member.name] = (member, handle.read() if handle else b"")
            return members
    except (OSError, tarfile.TarError) as error:
        raise WheelkitError(f"cannot open {path} as a tar archive: {error}") from None


def diff_archives(a: Path, b: Path) -> list[str]:
    """What differs between two .tar.gz archives (the debug archives): the gzip header, the members and their
    order, contents, times, owners and modes; [] when they are byte-identical."""
    raw_a, raw_b = Path(a).read_bytes(), Path(b).read_bytes()
    if raw_a == raw_b:
        return []
    lines = []
    if raw_a[:10] != raw_b[:10] or raw_a[3] & 0x08 or raw_b[3] & 0x08:  # flags, mtime, OS; FNAME: a file name
        lines.append(f"gzip header: {raw_a[:10].hex()} -> {raw_b[:10].hex()}" +
                     (" (one names its file)" if (raw_a[3] | raw_b[3]) & 0x08 else ""))
    members_a, members_b = _tar_members(Path(a)), _tar_members(Path(b))
    lines += [f"+ {n}" for n in sorted(set(members_b) - set(members_a))]
    lines += [f"- {n}" for n in sorted(set(members_a) - set(members_b))]
    common = [n for n in members_a if n in members_b]
    if common != [n for n in members_b if n in members_a]:
        lines.append("the members are in another order")
    for name in common:
        (ma, data_a), (mb, data_b) = members_a[name], members_b[name]
        for what in ("mtime", "uid", "gid", "uname", "gname", "mode", "type"):
            if getattr(ma, what) != getattr(mb, what):
                lines.append(f"{name}: {what} {getattr(ma, what)} -> {getattr(mb, what)}")
        if data_a != data_b:
            lines.append(f"~ {name} ({len(data_a):,} -> {len(data_b):,} B)")
            if data_a[:4] == ELF_MAGIC and data_b[:4] == ELF_MAGIC:
                lines += [f"    {line}" for line in _library_differences(elf_facts(data_a), elf_facts(data_b))]
    return lines or ["the same members; the archives differ in how they are packed"]


def render(diff: WheelDiff) -> str:
    """A report a person reads: what differs, most telling first."""
    title = f"{diff.a.name} -> {diff.b.name}" if diff.a.name != diff.b.name else diff.a.name
    if diff.identical_bytes:
        return f"{title}: byte-identical"
    if diff.same:
        return f"{title}: the same contents (the archives differ only in how they are packed)"
    lines = [f"{title}:"]
    size_a, size_b = diff.a.stat().st_size, diff.b.stat().st_size
    lines.append(f"  size {size_a:,} -> {size_b:,} bytes")
    lines += [f"  + {name} ({size:,} B)" for name, size in diff.added]
    lines += [f"  - {name} ({size:,} B)" for name, size in diff.removed]
    lines += [f"  ~ {name} ({a:,} -> {b:,} B)" for name, a, b in diff.changed]
    lines += [f"  {where}: {a} -> {b}" for where, a, b in diff.fields]
    for name, what in diff.libraries:
        lines.append(f"  {name}:")
        lines += [f"      {line}" for line in what]
    shown = diff.archive[:SHOWN]
    lines += [f"  archive: {line}" for line in shown]
    if len(diff.archive) > SHOWN:
        lines.append(f"  archive: (+{len(diff.archive) - SHOWN} more)")
    return "\n".join(lines)


def _pair_key(path: Path) -> tuple[str, str]:
    """Wheels of two builds or two versions pair up by distribution and tags."""
    name = parse_wheel_name(path.name)
    return name.distribution.lower(), name.tag_text


def pair_wheels(a: Sequence[Path], b: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """(pairs, only in a, only in b)."""
    keyed_a = {_pair_key(p): p for p in a}
    keyed_b = {_pair_key(p): p for p in b}
    pairs = [(keyed_a[k], keyed_b[k]) for k in sorted(set(keyed_a) & set(keyed_b))]
    return pairs, [keyed_a[k] for k in sorted(set(keyed_a) - set(keyed_b))], \
        [keyed_b[k] for k in sorted(set(keyed_b) - set(keyed_a))]


def wheels_of_version(folder: Path, version: str) -> list[Path]:
    return [p for p in wheels_in(folder) if parse_wheel_name(p.name).version == version]


@dataclass
class DiffReport:
    pairs: list[WheelDiff]
    only_a: list[Path]
    only_b: list[Path]

    @property
    def same(self) -> bool:
        return not self.only_a and not self.only_b and all(d.same for d in self.pairs)

    def text(self) -> str:
        parts = [render(d) for d in self.pairs]
        parts += [f"only in the first: {p.name}" for p in self.only_a]
        parts += [f"only in the second: {p.name}" for p in self.only_b]
        same = sum(d.same for d in self.pairs)
        parts.append(f"{len(self.pairs)} pair(s) compared, {same} the same; {len(self.only_a)} only in the first, "
                     f"{len(self.only_b)} only in the second")
        return "\n".join(parts)


def diff(first: str, second: str, folder: Path | None = None) -> DiffReport:
    """Two wheels, two folders, or (with folder) two versions found in that folder."""
    if folder is not None:
        a, b = wheels_of_version(folder, first), wheels_of_version(folder, second)
        if not a or not b:
            missing = first if not a else second
            raise WheelkitError(f"no wheels of version {missing} in {folder}")
    else:
        paths = [Path(first), Path(second)]
        for path in paths:
            if not path.exists():
                raise WheelkitError(f"{path}: no such wheel or folder (give two wheels, two folders, or two "
                                    "versions with --folder)")
        if all(p.is_file() for p in paths):
            return DiffReport([diff_wheels(paths[0], paths[1])], [], [])
        if not all(p.is_dir() for p in paths):
            raise WheelkitError("give two wheels or two folders, not one of each")
        a, b = wheels_in(paths[0]), wheels_in(paths[1])
    pairs, only_a, only_b = pair_wheels(a, b)
    return DiffReport([diff_wheels(x, y) for x, y in pairs], only_a, only_b)


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit diff A B [--folder F]`: exit 0 when the same, 1 when they differ."""
    parser = argparse.ArgumentParser(prog="python -m wheelkit diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("first", help="a wheel, a folder of wheels, or a version (with --folder)")
    parser.add_argument("second")
    parser.add_argument("--folder", type=Path, help="compare two versions found in this folder (a wheelhouse)")
    raise_on_usage_errors(parser)
    options = parser.parse_args(list(argv))
    report = diff(options.first, options.second, options.folder)
    emit(report.text())
    return 0 if report.same else 1
