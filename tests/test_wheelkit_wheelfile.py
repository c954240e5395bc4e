"""wheelkit.wheelfile: wheel names and tags, which interpreter takes which wheel, RECORD verification, DT_NEEDED,
safe unpacking of artifact zips and writing wheels. Synthetic wheels only: milliseconds each."""

from __future__ import annotations

import importlib
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.compat import interpreter_tags, manylinux_glibc, requirement_lower_bound, wheel_fits  # noqa: E402
from wheelkit.files import safe_extract  # noqa: E402
from wheelkit.native import elf_needed, extension_abi_mismatches  # noqa: E402
from wheelkit.wheelfile import Tag, WheelContents, parse_wheel_name, read_all, verify_record, write_wheel  # noqa: E402

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


def rezip(source: Path, target: Path, change) -> Path:
    """Copy a zip member by member, letting change(name, data) alter or drop (None) each one: RECORD stays as is."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


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


@pytest.mark.parametrize(
    ("filename", "python", "fits"),
    [
        ("d-1-cp39-cp39-manylinux_2_34_x86_64.whl", (3, 9), True),
        ("d-1-cp39-cp39-manylinux_2_34_x86_64.whl", (3, 10), False),  # another CPython
        ("d-1-cp39-cp39-manylinux_2_38_x86_64.whl", (3, 9), False),  # needs a newer glibc than 2.36
        ("d-1-cp39-cp39-manylinux2014_x86_64.whl", (3, 9), True),  # legacy alias of manylinux_2_17
        ("d-1-cp39-cp39-manylinux_2_17_aarch64.whl", (3, 9), False),  # another machine
        ("d-1-cp38-abi3-manylinux_2_17_x86_64.whl", (3, 11), True),  # stable ABI of an older CPython
        ("d-1-cp312-abi3-manylinux_2_17_x86_64.whl", (3, 11), False),  # stable ABI of a newer one
        ("d-1-py3-none-any.whl", (3, 13), True),
        ("d-1-cp311-cp311-linux_x86_64.whl", (3, 11), True),  # installs (unrepaired: the tags check says so)
    ],
)
def test_which_wheels_an_interpreter_installs(filename, python, fits):
    assert wheel_fits(parse_wheel_name(filename), python, "x86_64", GLIBC) is fits


def test_interpreter_tags_prefer_the_most_specific_and_manylinux_glibc_reads_both_spellings():
    tags = interpreter_tags((3, 11), "x86_64", GLIBC)
    assert tags[0] == Tag("cp311", "cp311", "manylinux_2_36_x86_64")
    assert tags[-1] == Tag("py30", "none", "any")
    assert manylinux_glibc("manylinux2014_x86_64") == (2, 17)
    assert manylinux_glibc("manylinux_2_34_x86_64") == (2, 34)
    assert manylinux_glibc("linux_x86_64") is None


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


@pytest.mark.parametrize(
    ("lines", "bound"),
    [
        (["numpy>=1.21"], "1.21"),
        (["NumPy (>=1.22.4)"], "1.22.4"),
        (["numpy<3,>=1.23"], "1.23"),
        (["numpy"], ""),
        (['numpy>=2; extra == "fast"'], None),
        (["scipy>=1"], None),
    ],
)
def test_the_lower_bound_of_a_requirement(lines, bound):
    assert requirement_lower_bound(lines, "numpy") == bound


def test_a_changed_file_breaks_the_record(wheel, tmp_path):
    target = tmp_path / "tampered" / NAME
    target.parent.mkdir()
    rezip(wheel, target, lambda n, d: b"__version__ = 'evil'\n" if n == "demo/__init__.py" else d)
    with WheelContents(target) as contents, pytest.raises(WheelkitError) as caught:
        verify_record(contents)
    message = str(caught.value)
    assert "demo/__init__.py: content does not match its RECORD hash" in message
    assert "rebuild it" in message


def test_files_missing_from_the_record_or_the_wheel_are_listed(wheel, tmp_path):
    target = tmp_path / "odd" / NAME
    target.parent.mkdir()
    rezip(wheel, target, lambda n, d: None if n == "demo/_core.cpython-39-x86_64-linux-gnu.so" else d)
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


def test_extension_modules_of_another_python_are_found(tmp_path):
    files = demo_files(tag="cp310-cp310-manylinux_2_17_x86_64")
    path = write_wheel(tmp_path / "demo-1.2.0-cp310-cp310-manylinux_2_17_x86_64.whl", files)
    with WheelContents(path) as contents:
        assert extension_abi_mismatches(contents) == ["demo/_core.cpython-39-x86_64-linux-gnu.so"]


# --- native code ---------------------------------------------------------------------------------------------------


def test_elf_needed_reads_the_libraries_an_extension_links():
    extension = Path(importlib.import_module("cablesim._core").__file__)
    needed = elf_needed(extension.read_bytes())
    assert "libc.so.6" in needed
    readelf = shutil.which("readelf")
    if readelf:  # the same answer as binutils
        dynamic = subprocess.run([readelf, "-d", str(extension)], capture_output=True, text=True, check=True).stdout
        assert needed == [line.split("[")[1].split("]")[0] for line in dynamic.splitlines() if "(NEEDED)" in line]
    with pytest.raises(WheelkitError, match="not an ELF file"):
        elf_needed(b"#!/bin/sh\n" + bytes(100))


# --- unpacking artifacts -------------------------------------------------------------------------------------------


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
