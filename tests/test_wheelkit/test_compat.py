"""wheelkit.compat: a wheel fits an interpreter when one of its tags is among the interpreter's own sys_tags() (PyPA
packaging), on glibc and musl Linux and macOS alike, free-threaded builds included; and the oldest version a
requirement allows where it applies (its specifiers and markers, by packaging)."""

from __future__ import annotations

import pytest
from packaging.markers import default_environment
from packaging.tags import mac_platforms
from wheelkit.compat import cpython_tags_for, manylinux_glibc, requirement_lower_bound, wheel_fits
from wheelkit.wheelfile import parse_wheel_name

# A glibc 2.36 x86_64 machine's platforms, as packaging lists them.
GLIBC_236 = ["linux_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)), "manylinux2014_x86_64"]
MUSL_12 = ["linux_x86_64", "musllinux_1_2_x86_64", "musllinux_1_1_x86_64", "musllinux_1_0_x86_64"]


def fits(filename: str, version: tuple[int, int], platforms: list[str], abi: str = "") -> bool:
    tags = cpython_tags_for(version, abi or f"cp{version[0]}{version[1]}", platforms)
    return wheel_fits(parse_wheel_name(filename).tags, tags)


@pytest.mark.parametrize(
    ("filename", "python", "fitting"),
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
def test_which_wheels_a_glibc_interpreter_installs(filename, python, fitting):
    assert fits(filename, python, GLIBC_236) is fitting


def test_a_macos_arm64_wheel_fits_cpython_3_12_on_arm64():
    """Regression: the hand-written tags knew only Linux, so no macOS wheel ever fitted (test_wheels on macOS)."""
    arm64 = list(mac_platforms((14, 0), "arm64"))
    assert fits("cablesim-1.0-cp312-cp312-macosx_11_0_arm64.whl", (3, 12), arm64)
    assert not fits("cablesim-1.0-cp312-cp312-macosx_11_0_x86_64.whl", (3, 12), arm64)
    assert fits("cablesim-1.0-cp312-cp312-macosx_10_15_x86_64.whl", (3, 12), list(mac_platforms((14, 0), "x86_64")))
    assert not fits("cablesim-1.0-cp312-cp312-macosx_15_0_arm64.whl", (3, 12), arm64)  # a newer macOS than 14


def test_a_musllinux_wheel_fits_a_musl_interpreter_and_not_a_glibc_one():
    assert fits("cablesim-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", (3, 12), MUSL_12)
    assert not fits("cablesim-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", (3, 12), GLIBC_236)
    assert not fits("cablesim-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", (3, 12), MUSL_12)


def test_a_free_threaded_wheel_fits_only_a_free_threaded_interpreter():
    assert fits("cablesim-1.0-cp314-cp314t-manylinux_2_17_x86_64.whl", (3, 14), GLIBC_236, abi="cp314t")
    assert not fits("cablesim-1.0-cp314-cp314-manylinux_2_17_x86_64.whl", (3, 14), GLIBC_236, abi="cp314t")
    assert not fits("cablesim-1.0-cp314-cp314t-manylinux_2_17_x86_64.whl", (3, 14), GLIBC_236)
    assert not fits("cablesim-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", (3, 14), GLIBC_236, abi="cp314t")


def test_manylinux_glibc_reads_both_spellings():
    assert manylinux_glibc("manylinux2014_x86_64") == (2, 17)
    assert manylinux_glibc("manylinux_2_34_x86_64") == (2, 34)
    assert manylinux_glibc("linux_x86_64") is None


@pytest.mark.parametrize(
    ("lines", "bound"),
    [
        (["numpy>=1.21"], "1.21"),
        (["NumPy (>=1.22.4)"], "1.22.4"),
        (["numpy<3,>=1.23"], "1.23"),
        (["numpy~=1.21"], "1.21"),  # regression: '' before
        (["numpy==1.26.*"], "1.26"),
        (["numpy>1.20,>=1.19"], "1.20"),
        (["numpy"], ""),
        (["numpy<2"], ""),
        (['numpy>=2; extra == "fast"'], None),
        (["scipy>=1"], None),
    ],
)
def test_the_lower_bound_of_a_requirement(lines, bound):
    assert requirement_lower_bound(lines, "numpy") == bound


def test_requirement_markers_are_evaluated_for_the_interpreter_in_question():
    """Regression: markers were ignored, so the first numpy line won whatever Python it was for."""
    lines = ["numpy>=1.21; python_version < '3.12'", "numpy>=1.26; python_version >= '3.12'"]
    python_311 = {**default_environment(), "python_version": "3.11"}
    python_312 = {**default_environment(), "python_version": "3.12"}
    assert requirement_lower_bound(lines, "numpy", python_311) == "1.21"
    assert requirement_lower_bound(lines, "numpy", python_312) == "1.26"
    windows_only = ["numpy>=2; sys_platform == 'win32'"]
    assert requirement_lower_bound(windows_only, "numpy", {**default_environment(), "sys_platform": "linux"}) is None
