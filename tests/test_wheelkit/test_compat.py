"""wheelkit.compat: which interpreter installs which wheel, and the lower bound of a requirement."""

from __future__ import annotations

import pytest
from wheelkit.compat import interpreter_tags, manylinux_glibc, requirement_lower_bound, wheel_fits
from wheelkit.wheelfile import Tag, parse_wheel_name

GLIBC = (2, 36)


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
