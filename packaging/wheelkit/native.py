"""Compiled code inside wheels: the libraries an ELF file needs (pyelftools, the one ELF reader), the libraries a repair
copied in (auditwheel's <package>.libs/, delocate's .dylibs/), MPI libraries (which a wheel must never bundle), and
extension modules built for another Python."""

from __future__ import annotations

import fnmatch
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .errors import WheelkitError

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

    from .wheelfile import WheelContents

ELF_MAGIC = b"\x7fELF"
# auditwheel renames a vendored library to name-<8 hex digits of its hash>.so...; delocate keeps names.
_HASHED_NAME = re.compile(r"-[0-9a-f]{8}\.so(\.|$)")
# MPI must come from the user's machine at run time, never from the wheel (both .so and .dylib names).
MPI_LIBRARY_PATTERNS = ("libmpi.*", "libmpi_*", "libmpich*", "libpmpi*", "libopen-pal*", "libopen-rte*", "libpmix*",
                        "libmpicxx*", "libfabric*")


def _elf(data: bytes) -> ELFFile:
    """An ELF file read by pyelftools (the one ELF reader; imported here: macOS wheels have none)."""
    from elftools.common.exceptions import ELFError
    from elftools.construct.core import ConstructError
    from elftools.elf.elffile import ELFFile

    if data[:4] != ELF_MAGIC:
        raise WheelkitError("not an ELF file")
    try:
        return ELFFile(io.BytesIO(data))
    except (ELFError, ConstructError) as error:
        raise WheelkitError(f"not an ELF file that can be read: {error}") from None


def elf_needed(data: bytes) -> list[str]:
    """The shared libraries an ELF file needs (its DT_NEEDED entries), in order."""
    from elftools.elf.dynamic import DynamicSection

    elf = _elf(data)
    return [tag.needed for section in elf.iter_sections() if isinstance(section, DynamicSection)  # type: ignore[attr-defined]
            for tag in section.iter_tags("DT_NEEDED")]


@dataclass(frozen=True)
class ElfFacts:
    """What a shared library says about itself that matters between two builds (wheel diff)."""

    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    build_id: str = ""
    sections: tuple[tuple[str, int], ...] = ()  # (name, size in bytes)
    exported: frozenset[str] = frozenset()  # defined dynamic symbols


def elf_facts(data: bytes) -> ElfFacts:
    """A shared library's NEEDED, RPATH, RUNPATH, build-id, sections and exported symbols."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.sections import NoteSection, SymbolTableSection

    elf = _elf(data)
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    build_id = ""
    exported: set[str] = set()
    sections = []
    for section in elf.iter_sections():
        sections.append((section.name, int(section["sh_size"])))
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                # pyelftools sets these attributes by the tag's kind, unknown to its types
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(str(tag.needed))  # type: ignore[attr-defined]
                elif tag.entry.d_tag == "DT_RPATH":
                    rpath.extend(str(tag.rpath).split(":"))  # type: ignore[attr-defined]
                elif tag.entry.d_tag == "DT_RUNPATH":
                    runpath.extend(str(tag.runpath).split(":"))  # type: ignore[attr-defined]
        elif isinstance(section, NoteSection):
            for note in section.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    build_id = str(note["n_desc"])
        elif isinstance(section, SymbolTableSection) and section.name == ".dynsym":
            for symbol in section.iter_symbols():
                if symbol.name and symbol["st_shndx"] != "SHN_UNDEF":
                    exported.add(symbol.name)
    return ElfFacts(tuple(needed), tuple(rpath), tuple(runpath), build_id, tuple(sections), frozenset(exported))


# e_machine -> the machine of platform tags (little-endian ppc64 is ppc64le)
_MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i686", "EM_S390": "s390x",
             "EM_PPC64": "ppc64"}


def elf_machine(data: bytes) -> str:
    """The machine an ELF file is for, as platform tags name it (x86_64, aarch64, ...); '' when unknown."""
    elf = _elf(data)
    machine = _MACHINES.get(str(elf.header["e_machine"]), "")
    return f"{machine}le" if machine == "ppc64" and elf.little_endian else machine


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
