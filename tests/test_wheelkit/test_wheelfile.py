"""wheelkit.wheelfile: wheel names and tags, what is inside (METADATA, WHEEL, entry points), RECORD verification and
writing wheels. Synthetic wheels only: milliseconds each."""

from __future__ import annotations

import shutil
import stat
import zipfile

import pytest
from wheelkit import WheelkitError
from wheelkit.compat import requirement_lower_bound
from wheelkit.wheelfile import (
    Tag,
    WheelContents,
    disagreements,
    parse_wheel_name,
    read_all,
    verify_record,
    write_wheel,
)

NAME = "demo-1.2.0-cp39-cp39-manylinux_2_17_x86_64.whl"
GLIBC = (2, 36)


def demo_files(version: str = "1.2.0", tag: str = "cp39-cp39-manylinux_2_17_x86_64") -> dict[str, bytes]:
    info = f"demo-{version}.dist-info"
    return {
        "demo/__init__.py": b"__version__ = '1.2.0'\n",
        "demo/_core.cpython-39-x86_64-linux-gnu.so": b"not really ELF",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.4\nName: demo\nVersion: {version}\nRequires-Dist: numpy>=1.21\n"
            'Requires-Dist: pytest>=7; extra == "test"\n\nA demo.\n'
        ).encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
        f"{info}/entry_points.txt": b"[console_scripts]\ndemo-run = demo.cli:main\n\n[other]\nx = y:z\n",
    }


@pytest.fixture
def wheel(tmp_path):
    return write_wheel(tmp_path / NAME, demo_files())


# --- names and tags ----------------------------------------------------------------------------------------------


def test_wheel_names_are_parsed_with_compressed_tags_and_build_tags():
    name = parse_wheel_name("cablesim-0.0.1.dev14+gd4b2353-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert (name.distribution, name.version, name.build) == ("cablesim", "0.0.1.dev14+gd4b2353", "")
    assert name.tags == {Tag("cp39", "cp39", "manylinux_2_17_x86_64"), Tag("cp39", "cp39", "manylinux2014_x86_64")}
    assert name.tag_text == "cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64"
    built = parse_wheel_name("demo-1.0-2b-py3-none-any.whl")
    assert (built.build, built.tag_text) == ("2b", "py3-none-any")


def test_a_file_name_that_is_not_a_wheel_name_says_what_is_expected():
    with pytest.raises(WheelkitError, match=r"'demo-1\.0\.whl' is not a wheel file name: expected NAME-VERSION"):
        parse_wheel_name("demo-1.0.whl")


# --- contents and RECORD ------------------------------------------------------------------------------------------


def test_metadata_entry_points_and_tags_are_read(wheel):
    with WheelContents(wheel) as contents:
        assert contents.dist_info == "demo-1.2.0.dist-info"
        assert contents.metadata_version() == "1.2.0"
        assert contents.entry_points() == {"demo-run": "demo.cli:main"}
        assert contents.entry_points("other") == {"x": "y:z"}
        assert contents.wheel_tags() == {Tag("cp39", "cp39", "manylinux_2_17_x86_64")}
        assert requirement_lower_bound(contents.requires_dist(), "numpy") == "1.21"
        assert contents.top_level() == ["demo"]
        assert verify_record(contents) == 6


def test_a_changed_file_breaks_the_record(wheel, tmp_path, tamper):
    target = tmp_path / "tampered" / NAME
    target.parent.mkdir()
    tamper(wheel, target, lambda n, d: b"__version__ = 'evil'\n" if n == "demo/__init__.py" else d)
    with WheelContents(target) as contents, pytest.raises(WheelkitError) as caught:
        verify_record(contents)
    message = str(caught.value)
    assert "demo/__init__.py: content does not match its RECORD hash" in message
    assert "rebuild it" in message


def test_files_missing_from_the_record_or_the_wheel_are_listed(wheel, tmp_path, tamper):
    target = tmp_path / "odd" / NAME
    target.parent.mkdir()
    tamper(wheel, target, lambda n, d: None if n == "demo/_core.cpython-39-x86_64-linux-gnu.so" else d)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("demo/extra.py", "x = 1\n")
    with WheelContents(target) as contents, pytest.raises(WheelkitError) as caught:
        verify_record(contents)
    assert "demo/extra.py: in the wheel but not in RECORD" in str(caught.value)
    assert "demo/_core.cpython-39-x86_64-linux-gnu.so: in RECORD but not in the wheel" in str(caught.value)


def test_write_wheel_rewrites_a_wheel_with_a_correct_record(wheel, tmp_path):
    files = read_all(wheel)
    files["demo/__init__.py"] = b"__version__ = '1.2.0'  # rewritten\n"
    (tmp_path / "re").mkdir()
    out = write_wheel(tmp_path / "re" / NAME, files, executable=["demo/__init__.py"])
    with WheelContents(out) as contents:
        assert verify_record(contents) == 6
        assert contents.read("demo/__init__.py").endswith(b"# rewritten\n")
        assert stat.S_IMODE(contents.mode("demo/__init__.py")) == 0o755


def test_a_renamed_wheel_is_refused(wheel, tmp_path):
    renamed = tmp_path / "demo-1.3.0-cp39-cp39-manylinux_2_17_x86_64.whl"
    shutil.copy(wheel, renamed)
    with pytest.raises(WheelkitError, match=r"no single demo-1\.3\.0\.dist-info/ folder.*rebuild the wheel"):
        WheelContents(renamed)


# --- native code ---------------------------------------------------------------------------------------------------


# --- unpacking artifacts -------------------------------------------------------------------------------------------




def test_the_one_agreement_check_names_each_disagreement_of_name_version_and_tags(tmp_path):
    tag = "cp39-cp39-manylinux_2_17_x86_64"
    files = demo_files(version="1.2", tag="cp310-cp310-manylinux_2_17_x86_64")
    files["demo-1.2.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: other\nVersion: 1.2.0\n"
    wheel = write_wheel(tmp_path / f"demo-1.2-{tag}.whl", files)
    with WheelContents(wheel) as contents:
        assert disagreements(contents) == [
            "its METADATA names 'other', its file name 'demo'",
            "its METADATA says version '1.2.0', its file name '1.2' (versions must be PEP 440-normalised and agree)",
            f"its WHEEL file declares cp310-cp310-manylinux_2_17_x86_64, its file name {tag}",
        ]
    with WheelContents(write_wheel(tmp_path / "good" / NAME, demo_files())) as contents:
        assert disagreements(contents) == [] and contents.metadata()["requires_dist"][0] == "numpy>=1.21"
