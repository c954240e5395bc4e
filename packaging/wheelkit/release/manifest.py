"""tested.json: the files of a release (and their sha256) that passed their tests, so that an upload refuses
anything else. One format for both places that upload: the release session writes tested.json into its release folder
(`nox -s upload` of that folder checks it), and each CI build job records what its `nox -s test_wheels` passed (the
sdist job its sdist) in a manifest of its own, which the publish job checks the downloaded dist/ against before
anything is published: `nox -s tested -- record FOLDER --to FILE` and `nox -s tested -- verify FOLDER MANIFEST...`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import WheelkitError, raise_on_usage_errors
from ..files import sha256
from .checks import collect

MANIFEST = "tested.json"  # written by the release session once the wheels passed their tests


def read_manifest(path: Path) -> dict[str, str]:
    """A manifest's files: name -> sha256."""
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WheelkitError(f"{path}: not a manifest of tested files ({type(error).__name__}: {error})") from None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise WheelkitError(f"{path}: not a manifest of tested files (\"files\" must map names to sha256)")
    return dict(files)


def read_manifests(paths: Sequence[Path]) -> dict[str, str]:
    """Several manifests (files, or the *.json at the top of folders) as one table; a file named by two of them must
    have the same sha256 in both."""
    manifests: list[Path] = []
    for path in paths:
        if path.is_dir():
            manifests += sorted(path.glob("*.json"))
        elif path.is_file():
            manifests.append(path)
        else:
            raise WheelkitError(f"{path} does not exist: no manifest of tested files there")
    if not manifests:
        raise WheelkitError(f"no manifest of tested files in {', '.join(map(str, paths))}")
    tested: dict[str, str] = {}
    for manifest in manifests:
        for name, digest in read_manifest(manifest).items():
            if tested.setdefault(name, digest) != digest:
                raise WheelkitError(f"{name}: two manifests disagree on its sha256 (one of them is {manifest})")
    return tested


def compare(folder: Path, files: Sequence[Path], tested: Mapping[str, str], source: str) -> None:
    """The files of `folder` must be exactly the tested ones, each with the sha256 it was tested with."""
    present = {p.name: p for p in files if p.parent == folder}
    problems = [f"{name}: not among the tested files" for name in sorted(set(present) - set(tested))]
    problems += [f"{name}: tested but missing" for name in sorted(set(tested) - set(present))]
    problems += [f"{name}: changed since it was tested" for name, path in sorted(present.items())
                 if name in tested and sha256(path) != tested[name]]
    if problems:
        raise WheelkitError(f"nothing uploaded: {folder} does not hold what was tested ({source}):\n  - "
                            + "\n  - ".join(problems))


def check_manifest(folder: Path, files: Sequence[Path]) -> None:
    """A folder the release session tested (tested.json) must hold exactly the tested files, unchanged."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return
    try:
        compare(folder, files, read_manifest(manifest), MANIFEST)
    except WheelkitError as error:
        raise WheelkitError(f"{error}\nrun the release's first step again") from None


def write_manifest(folder: Path, files: Sequence[Path], to: Path | None = None) -> Path:
    """Record the files (and their sha256) that passed the tests, for the upload step to compare: in
    folder/tested.json, or in `to`."""
    manifest = to or folder / MANIFEST
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"files": {p.name: sha256(p) for p in files}}, indent=1, sort_keys=True) + "\n")
    return manifest


def record(folder: Path, to: Path) -> list[Path]:
    """After a folder's files passed their tests: its wheels and sdists (what an upload of it takes, not the debug
    archives) into the manifest `to`."""
    files = collect([folder])
    if not files:
        raise WheelkitError(f"no wheels or sdist in {folder}: nothing to record as tested")
    write_manifest(folder, files, to)
    return files


def verify(folder: Path, manifests: Sequence[Path]) -> list[Path]:
    """Before an upload of everything in `folder` (a publish action takes every file there): each file was recorded
    as tested, with this sha256, and every recorded file is there."""
    if not folder.is_dir():
        raise WheelkitError(f"{folder} is not a folder: nothing to verify")
    entries = sorted(folder.iterdir())
    if not entries:
        raise WheelkitError(f"{folder} is empty: nothing to upload")
    others = [p.name for p in entries if not p.is_file()]
    if others:
        raise WheelkitError(f"nothing uploaded: {folder} holds more than files ({', '.join(others)})")
    compare(folder, entries, read_manifests(manifests), ", ".join(map(str, manifests)))
    return entries


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Record the files that passed their tests; verify a folder holds exactly them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  nox -s tested -- record wheelhouse/ --to build/tested/linux-x86_64.json   after test_wheels passed\n"
                "  nox -s tested -- verify dist/ tested/        before uploading every file of dist/"))
    parser.add_argument("command", choices=("record", "verify"),
                        help="record: FOLDER's wheels and sdists with their sha256 into the manifest --to; verify: "
                        "FOLDER holds exactly the files the MANIFESTs recorded, unchanged")
    parser.add_argument("folder", type=Path)
    parser.add_argument("manifests", type=Path, nargs="*", help="verify: manifests, or folders of *.json manifests")
    parser.add_argument("--to", type=Path, help="record: the manifest to write (JSON)")
    return parser


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit tested record|verify ...` (nox -s tested)."""
    parser = build_parser("nox -s tested --")
    fail = raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    if args.command == "record":
        if args.to is None or args.manifests:
            fail("record takes one FOLDER and --to MANIFEST")
        files = record(args.folder, args.to)
        emit(f"recorded {len(files)} tested file(s) in {args.to}: {', '.join(p.name for p in files)}")
    else:
        if args.to is not None or not args.manifests:
            fail("verify takes FOLDER and at least one MANIFEST (or folder of them), no --to")
        files = verify(args.folder, args.manifests)
        emit(f"{args.folder}: all {len(files)} file(s) are the tested ones, sha256 unchanged: "
             f"{', '.join(p.name for p in files)}")
    return 0
