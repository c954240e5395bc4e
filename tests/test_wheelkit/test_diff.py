"""wheelkit.diff: the files, fields and shared libraries that differ between two wheels, two folders or two
versions; byte-identical wheels say so. Shared libraries are compiled here (cc), so their facts are real."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.diff import diff, diff_archives, diff_wheels, main, render
from wheelkit.wheelfile import write_wheel

TAG = "cp311-cp311-manylinux_2_34_x86_64"


def shared_library(tmp_path: Path, name: str, source: str, *flags: str) -> bytes:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler (cc): the project's build needs one anyway")
    (tmp_path / f"{name}.c").write_text(source)
    output = tmp_path / f"{name}.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(output), str(tmp_path / f"{name}.c"), *flags],
                   check=True, capture_output=True)
    return output.read_bytes()


def wheel(folder: Path, version: str, files: dict[str, bytes], metadata: str = "") -> Path:
    info = f"demo-{version}.dist-info"
    base = {f"{info}/METADATA": f"Metadata-Version: 2.4\nName: demo\nVersion: {version}\n{metadata}".encode(),
            f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {TAG}\n".encode()}
    return write_wheel(folder / f"demo-{version}-{TAG}.whl", {**base, **files})


def test_byte_identical_wheels_say_so(tmp_path):
    one = wheel(tmp_path / "a", "1.0", {"demo/__init__.py": b""})
    two = Path(shutil.copy2(one, tmp_path / "copy.whl"))
    result = diff_wheels(one, two)
    assert result.same and result.identical_bytes
    assert render(result).endswith(": byte-identical")


def test_files_fields_and_libraries_that_differ_are_named(tmp_path):
    lib_a = shared_library(tmp_path, "a", "int kept(void) { return 1; }\nint old_name(void) { return 2; }\n",
                           "-Wl,-rpath,$ORIGIN/../demo.libs", "-Wl,--build-id=sha1")
    lib_b = shared_library(tmp_path, "b", "int kept(void) { return 1; }\nint new_name(void) { return 3; }\n"
                           "static char big[4096] = {1};\nchar *use(void) { return big; }\n",
                           "-Wl,-rpath,$ORIGIN", "-Wl,--build-id=sha1", "-Wl,--no-as-needed", "-lm")
    a = wheel(tmp_path / "a", "1.0", {"demo/_core.so": lib_a, "demo/old.py": b"x = 1\n", "demo/same.py": b""},
              "Requires-Dist: numpy>=1.21\n")
    b = wheel(tmp_path / "b", "1.0", {"demo/_core.so": lib_b, "demo/new.py": b"", "demo/same.py": b""},
              "Requires-Dist: numpy>=1.23\n")
    result = diff_wheels(a, b)
    assert not result.same
    assert [n for n, _ in result.added] == ["demo/new.py"] and [n for n, _ in result.removed] == ["demo/old.py"]
    assert [n for n, _, _ in result.changed] == ["demo-1.0.dist-info/METADATA", "demo-1.0.dist-info/RECORD",
                                                 "demo/_core.so"]
    assert ("METADATA Requires-Dist", "numpy>=1.21", "numpy>=1.23") in result.fields
    ((member, lines),) = result.libraries
    text = "\n".join(lines)
    assert member == "demo/_core.so"
    assert "RUNPATH: $ORIGIN/../demo.libs -> $ORIGIN" in text or "RPATH: $ORIGIN/../demo.libs -> $ORIGIN" in text
    assert "NEEDED:" in text and "libm.so.6" in text
    assert "exported symbols removed (1): old_name" in text and "exported symbols added (2): new_name, use" in text
    assert "build-id: " in text and "section .data:" in text
    report = render(result)
    assert "+ demo/new.py" in report and "- demo/old.py" in report and "~ demo/_core.so" in report


def test_the_same_contents_packed_otherwise_is_an_archive_difference(tmp_path):
    a = wheel(tmp_path / "a", "1.0", {"demo/__init__.py": b"", "demo/x.py": b"y = 2\n"})
    b = tmp_path / "b" / a.name
    b.parent.mkdir()
    with zipfile.ZipFile(a) as source, zipfile.ZipFile(b, "w") as target:
        for info in reversed(source.infolist()):  # other order, other times
            info.date_time = (2001, 1, 1, 0, 0, 0)
            target.writestr(info, source.read(info.filename))
    result = diff_wheels(a, b)
    assert not result.identical_bytes and not result.changed and not result.added
    assert "the members are in another order" in result.archive
    assert any("time" in line for line in result.archive)


def test_folders_and_versions_pair_wheels_by_tag(tmp_path, caplog):
    a1 = wheel(tmp_path / "house", "1.0", {"demo/__init__.py": b""})
    wheel(tmp_path / "house", "1.1", {"demo/__init__.py": b"# changed\n"})
    by_version = diff("1.0", "1.1", folder=tmp_path / "house")
    assert len(by_version.pairs) == 1 and not by_version.same
    assert ("METADATA Version", "1.0", "1.1") in by_version.pairs[0].fields
    shutil.copytree(tmp_path / "house", tmp_path / "copy")
    (tmp_path / "copy" / a1.name).unlink()
    folders = diff(str(tmp_path / "house"), str(tmp_path / "copy"))
    assert len(folders.pairs) == 1 and folders.pairs[0].same  # 1.1 against 1.1, paired by tag
    assert "1 pair(s) compared, 1 the same; 0 only in the first" in folders.text()
    with pytest.raises(WheelkitError, match="no wheels of version 9.9"):
        diff("1.0", "9.9", folder=tmp_path / "house")
    with pytest.raises(WheelkitError, match="not one of each"):
        diff(str(a1), str(tmp_path / "copy"))
    said: list[str] = []
    assert main([str(a1), str(a1)], said.append) == 0 and said[-1].endswith("1 pair(s) compared, 1 the same; 0 only "
                                                                              "in the first, 0 only in the second")
    assert main(["1.0", "1.1", "--folder", str(tmp_path / "house")], said.append) == 1


def test_python_m_wheelkit_diff_is_the_job_of_nox_s_wheel_diff_and_exits_1_on_a_difference(tmp_path):
    a = wheel(tmp_path / "a", "1.0", {"demo/__init__.py": b""})
    b = wheel(tmp_path / "b", "1.0", {"demo/__init__.py": b"x = 1\n"})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "packaging")}
    done = subprocess.run([sys.executable, "-m", "wheelkit", "diff", str(a), str(b)], capture_output=True, text=True,
                          env=env, check=False)
    assert done.returncode == 1, done.stderr
    assert "~ demo/__init__.py (0 -> 6 B)" in done.stdout


def test_two_debug_archives_differ_in_a_time_and_a_library(tmp_path):
    def archive(name: str, content: bytes, mtime: int) -> Path:
        path = tmp_path / f"{name}.tar.gz"
        with tarfile.open(path, "w:gz") as handle:
            info = tarfile.TarInfo("cablesim/_core.so.debug")
            info.size, info.mtime = len(content), mtime
            handle.addfile(info, io.BytesIO(content))
        return path

    assert diff_archives(archive("a", b"one", 1), archive("a2", b"one", 1)) != []  # w:gz: name and clock in the gzip header
    lines = diff_archives(archive("b", b"one", 1), archive("c", b"three", 2))
    assert "cablesim/_core.so.debug: mtime 1 -> 2" in lines and "~ cablesim/_core.so.debug (3 -> 5 B)" in lines


def test_two_versions_pair_their_dist_info_files_instead_of_adding_and_removing_them(tmp_path):
    a = wheel(tmp_path / "a", "1.0", {"demo/__init__.py": b""})
    b = wheel(tmp_path / "b", "1.1", {"demo/__init__.py": b""})
    result = diff_wheels(a, b)
    assert not result.added and not result.removed
    assert [n for n, _, _ in result.changed] == ["demo-1.0.dist-info/METADATA", "demo-1.0.dist-info/RECORD"]
    assert ("METADATA Version", "1.0", "1.1") in result.fields
