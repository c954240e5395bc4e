"""A wheel or sdist written again under another distribution name (nightlies: cablesim-nightly), without editing
pyproject.toml in the checkout. The import name stays: both distributions install the same files.

- a wheel: METADATA's Name, the .dist-info (and .data) folder and the file name (PEP 427), with a fresh RECORD; the
  input's RECORD is verified first and the output is checked the same way;
- an sdist: PKG-INFO's Name, the [project] name in its pyproject.toml (so a wheel built from it has the new name
  again), the top folder and the file name.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from .dists import parse_sdist_name
from .errors import WheelkitError
from .sbom import renamed_sbom, sbom_member
from .wheelfile import (
    WheelContents,
    filename_name,
    moved_member,
    parse_wheel_name,
    read_all,
    verify_record,
    write_wheel,
)

log = logging.getLogger(__name__)

_NAME_LINE = re.compile(r"^Name: .*$", re.MULTILINE)
_PROJECT_NAME = re.compile(r'^(\[project\][^\[]*?^name\s*=\s*)"[^"]*"', re.MULTILINE | re.DOTALL)


def rename_wheel(wheel: Path, distribution: str, destination: Path) -> Path:
    """Write the wheel again as `distribution` into destination (same version, tags and files); returns its path."""
    with WheelContents(wheel) as contents:
        verify_record(contents)
        old_info = contents.dist_info
        executables = [member for member in contents.names if contents.mode(member) & 0o111]
    name = parse_wheel_name(wheel.name)
    new_stem = filename_name(distribution)
    new_prefix = f"{new_stem}-{name.version}"
    files: dict[str, bytes] = {}
    for member, data in read_all(wheel).items():
        if member == f"{old_info}/METADATA":
            data = _NAME_LINE.sub(f"Name: {distribution}", data.decode("utf-8"), count=1).encode("utf-8")
        files[moved_member(member, old_info, new_prefix)] = data
    tag = name.tag_text
    build = f"-{name.build}" if name.build else ""
    output = destination / f"{new_stem}-{name.version}{build}-{tag}.whl"
    sbom = moved_member(sbom_member(wheel.name), old_info, new_prefix)  # named after the distribution: moved too
    if sbom in files:
        files[sbom_member(output.name)] = renamed_sbom(files.pop(sbom), output.name)
    write_wheel(output, files, executable=[moved_member(e, old_info, new_prefix) for e in executables])
    with WheelContents(output) as check:
        verify_record(check)
        if check.metadata().get("name") != distribution:
            raise WheelkitError(f"renaming {wheel.name} to {distribution} failed: METADATA has no single Name line")
    log.info("%s -> %s", wheel.name, output.name)
    return output


def rename_sdist(sdist: Path, distribution: str, destination: Path) -> Path:
    """Write the sdist again as `distribution` into destination: PKG-INFO Name, pyproject [project] name, the top
    folder and the file name (PEP 625: normalised name). Returns its path."""
    _, version = parse_sdist_name(sdist.name)
    old_top = sdist.name[: -len(".tar.gz")]
    new_top = f"{filename_name(distribution)}-{version}"
    output = destination / f"{new_top}.tar.gz"
    renamed = {"PKG-INFO": False, "pyproject.toml": False}
    temporary = output.with_name(output.name + ".part")
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(sdist, "r:gz") as source, tarfile.open(temporary, "w:gz", format=tarfile.PAX_FORMAT) as sink:
            for member in source.getmembers():
                top, _, rest = member.name.partition("/")
                if top != old_top:
                    raise WheelkitError(f"{sdist.name} holds {member.name} outside its folder {old_top}/: rebuild it")
                if member.issym() or member.islnk():
                    raise WheelkitError(f"{sdist.name} holds a link {member.name}: refusing to rewrite it")
                data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
                if data is not None and rest in renamed:
                    text = data.decode("utf-8")
                    if rest == "PKG-INFO":
                        text, count = _NAME_LINE.subn(f"Name: {distribution}", text, count=1)
                    else:
                        text, count = _PROJECT_NAME.subn(rf'\g<1>"{distribution}"', text, count=1)
                    if count != 1:
                        raise WheelkitError(f"{sdist.name}: no name to rewrite in {rest}; rebuild the sdist")
                    renamed[rest] = True
                    data = text.encode("utf-8")
                member.name = f"{new_top}/{rest}" if rest else new_top
                if data is not None:
                    member.size = len(data)
                    sink.addfile(member, io.BytesIO(data))
                else:
                    sink.addfile(member)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    missing = [name for name, done in renamed.items() if not done]
    if missing:
        temporary.unlink(missing_ok=True)
        raise WheelkitError(f"{sdist.name} has no {', '.join(missing)} at its top: is it an sdist of cablesim?")
    os.replace(temporary, output)
    log.info("%s -> %s", sdist.name, output.name)
    return output


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit rename-sdist SDIST DISTRIBUTION DESTINATION`: prints the renamed sdist's path."""
    if len(argv) != 3:
        raise WheelkitError("usage: python -m wheelkit rename-sdist SDIST DISTRIBUTION DESTINATION")
    emit(str(rename_sdist(Path(argv[0]), argv[1], Path(argv[2]))))
    return 0
