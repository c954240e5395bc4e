"""Standard networks shared by the tests, ``python -m cablesim.selftest --ring`` and the benchmarks.

``ring(ncell)`` is NEURON's ring tutorial: ball-and-stick cells (an hh soma, a passive dendrite), each soma's
spikes reach the next cell's ExpSyn, and a NetStim kicks cell 0 once. Each hop takes the NetCon delay (5 ms)
plus about 1.6 ms for the next cell to fire, so the spike goes round and round the ring.

``ring(ncell, pc=pc)`` builds the same ring spread over MPI ranks, as NEURON's parallel ring does: this rank's
cells only (gid % size == rank), each soma registered as its gid's output and each synapse connected by gid to the
cell before it; run it with ``model.run(tstop, pc=pc)``. Its spikes are the serial ring's, to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from .model import ExpSyn, Model, NetCon, NetStim, Section

if TYPE_CHECKING:
    from .parallel import ParallelContext

__all__ = ["Ring", "ring"]

# The cells (NEURON's ring tutorial).
SOMA_L = SOMA_DIAM = 12.6157  # [um]
DEND_L, DEND_DIAM = 200.0, 1.0  # [um]
RA, CM = 100.0, 1.0  # [ohm cm], [uF/cm2]
PAS_G, PAS_E = 0.001, -65.0  # [S/cm2], [mV]
SYN_TAU, SYN_E = 2.0, 0.0  # [ms], [mV]
# The connections.
THRESHOLD, DELAY, WEIGHT = 10.0, 5.0, 0.01  # [mV], [ms], [uS]
STIM_START, STIM_DELAY, STIM_WEIGHT = 9.0, 1.0, 0.04  # [ms], [ms], [uS]


@dataclass
class Ring:
    """A ring network: its model, and per cell of this rank (gid ``gids[k]``) the soma, dendrite, synapse and
    detector. Serially every cell is here and the gid is the index."""

    model: Model
    somas: list[Section]
    dends: list[Section]
    synapses: list[ExpSyn]
    detectors: list[NetCon]  # from soma(0.5): serially to the next cell's synapse; their spikes are the cells'
    stim: Optional[NetStim]  # on the rank of gid 0
    gids: list[int] = field(default_factory=list)
    pc: Optional["ParallelContext"] = None

    def spikes(self) -> list[tuple[int, float]]:
        """(gid, t [ms]) of every spike of the last run, sorted by time, then gid (distributed: of every rank)."""
        if self.pc is not None:
            return [(int(gid), float(t)) for gid, t in self.pc.spikes()]
        found = [(gid, float(t)) for gid, nc in zip(self.gids, self.detectors) for t in nc.spike_times]
        return sorted(found, key=lambda spike: (spike[1], spike[0]))

    def spike_array(self) -> np.ndarray:
        """The spikes as an (n, 2) array of (gid, t [ms]) rows, sorted as :meth:`spikes`."""
        return np.array(self.spikes(), dtype=float).reshape(-1, 2)


def ring(
    ncell: int = 100, *, dend_nseg: int = 101, model: Optional[Model] = None, pc: Optional["ParallelContext"] = None
) -> Ring:
    """``ncell`` ball-and-stick cells in a ring (dendrite of ``dend_nseg`` segments; the 100-cell ring with the
    default 101 segments has 10,500 nodes). Builds into ``model`` if given, else into a new Model; with ``pc``,
    only this rank's cells, connected by gid (run it with ``model.run(tstop, pc=pc)``)."""
    if not isinstance(ncell, int) or isinstance(ncell, bool) or ncell < 1:
        raise ValueError(f"ring: ncell must be a whole number >= 1, got {ncell!r}")
    model = Model() if model is None else model
    gids = list(range(ncell)) if pc is None else list(pc.gids(ncell))
    somas, dends, synapses = [], [], []
    for gid in gids:
        soma = model.Section(f"cell{gid}.soma", L=SOMA_L, diam=SOMA_DIAM, Ra=RA, cm=CM).insert("hh")
        dend = model.Section(f"cell{gid}.dend", L=DEND_L, diam=DEND_DIAM, nseg=dend_nseg, Ra=RA, cm=CM)
        dend.insert("pas", g=PAS_G, e=PAS_E).connect(soma(1))
        somas.append(soma)
        dends.append(dend)
        synapses.append(model.ExpSyn(dend(0.5), tau=SYN_TAU, e=SYN_E))
    if pc is None:
        detectors = [
            model.NetCon(soma(0.5), synapses[(i + 1) % ncell], threshold=THRESHOLD, delay=DELAY, weight=WEIGHT)
            for i, soma in enumerate(somas)
        ]
    else:
        # Each cell's output by gid, and each synapse fed by the cell before it, wherever that cell lives.
        detectors = [model.NetCon(soma(0.5), None, threshold=THRESHOLD) for soma in somas]
        for gid, detector, synapse in zip(gids, detectors, synapses):
            pc.cell(gid, detector)
            pc.gid_connect((gid - 1) % ncell, synapse, weight=WEIGHT, delay=DELAY)
    stim = None
    if 0 in gids:
        stim = model.NetStim(start=STIM_START, number=1, interval=10)
        model.NetCon(stim, synapses[gids.index(0)], delay=STIM_DELAY, weight=STIM_WEIGHT)
    return Ring(model, somas, dends, synapses, detectors, stim, gids, pc)
