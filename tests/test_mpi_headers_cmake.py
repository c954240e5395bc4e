"""Where the MPI shims' mpi.h comes from (src/mpi/CMakeLists.txt), by configuring the project with CMake (no
compile, a few seconds each): the bundled PyPI headers by default, the system's when asked, the include-dir knobs
over both, OFF leaving a shim out, a wrong header refused, and one clear line when there is no MPI at all."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = {folder.name.split("-")[0]: folder / "include" for folder in (ROOT / "src" / "mpi" / "headers").iterdir()}

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="needs CMake (the build needs it too)")


def configure(tmp_path: Path, *defines: str) -> subprocess.CompletedProcess[str]:
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []  # a new machine has Ninja, not always make
    return subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"), *generator,
                           "-DCABLESIM_BUILD_TESTS=ON", *defines], capture_output=True, text=True, check=False)


def shims_line(done: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"^-- (cablesim MPI shims: .*|cablesim: building without MPI: .*)$", done.stdout, re.MULTILINE)
    assert match, done.stdout + done.stderr
    return match.group(1)


def test_the_default_is_both_shims_from_the_bundled_pypi_headers(tmp_path):
    done = configure(tmp_path)
    assert done.returncode == 0, done.stderr
    line = shims_line(done)
    assert line.startswith("cablesim MPI shims: mpich;openmpi (BUNDLED headers;")
    assert f"mpich: {BUNDLED['mpich']};" in line and f"openmpi: {BUNDLED['openmpi']})" in line


def test_a_knob_wins_and_off_leaves_a_shim_out(tmp_path):
    done = configure(tmp_path, f"-DCABLESIM_OPENMPI_INCLUDE_DIR={BUNDLED['openmpi']}", "-DCABLESIM_MPICH_INCLUDE_DIR=OFF",
                     "-DCABLESIM_MPI_HEADERS=system")
    assert done.returncode == 0, done.stderr
    assert shims_line(done).startswith("cablesim MPI shims: openmpi (SYSTEM headers; mpich: ; openmpi: ")


def test_system_headers_when_there_are_none_say_so_in_one_line(tmp_path):
    if any(Path(p).exists() for p in ("/usr/include/x86_64-linux-gnu/mpich", "/usr/lib/x86_64-linux-gnu/openmpi")):
        pytest.skip("this machine has a distribution MPI: the 'no MPI' line cannot be shown here")
    done = configure(tmp_path, "-DCABLESIM_MPI_HEADERS=SYSTEM")
    assert done.returncode == 0, done.stderr
    assert shims_line(done).startswith("cablesim: building without MPI: no MPI headers found "
                                       "(CABLESIM_MPI_HEADERS=SYSTEM); ParallelContext will run serially only")
    required = configure(tmp_path, "-DCABLESIM_MPI_HEADERS=SYSTEM", "-DCABLESIM_MPI=ON")
    assert required.returncode != 0 and "CABLESIM_MPI=ON but no MPI headers were found" in required.stderr


@pytest.mark.parametrize(("defines", "message"), [
    ((f"-DCABLESIM_MPICH_INCLUDE_DIR={BUNDLED['openmpi']}",), "its mpi.h does not define #define MPICH_VERSION"),
    (("-DCABLESIM_MPI_HEADERS=vendored",), "CABLESIM_MPI_HEADERS must be BUNDLED, SYSTEM or empty, got 'vendored'"),
])
def test_wrong_headers_are_refused(tmp_path, defines, message):
    done = configure(tmp_path, *defines)
    assert done.returncode != 0 and message in re.sub(r"\s+", " ", done.stderr), done.stderr
