"""tested.json: the files of a release (and their sha256) that passed the release session's tests, so that the
upload of a release folder refuses anything else."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import WheelkitError
from ..files import sha256

MANIFEST = "tested.json"  # written by the release session once the wheels passed their tests


def check_manifest(folder: Path, files: Sequence[Path]) -> None:
    """A folder the release session tested (tested.json) must hold exactly the tested files, unchanged."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return
    tested: dict[str, str] = json.loads(manifest.read_text())["files"]
    present = {p.name: p for p in files if p.parent == folder}
    problems = [f"{name}: not among the tested files" for name in sorted(set(present) - set(tested))]
    problems += [f"{name}: tested but missing" for name in sorted(set(tested) - set(present))]
    problems += [f"{name}: changed since it was tested" for name, path in sorted(present.items())
                 if name in tested and sha256(path) != tested[name]]
    if problems:
        raise WheelkitError(f"nothing uploaded: {folder} does not hold what was tested ({MANIFEST}):\n  - "
                            + "\n  - ".join(problems) + "\nrun the release's first step again")


def write_manifest(folder: Path, files: Sequence[Path]) -> Path:
    """Record the files (and their sha256) that passed the tests, for the upload step to compare."""
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps({"files": {p.name: sha256(p) for p in files}}, indent=1, sort_keys=True) + "\n")
    return manifest
