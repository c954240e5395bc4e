"""Staging (`nox -s upload -- --from URL_OR_DIR NAME VERSION`, after MacPython's wheel-uploader): the files of one
release gathered from a folder, a zip of CI artifacts or a simple index into a folder of their own, hashes verified."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..credentials import refuse_url_credentials
from ..dists import belongs_to
from ..errors import WheelkitError
from ..files import safe_extract, sha256
from ..index import download, index_files
from ..wheelfile import WheelContents, verify_record
from .repository import Repository


def stage(source: str, distribution: str, version: str, staging: Path,
          environ: Mapping[str, str] | None = None) -> list[Path]:
    """Gather the files of distribution-version from a folder, a zip of CI artifacts or a simple index into
    staging (emptied first), verifying hashes: the index's sha256 for downloads, RECORD for every wheel."""
    env = os.environ if environ is None else environ
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if re.match(r"^https?://", source):
        refuse_url_credentials("--from", source)
        page = Repository(source, source, source).project_url(distribution)
        listed = index_files(page, env) or index_files(source, env)
        chosen = [f for f in listed.values() if belongs_to(f.filename, distribution, version)]
        if not chosen:
            raise WheelkitError(f"no files of {distribution} {version} at {source} (it lists "
                                f"{len(listed)} file(s)): check the name, the version and the URL")
        unverifiable = [f.filename for f in chosen if not f.sha256]
        if unverifiable:
            raise WheelkitError(f"{source} gives no sha256 for {', '.join(unverifiable)}: cannot verify the "
                                "download; fetch the files yourself and use --from FOLDER")
        for item in chosen:
            download(item.url, staging / item.filename, item.sha256, env)
    else:
        path = Path(source)
        if path.is_file() and path.suffix == ".zip":
            unpacked = Path(tempfile.mkdtemp(prefix="upload-artifacts-", dir=staging.parent))
            try:
                safe_extract(path, unpacked)
                _copy_matching(unpacked, distribution, version, staging)
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
        elif path.is_dir():
            _copy_matching(path, distribution, version, staging)
        else:
            raise WheelkitError(f"--from {source}: neither a folder, a .zip of CI artifacts nor an http(s) URL of an "
                                "index")
    files = sorted(staging.iterdir())
    if not files:
        raise WheelkitError(f"no files of {distribution} {version} in {source}: check the name and the version")
    for wheel in (f for f in files if f.suffix == ".whl"):
        with WheelContents(wheel) as contents:
            verify_record(contents)
    return files


def _copy_matching(folder: Path, distribution: str, version: str, staging: Path) -> None:
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and belongs_to(path.name, distribution, version):
            if path.name in seen and sha256(path) != sha256(seen[path.name]):
                raise WheelkitError(f"{folder} holds two different {path.name} ({seen[path.name]} and {path}): "
                                    "remove the wrong one")
            seen[path.name] = path
            shutil.copy2(path, staging / path.name)
