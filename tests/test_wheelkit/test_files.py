"""wheelkit.files: a zip of CI artifacts unpacked safely (refused whole on path traversal, links, a zip bomb)."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.files import safe_extract


def make_zip(path: Path, members: dict[str, bytes], link: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_a_good_artifact_zip_is_unpacked(tmp_path):
    archive = make_zip(tmp_path / "artifacts.zip", {"wheels/a.whl": b"a", "b.txt": b"b"})
    written = safe_extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == ["b.txt", "wheels/a.whl"]
    assert (tmp_path / "out" / "wheels" / "a.whl").read_bytes() == b"a"


@pytest.mark.parametrize("evil", ["../evil", "wheels/../../evil", "/tmp/evil", "C:/evil"])
def test_path_traversal_is_refused_and_nothing_is_written(tmp_path, evil):
    archive = make_zip(tmp_path / "artifacts.zip", {"good.whl": b"a", evil: b"x"})
    with pytest.raises(WheelkitError, match=r"would be written outside .*refusing to unpack it \(path traversal\)"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil").exists()


def test_links_and_zip_bombs_are_refused(tmp_path):
    with pytest.raises(WheelkitError, match="symbolic link 'passwd'"):
        safe_extract(make_zip(tmp_path / "link.zip", {}, link="passwd"), tmp_path / "out")
    with pytest.raises(WheelkitError, match="unpacks to more than 10 bytes"):
        safe_extract(make_zip(tmp_path / "big.zip", {"big": bytes(11)}), tmp_path / "out", max_bytes=10)
    with pytest.raises(WheelkitError, match="cannot open .* as a zip"):
        safe_extract(tmp_path / "big.zip.missing", tmp_path / "out")
