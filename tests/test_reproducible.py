"""Byte-identical rebuilds (issue 16): `nox -s build_linux -- --check-reproducible` for the Python running the tests,
in a clone of the code under test (it builds again in a second clone and compares), and two sdists from two clones."""

from __future__ import annotations

import hashlib
import os
import re
import sys

import pytest
from conftest import copy_of_this_checkout, nox_command, run_checked

pytestmark = pytest.mark.slow

DOTTED = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
ENV = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "SOURCE_DATE_EPOCH", "CABLESIM_BUILD_ROOT")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="build_linux builds on Linux")
def test_the_wheel_and_its_debug_archive_are_byte_identical_from_a_second_clone(tmp_path):
    source = copy_of_this_checkout(tmp_path / "checkout")
    output = run_checked([*nox_command(), "-f", str(source / "noxfile.py"), "-s", "build_linux", "--",
                          "--check-reproducible", DOTTED], source, ENV)
    digests = re.findall(r"sha256 ([0-9a-f]{64}) \(this build\)\n  sha256 ([0-9a-f]{64}) \(rebuild\) identical", output)
    assert len(digests) == 2 and all(a == b for a, b in digests), output[-3000:]  # the wheel and its debug archive
    assert "2 file(s) byte-identical in a second clone" in output
    (wheel,) = (source / "wheelhouse").glob(f"cablesim-*-{TAG}-{TAG}-*.whl")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in {a for a, _ in digests}


def test_two_clones_at_two_paths_build_the_same_sdist(tmp_path):
    commit = copy_of_this_checkout(tmp_path / "commit")  # one commit: its time is the sdist's SOURCE_DATE_EPOCH
    built = []
    for folder in ("one", "another/deeper"):
        source = tmp_path / folder / "checkout"
        run_checked(["git", "clone", "--quiet", str(commit), str(source)], tmp_path)
        run_checked([*nox_command(), "-f", str(source / "noxfile.py"), "-s", "sdist"], source, ENV)
        (sdist,) = (source / "wheelhouse").glob("cablesim-*.tar.gz")
        built.append(sdist)
    first, second = (p.read_bytes() for p in built)
    assert built[0].name == built[1].name
    assert first == second, f"{built[0]} and {built[1]} differ"
