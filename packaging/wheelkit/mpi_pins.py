"""The pins of the MPI headers the shims compile from: src/mpi/headers/<name>-<version>/ holds the include folder of
the pinned PyPI wheel `<name>==<version>`, so the folder names are the pins (docs/mpi.md). Read here, on the ground,
by the job that checks and replaces the headers (mpi_headers.py) and by the build's SBOM (builds/reproducible.py)."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import WheelkitError

HEADERS = Path("src") / "mpi" / "headers"
IMPLEMENTATIONS = ("mpich", "openmpi")


def pinned_versions(root: Path) -> dict[str, list[str]]:
    """{name: [version, ...]} of every <name>-<version> folder under root's src/mpi/headers (none: an empty list);
    one version per implementation is what a checkout should have (pins() insists on it)."""
    found: dict[str, list[str]] = {name: [] for name in IMPLEMENTATIONS}
    folder_name = re.compile(rf"({'|'.join(IMPLEMENTATIONS)})-(\d[\w.]*)")
    for folder in sorted((root / HEADERS).iterdir()) if (root / HEADERS).is_dir() else []:
        match = folder_name.fullmatch(folder.name)
        if folder.is_dir() and match:
            found[match.group(1)].append(match.group(2))
    return found


def pins(root: Path) -> dict[str, str]:
    """{name: version} from the folder names, one folder per implementation."""
    found = pinned_versions(root)
    wrong = {name: versions for name, versions in found.items() if len(versions) != 1}
    if wrong:
        listing = "; ".join(f"{name}: {', '.join(v) or 'none'}" for name, v in wrong.items())
        raise WheelkitError(f"{root / HEADERS} must hold one <name>-<version> folder per MPI ({listing}); run "
                            "`nox -s mpi_headers -- update mpich==X.Y openmpi==X.Y`")
    return {name: versions[0] for name, versions in found.items()}
