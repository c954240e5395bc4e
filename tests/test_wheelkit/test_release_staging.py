"""wheelkit.release.staging: one release's files gathered from a folder or a zip of CI artifacts, RECORD checked."""

from __future__ import annotations

import zipfile

import pytest
from wheelkit import WheelkitError
from wheelkit.release.staging import stage
from wheelkit.wheelfile import read_all


def test_staging_from_a_folder_and_a_zip_picks_one_release_and_checks_record(tmp_path, dists):
    source = dists.release(tmp_path / "ci" / "linux")
    dists.wheel(tmp_path / "ci" / "other", "0.9")
    staged = stage(str(tmp_path / "ci"), "cablesim", "1.0", tmp_path / "staging")
    assert [p.name for p in staged] == sorted(p.name for p in source.iterdir())
    archive = tmp_path / "artifacts.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in source.iterdir():
            handle.write(path, f"wheels-linux/{path.name}")
    assert len(stage(str(archive), "cablesim", "1.0", tmp_path / "staging")) == 2
    with pytest.raises(WheelkitError, match="no files of cablesim 2.0"):
        stage(str(tmp_path / "ci"), "cablesim", "2.0", tmp_path / "staging")
    wheel = next(source.glob("*.whl"))
    files = read_all(wheel)
    with zipfile.ZipFile(wheel, "w") as handle:  # tampered: content no longer matches RECORD
        for name, data in files.items():
            handle.writestr(name, data + b"#" if name.endswith(".py") else data)
    with pytest.raises(WheelkitError, match="RECORD does not match"):
        stage(str(tmp_path / "ci"), "cablesim", "1.0", tmp_path / "staging")
