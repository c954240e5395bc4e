"""wheelkit.native: the libraries an ELF file needs, extension modules of another Python, vendored libraries."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.native import elf_needed, extension_abi_mismatches
from wheelkit.wheelfile import WheelContents, write_wheel


def test_extension_modules_of_another_python_are_found(tmp_path):
    tag = "cp310-cp310-manylinux_2_17_x86_64"
    info = "demo-1.2.0.dist-info"
    path = write_wheel(tmp_path / f"demo-1.2.0-{tag}.whl", {
        "demo/__init__.py": b"",
        "demo/_core.cpython-39-x86_64-linux-gnu.so": b"not really ELF",
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.2.0\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    })
    with WheelContents(path) as contents:
        assert extension_abi_mismatches(contents) == ["demo/_core.cpython-39-x86_64-linux-gnu.so"]


def test_elf_needed_reads_the_libraries_an_extension_links(elf_library):
    library = elf_library
    needed = elf_needed(library.read_bytes())
    readelf = shutil.which("readelf")
    if readelf:  # the same answer as binutils
        dynamic = subprocess.run([readelf, "-d", str(library)], capture_output=True, text=True, check=True).stdout
        assert needed == [line.split("[")[1].split("]")[0] for line in dynamic.splitlines() if "(NEEDED)" in line]
    with pytest.raises(WheelkitError, match="not an ELF file"):
        elf_needed(b"#!/bin/sh\n" + bytes(100))


def test_an_extension_module_of_a_free_threaded_python_is_its_own_abi(tmp_path):
    """Regression: cpython-314t modules were taken for cp314 ones, so every cp314t wheel was flagged."""
    info = "demo-1.0.dist-info"

    def wheel(tag: str) -> Path:
        return write_wheel(tmp_path / f"demo-1.0-{tag}.whl", {
            "demo/_core.cpython-314t-x86_64-linux-gnu.so": b"\x7fELF",
            f"{info}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
        })

    with WheelContents(wheel("cp314-cp314t-manylinux_2_17_x86_64")) as contents:
        assert extension_abi_mismatches(contents) == []
    with WheelContents(wheel("cp314-cp314-manylinux_2_17_x86_64")) as contents:
        assert extension_abi_mismatches(contents) == ["demo/_core.cpython-314t-x86_64-linux-gnu.so"]
