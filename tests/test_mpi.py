"""Distributed networks and dynamic MPI (src/core/parallel, src/mpi, cablesim/parallel.py).

In process: ParallelContext without MPI runs a gid-wired ring exactly as the plain ring, and bad gid wiring is
refused. Under mpirun.mpich and mpirun.openmpi (2 ranks): ``python -m cablesim.selftest --ring --mpi`` gives the
serial ring's spikes, a launcher/library mismatch and a missing library are reported clearly, and an MPI library
loaded before cablesim is the one used. The extension itself never needs libmpi.

The MPI tests skip when a launcher or a shim is missing, unless CABLESIM_REQUIRE_MPI=1 (as `nox -s tests` sets):
then they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cablesim
from cablesim import _core
from cablesim.networks import ring

REQUIRED = os.environ.get("CABLESIM_REQUIRE_MPI") == "1"
SHIMS = cablesim.build_info()["mpi_shims"]
LAUNCHERS = {"mpich": "mpirun.mpich", "openmpi": "mpirun.openmpi"}
PACKAGES = {"mpich": "mpich libmpich-dev", "openmpi": "openmpi-bin libopenmpi-dev"}
TIMEOUT = 120  # [s] a hung MPI job must not hang the suite
LAUNCH_VARIABLES = re.compile(r"^(OMPI_|PMI_|PMIX_|HYDRA_|MPIR_|CABLESIM_MPI)")


def need(implementation: str) -> str:
    """The launcher for an implementation whose shim is in this build; skip (or fail, when required) otherwise."""
    launcher = shutil.which(LAUNCHERS[implementation])
    missing = None
    if implementation not in SHIMS:
        missing = f"this build has no {implementation} shim (shims: {SHIMS}); build with its headers installed"
    elif launcher is None:
        missing = f"{LAUNCHERS[implementation]} not on PATH (apt-get install {PACKAGES[implementation]})"
    if missing is None:
        assert launcher is not None
        return launcher
    if REQUIRED:
        pytest.fail(f"CABLESIM_REQUIRE_MPI=1 but {missing}")
    pytest.skip(missing)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without launcher or cablesim MPI variables (pytest may itself run under mpirun)."""
    env = {k: v for k, v in os.environ.items() if not LAUNCH_VARIABLES.match(k)}
    env.update(extra)
    return env


def mpirun(implementation: str, args: list[str], ranks: int = 2, **extra: str) -> subprocess.CompletedProcess[str]:
    command = [need(implementation), "-n", str(ranks)]
    env = clean_env(**extra)
    if implementation == "openmpi":
        command.append("--oversubscribe")  # more ranks than cores is fine for a test
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-run-as-root")
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run(
        [*command, sys.executable, *args], capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )


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
    # Each shim needs its own implementation's library only (or nothing, headers-only).
    expected = {"mpich": r"libmpich\.so\.12$", "openmpi": r"libmpi\.so\.40$"}
    for name in SHIMS:
        mpi_needed = [lib for lib in needed(package / f"libcablesim_mpi_{name}.so") if re.match(r"libmpi", lib)]
        if name in expected:
            assert all(re.match(expected[name], lib) for lib in mpi_needed), (name, mpi_needed)


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


@pytest.mark.parametrize(
    "implementation,library,message",
    [
        (
            "openmpi",
            "libmpich.so.12",
            (
                r"started by Open MPI's mpirun \(OMPI_COMM_WORLD_SIZE=2\) but the MPI library is MPICH .*Launch with "
                r"MPICH's launcher \(e.g. mpirun.mpich on Debian\), or set CABLESIM_MPI_LIB to the library of Open MPI's "
                r"mpirun \(e.g. libmpi.so.40\)"
            ),
        ),
        (
            "mpich",
            "libmpi.so.40",
            (
                r"started by MPICH's mpiexec \(hydra\) \(PMI_SIZE=2\) but the MPI library is Open MPI .*set "
                r"CABLESIM_MPI_LIB to the library of MPICH's mpiexec \(hydra\) \(e.g. libmpich.so.12\)"
            ),
        ),
    ],
)
def test_a_launcher_and_library_mismatch_is_reported(implementation, library, message):
    need("mpich" if implementation == "openmpi" else "openmpi")  # the library's shim
    done = mpirun(implementation, selftest_ring("--cells", "4", "--tstop", "10", "--mpi"), CABLESIM_MPI_LIB=library)
    assert done.returncode != 0
    assert done.stdout == ""
    assert re.search(message, done.stderr), done.stderr


def test_no_mpi_library_is_reported():
    if not SHIMS:
        need("mpich")
    done = ring_without_launcher("--cells", "2", "--mpi", CABLESIM_MPI_LIB="/nonexistent/libmpi.so")
    assert done.returncode == 2
    assert "CABLESIM_MPI_LIB=/nonexistent/libmpi.so: cannot load it" in done.stderr
    assert "set CABLESIM_MPI_LIB to your MPI library's path or soname" in done.stderr


def test_mpi_without_a_launcher_is_one_rank(serial_ring):
    need("mpich")
    done = ring_without_launcher("--cells", "20", "--tstop", "100", "--mpi")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
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


@pytest.mark.parametrize("implementation,library", [("mpich", "libmpich.so.12"), ("openmpi", "libmpi.so.40")])
def test_an_mpi_library_already_loaded_is_used(implementation, library, tmp_path):
    done = mpirun(implementation, ["-c", ALREADY_LOADED, library, str(tmp_path)])
    assert done.returncode == 0, done.stderr
    reports = [json.loads(path.read_text()) for path in sorted(tmp_path.glob("rank*.json"))]
    assert [r["rank"] for r in reports] == [0, 1] and {r["size"] for r in reports} == {2}
    assert {r["found_by"] for r in reports} == {"already loaded"}
    assert {r["implementation"] for r in reports} == {implementation}
    assert all(r["initialized_here"] for r in reports)
