"""cablesim's contributor tasks (invoke). `invoke --list` shows them; `invoke --help TASK` explains one.

Thin: each task parses its options and calls into packaging/wheelkit, where the logic is unit-tested.

    invoke image.build | image.push | image.shell | image.run -- CMD   the build image (docker or podman)
    invoke wheelhouse.add | wheelhouse.rewrite | wheelhouse.index       a wheelhouse for offline clusters
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Collection

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "packaging"))  # wheelkit

# --- image: the build image -------------------------------------------------------------------------------------
image = Collection("image")

# --- wheelhouse: offline clusters -------------------------------------------------------------------------------
import shlex  # noqa: E402
from typing import Optional  # noqa: E402

from invoke import Context, Exit, task  # noqa: E402

_WHEELHOUSE_ROOT_HELP = "The wheelhouse folder (default: $CABLESIM_WHEELHOUSE)"


@task(
    name="add",
    help={
        "wheels": "A wheel, a folder of wheels or a quoted glob; more after `--`: wheelhouse.add a --root R -- b c",
        "root": _WHEELHOUSE_ROOT_HELP,
        "site": "The local version label every wheel must carry, e.g. hpc for 1.2.0+hpc "
        "(default: $CABLESIM_WHEELHOUSE_SITE)",
        "os_layer": "The OS-layer folder, e.g. rhel8 (default: $CABLESIM_WHEELHOUSE_OS_LAYER, else from the platform "
        "tag: linux-x86_64)",
        "arch_level": "Place binary wheels in this level folder (generic, x86-64-v3, x86-64-v4) instead of the one "
        "their cablesim-build.json marker names",
        "reindex": "Rewrite the simple index afterwards (default: yes; --no-reindex to skip)",
    },
)
def wheelhouse_add(c: Context, wheels: str, root: str = "", site: str = "", os_layer: str = "",
                   arch_level: str = "", reindex: bool = True) -> None:
    """Place wheels in the wheelhouse by OS layer and -march level, all or none; refuse unfit wheels."""
    from wheelkit import WheelkitError
    from wheelkit.wheelhouse import add_wheels, build_index, expand_wheels, resolve_os_layer, resolve_root, resolve_site

    arguments = [wheels, *shlex.split(c.remainder)]
    try:
        house = resolve_root(root)
        result = add_wheels(house, expand_wheels(arguments), site=resolve_site(site),
                            os_layer=resolve_os_layer(os_layer), level=arch_level)
        print(result.describe())
        if reindex:
            print(build_index(house).describe(house))
    except WheelkitError as error:
        raise Exit(f"wheelhouse.add: {error}", code=1) from None


@task(
    name="rewrite",
    iterable=["drop", "relax"],
    help={
        "wheel": "The wheel to rewrite (left unchanged; the result gets the new name)",
        "local_version": "Add this label to the local version: 1.2.0 -> 1.2.0+hpc, 1.2.0+g1ab2 -> 1.2.0+g1ab2.hpc",
        "drop": "Remove the requirements matching this name or pattern, e.g. 'nvidia-*' (repeatable)",
        "relax": "'numpy' removes its version limit, 'numpy>=1.19' replaces it (repeatable)",
        "tag": "New tag, e.g. cp311-cp311-manylinux_2_34_x86_64 for compiled code tagged py3-none-any",
        "out_dir": "Where the rewritten wheel goes (default: next to WHEEL)",
        "check": "Install the result into a fresh venv without any index (default: yes; --no-check to skip)",
        "python": "The interpreter for that check (default: one found on this machine that fits the wheel)",
    },
)
def wheelhouse_rewrite(c: Context, wheel: str, local_version: str = "", drop: Optional[list[str]] = None,
                       relax: Optional[list[str]] = None, tag: str = "", out_dir: str = "", check: bool = True,
                       python: str = "") -> None:
    """Rewrite a wheel's metadata (local version, requirements, tag) into a new, valid wheel with a fresh RECORD."""
    from wheelkit import WheelkitError
    from wheelkit.rewrite import Rewrite, check_install, python_for, rewrite_wheel

    try:
        change = Rewrite(local_version=local_version, drop=tuple(drop or ()), relax=tuple(relax or ()), tag=tag)
        result = rewrite_wheel(Path(wheel), Path(out_dir) if out_dir else None, change)
        print(f"wrote {result}")
        if check:
            interpreter = Path(python) if python else python_for(result)
            version = check_install(result, interpreter)
            print(f"checked: installs into a fresh {interpreter} venv as version {version} (--no-deps, --no-index)")
    except WheelkitError as error:
        raise Exit(f"wheelhouse.rewrite: {error}", code=1) from None


@task(name="index", help={"root": _WHEELHOUSE_ROOT_HELP})
def wheelhouse_index(c: Context, root: str = "") -> None:
    """Write the PEP 503 simple index of every OS layer and level under ROOT/simple/ (unchanged pages stay)."""
    from wheelkit import WheelkitError
    from wheelkit.wheelhouse import build_index, resolve_root

    try:
        house = resolve_root(root)
        print(build_index(house).describe(house))
    except WheelkitError as error:
        raise Exit(f"wheelhouse.index: {error}", code=1) from None


wheelhouse = Collection("wheelhouse", wheelhouse_add, wheelhouse_rewrite, wheelhouse_index)

namespace = Collection(image, wheelhouse)
