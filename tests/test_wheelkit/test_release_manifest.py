"""wheelkit.release.manifest: what passed its tests is recorded (name and sha256) and an upload folder must hold
exactly that: the release folder's tested.json, and CI's per-job manifests that the publish job checks dist/ against
(`nox -s tested -- record|verify`)."""

from __future__ import annotations

import json
import shutil

import pytest
from wheelkit import WheelkitError
from wheelkit.cli import main as cli_main
from wheelkit.files import sha256
from wheelkit.release.manifest import (
    MANIFEST,
    check_manifest,
    main,
    read_manifests,
    record,
    verify,
    write_manifest,
)


@pytest.fixture
def ci(tmp_path, dists):
    """Two build jobs' wheelhouses and the sdist job's, each recorded after its tests, and the publish job's dist/
    merged from them as download-artifact does."""
    tested, dist = tmp_path / "tested", tmp_path / "dist"
    for job, python in (("linux-x86_64", "3.11"), ("macos-arm64", "3.12")):
        house = tmp_path / job / "wheelhouse"
        dists.wheel(house, python=python, plat="manylinux_2_17_x86_64" if job.startswith("linux") else
                    "macosx_11_0_arm64")
        (house / "cablesim-1.0-cp311-cp311-linux_x86_64.debug.tar.gz").write_bytes(b"symbols")  # never uploaded
        record(house, tested / f"{job}.json")
    sdist_house = tmp_path / "sdist" / "wheelhouse"
    dists.sdist(sdist_house)
    record(sdist_house, tested / "sdist.json")
    dist.mkdir()
    for house in tmp_path.glob("*/wheelhouse"):
        for path in house.iterdir():
            if not path.name.endswith(".debug.tar.gz"):
                shutil.copy2(path, dist / path.name)
    return dist, tested


def test_record_takes_the_wheels_and_the_sdist_not_the_debug_archives(ci):
    dist, tested = ci
    recorded = json.loads((tested / "linux-x86_64.json").read_text())["files"]
    (wheel,) = recorded
    assert wheel.endswith("-cp311-cp311-manylinux_2_17_x86_64.whl") and recorded[wheel] == sha256(dist / wheel)
    assert list(json.loads((tested / "sdist.json").read_text())["files"]) == ["cablesim-1.0.tar.gz"]


def test_a_dist_folder_of_exactly_the_tested_files_passes(ci):
    dist, tested = ci
    assert [p.name for p in verify(dist, [tested])] == sorted(p.name for p in dist.iterdir())
    assert len(read_manifests([tested])) == 3
    assert len(read_manifests(sorted(tested.glob("*.json")))) == 3  # files or folders of them


def test_a_changed_an_extra_or_a_missing_file_uploads_nothing(ci, dists):
    dist, tested = ci
    wheel = next(dist.glob("*manylinux*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    dists.wheel(dist, python="3.13")  # built, never tested
    (dist / "cablesim-1.0.tar.gz").unlink()
    with pytest.raises(WheelkitError) as failure:
        verify(dist, [tested])
    text = str(failure.value)
    assert text.startswith(f"nothing uploaded: {dist} does not hold what was tested")
    assert f"{wheel.name}: changed since it was tested" in text
    assert "cablesim-1.0-cp313-cp313-manylinux_2_17_x86_64.whl: not among the tested files" in text
    assert "cablesim-1.0.tar.gz: tested but missing" in text


def test_anything_else_in_dist_is_refused_too(ci):
    dist, tested = ci
    (dist / MANIFEST).write_text("{}")  # a publish action would take it as a distribution
    with pytest.raises(WheelkitError, match="tested.json: not among the tested files"):
        verify(dist, [tested])
    (dist / MANIFEST).unlink()
    (dist / "sub").mkdir()
    with pytest.raises(WheelkitError, match=r"holds more than files \(sub\)"):
        verify(dist, [tested])


def test_manifests_that_disagree_or_are_missing_or_broken_are_errors(ci, tmp_path):
    dist, tested = ci
    name = next(dist.glob("*manylinux*.whl")).name
    (tmp_path / "other.json").write_text(json.dumps({"files": {name: "0" * 64}}))
    with pytest.raises(WheelkitError, match=f"{name}: two manifests disagree"):
        read_manifests([tested, tmp_path / "other.json"])
    with pytest.raises(WheelkitError, match="does not exist"):
        read_manifests([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(WheelkitError, match="no manifest of tested files in"):
        read_manifests([tmp_path / "empty"])
    (tmp_path / "broken.json").write_text('{"files": ["a list"]}')
    with pytest.raises(WheelkitError, match="not a manifest of tested files"):
        read_manifests([tmp_path / "broken.json"])
    with pytest.raises(WheelkitError, match="is empty: nothing to upload"):
        verify(tmp_path / "empty", [tested])


def test_record_refuses_a_folder_without_distributions(tmp_path):
    (tmp_path / "house").mkdir()
    with pytest.raises(WheelkitError, match="nothing to record"):
        record(tmp_path / "house", tmp_path / "tested.json")


def test_the_release_folders_tested_json_is_the_same_format(tmp_path, dists):
    folder = dists.release(tmp_path / "r", pythons=("3.11", "3.12"))
    files = sorted(folder.iterdir())
    write_manifest(folder, files)
    check_manifest(folder, files)
    assert read_manifests([folder / MANIFEST]) == {p.name: sha256(p) for p in files}
    dists.wheel(folder, "1.0", payload=b"# changed\n")
    with pytest.raises(WheelkitError, match=r"changed since it was tested(.|\n)*run the release's first step again"):
        check_manifest(folder, sorted(p for p in folder.iterdir() if p.name != MANIFEST))


def test_the_command_line_records_and_verifies(ci, tmp_path, capsys):
    dist, tested = ci
    lines: list[str] = []
    assert main(["verify", str(dist), str(tested)], lines.append) == 0
    assert lines[-1].startswith(f"{dist}: all 3 file(s) are the tested ones")
    assert main(["record", str(dist), "--to", str(tmp_path / "all.json")], lines.append) == 0
    assert "recorded 3 tested file(s)" in lines[-1]
    with pytest.raises(WheelkitError, match="record takes one FOLDER and --to MANIFEST"):
        main(["record", str(dist)], lines.append)
    with pytest.raises(WheelkitError, match="verify takes FOLDER and at least one MANIFEST"):
        main(["verify", str(dist)], lines.append)
    next(dist.glob("*.whl")).unlink()
    assert cli_main(["tested", "verify", str(dist), str(tested)]) == 1  # the job's error, printed, exit 1
    assert "tested but missing" in capsys.readouterr().err
