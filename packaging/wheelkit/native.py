"""Compiled code inside wheels: the libraries an ELF file needs, the libraries a repair copied in (auditwheel's
<package>.libs/, delocate's .dylibs/), MPI libraries (which a wheel must never bundle), and extension modules built
for another Python."""

from __future__ import annotations

import fnmatch
import re
import struct
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .errors import WheelkitError

if TYPE_CHECKING:
    from .wheelfile import WheelContents

ELF_MAGIC = b"\x7fELF"
# auditwheel renames a vendored library to name-<8 hex digits of its hash>.so...; delocate keeps names.
_HASHED_NAME = re.compile(r"-[0-9a-f]{8}\.so(\.|$)")
# MPI must come from the user's machine at run time, never from the wheel (both .so and .dylib names).
MPI_LIBRARY_PATTERNS = ("libmpi.*", "libmpi_*", "libmpich*", "libpmpi*", "libopen-pal*", "libopen-rte*", "libpmix*",
                        "libmpicxx*", "libfabric*")


def elf_needed(data: bytes) -> list[str]:
    """The DT_NEEDED entries (shared libraries a binary links) of a 32- or 64-bit ELF file, in order."""
    if data[:4] != ELF_MAGIC or len(data) < 64:
        raise WheelkitError("not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(endian + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
        section = endian + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(endian + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x2E)
        section = endian + "IIIIIIIIII"
    sections = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    needed: list[str] = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab_offset = sections[link][4]
        entry = struct.Struct(endian + ("qQ" if is64 else "iI"))
        for position in range(offset, offset + size, entry.size):
            tag, value = entry.unpack_from(data, position)
            if tag == 0:  # DT_NULL
                break
            if tag == 1:  # DT_NEEDED
                start = strtab_offset + value
                needed.append(data[start : data.index(b"\0", start)].decode("utf-8", "replace"))
    return needed


def is_vendored(member: str) -> bool:
    """Whether a wheel member is a library a repair copied in: auditwheel's <package>.libs/<library>.so...,
    delocate's <package>/.dylibs/<library>."""
    parts = PurePosixPath(member).parts
    auditwheel = len(parts) == 2 and parts[0].endswith(".libs") and ".so" in parts[1]
    delocate = len(parts) >= 2 and parts[-2] == ".dylibs"
    return auditwheel or delocate


def vendored_libraries(wheel: Path) -> list[str]:
    """The file names of the libraries a repair copied into the wheel, sorted."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(PurePosixPath(name).name for name in archive.namelist() if is_vendored(name))


def is_mpi_library(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in MPI_LIBRARY_PATTERNS)


def check_no_mpi_bundled(wheel: Path) -> None:
    bundled = [lib for lib in vendored_libraries(wheel) if is_mpi_library(lib)]
    if bundled:
        raise WheelkitError(
            f"{wheel.name} bundles MPI libraries {bundled}: MPI must come from the user's system; add them to the "
            "variant's repair exclude list"
        )


def missing_vendored_libraries(wheel: WheelContents) -> dict[str, list[str]]:
    """Binary -> libraries it needs that look vendored (auditwheel's name-<hash>.so) but are not in the wheel."""
    shipped = {PurePosixPath(n).name for n in wheel.names}
    missing: dict[str, list[str]] = {}
    for name in wheel.elf_files():
        absent = [lib for lib in elf_needed(wheel.read(name)) if _HASHED_NAME.search(lib) and lib not in shipped]
        if absent:
            missing[name] = absent
    return missing


def extension_abi_mismatches(wheel: WheelContents) -> list[str]:
    """Extension modules whose file name names another CPython ABI than the wheel's tags (a renamed wheel): the
    suffix cpython-314t- is the ABI cp314t (free-threaded), cpython-311- cp311."""
    abis = {tag.abi for tag in wheel.name.tags}
    wrong = []
    for name in wheel.names:
        match = re.search(r"\.cpython-(\d+[a-z]*)-[^/]*\.so$", name)
        if match and f"cp{match[1]}" not in abis and "abi3" not in abis:
            wrong.append(name)
        if name.endswith(".abi3.so") and "abi3" not in abis:
            wrong.append(name)
    return wrong
