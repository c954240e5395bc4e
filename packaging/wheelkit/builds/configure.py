"""Build folders and what they were configured from: CMake keeps every value it once read in its cache (a dropped -D
flag, CXXFLAGS), so a build folder is kept only while its configure inputs stay the same, and each records them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..errors import WheelkitError

# What a CMake configure reads from the environment besides its arguments: CMake the compilers, their flags, the
# generator, the launcher and the toolchain (CMAKE_*); scikit-build-core CMAKE_ARGS and SKBUILD_*. CMake keeps what
# it read in its cache for good, so a build folder is kept only while these, and the arguments, stay the same.
CONFIGURE_VARIABLES = ("CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "ARCHFLAGS",
                       "MACOSX_DEPLOYMENT_TARGET", "SDKROOT")
CONFIGURE_PREFIXES = ("CMAKE_", "SKBUILD_")
BUILD_TIME_VARIABLES = ("CMAKE_BUILD_PARALLEL_LEVEL", "CMAKE_INSTALL_PARALLEL_LEVEL", "CMAKE_NO_VERBOSE")


# Next to a CMakeCache: the configure inputs it was made from (Cell.*_configure_inputs).
CONFIGURE_RECORD = "cablesim-configure-inputs.json"


def configure_record(inputs: Mapping[str, object]) -> str:
    return json.dumps(inputs, indent=1, sort_keys=True) + "\n"


def changed_configure_inputs(folder: Path, inputs: Mapping[str, object]) -> str:
    """What differs between these configure inputs and those the existing build folder was configured from ("" when
    nothing does, or there is no folder)."""
    if not folder.exists():
        return ""
    try:
        recorded = (folder / CONFIGURE_RECORD).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "no record of them (a folder made by hand or by an older wheelkit)"
    if recorded == configure_record(inputs):
        return ""
    try:
        before = json.loads(recorded)
    except json.JSONDecodeError:
        before = None
    if not isinstance(before, dict):
        return "no record of them (a folder made by hand or by an older wheelkit)"
    changes: list[str] = []
    for part, now in inputs.items():
        old = before.get(part)
        if isinstance(now, dict) and isinstance(old, dict):
            changes += [str(key) for key in sorted(set(now) | set(old)) if now.get(key) != old.get(key)]
        elif isinstance(now, list) and isinstance(old, list) and now != old:
            added = [f"added {a}" for a in now if a not in old] + [f"dropped {a}" for a in old if a not in now]
            changes += added or [f"{part} (order)"]
        elif now != old:
            changes.append(part)
    return ", ".join(changes) or "their format"


def configure_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of an environment a CMake configure reads (see CONFIGURE_VARIABLES)."""
    return {name: value for name, value in sorted(environ.items())
            if (name in CONFIGURE_VARIABLES or name.startswith(CONFIGURE_PREFIXES))
            and name not in BUILD_TIME_VARIABLES}


def fresh_build_folder(folder: Path, inputs: Mapping[str, object]) -> str:
    """Keep a build folder only if it was configured from exactly these inputs: CMake keeps every value it once
    read in its cache (a dropped -D flag, CXXFLAGS), so another knob gets an empty folder. The record is written
    before the configure, so that a cache in the folder always comes from the recorded inputs, even when that
    configure failed. Returns what changed ("" when the folder is kept or new)."""
    changed = changed_configure_inputs(folder, inputs)
    if folder.exists() and not changed:
        return ""
    try:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / CONFIGURE_RECORD).write_text(configure_record(inputs), encoding="utf-8")
    except OSError as error:
        raise WheelkitError(f"cannot empty {folder} for a fresh configure ({error.strerror or error}): delete it by "
                            "hand and build again") from None
    return changed
