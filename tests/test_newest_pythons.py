"""CPython 3.14 and 3.15 on a machine that can install neither: Debian sid packages both, so a podman image made
from a debootstrap sid root file system (packaging/test-image/sid.Containerfile) builds their wheels with
`nox -s build_linux` and tests them with `nox -s test_wheels`, on a clone of the code under test.

Skips without podman, debootstrap or root, unless CABLESIM_REQUIRE_SID_TEST=1 (.ci/run sets it): then it fails.
coreutils' `timeout` fails inside sid under podman and runc, so the time limit is the host's (subprocess)."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import ROOT, Steps, cache_folder, copy_of_this_checkout, local_image, require_container_tools

SUITE = "sid"
CONTAINERFILE = ROOT / "packaging" / "test-image" / "sid.Containerfile"
STEP_TIMEOUT = 20 * 60  # [s] one step; a hang must not hold CI to its limit


@pytest.mark.slow
def test_cp314_and_cp315_wheels_build_and_pass_test_wheels_in_debian_sid(tmp_path):
    """First run: debootstrap (~30 s), the image (~1 min); then the two wheels (~1.5 min) and their tests."""
    require_container_tools("CABLESIM_REQUIRE_SID_TEST")
    source = copy_of_this_checkout(tmp_path / "checkout")
    steps = Steps(source, timeout=STEP_TIMEOUT)
    tag = local_image(SUITE, CONTAINERFILE, "test", steps)
    run = [sys.executable, "-m", "invoke", "image.run", "--tag", tag, "--ccache-dir",
           str(cache_folder() / "ccache-sid"), "--engine", "podman", "--"]
    steps.run("build_linux", [*run, "nox", "-s", "build_linux", "--", "3.14", "3.15"])
    wheels = sorted(p.name for p in (source / "wheelhouse").glob("cablesim-*.whl"))
    assert [re.sub(r"^cablesim-[^-]+-", "", name).split("-manylinux_")[0] for name in wheels] == [
        "cp314-cp314", "cp315-cp315"], wheels
    for dotted in ("3.14", "3.15"):
        output = steps.run(f"test_wheels {dotted}", [*run, "nox", "-s", "test_wheels", "--", dotted, "wheelhouse/"])
        assert "1 of 1 wheel(s) passed" in output, output[-3000:]
        assert re.search(r"MPI mpich .*2 ranks, same \d+ spikes as serial", output), output[-3000:]
    print(steps.report("sid test timings"))
