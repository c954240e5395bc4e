"""Standard networks shared by the tests, ``python -m cablesim.selftest --ring`` and the benchmarks.

``ring(ncell)`` is NEURON's ring tutorial: ball-and-stick cells (an hh soma, a passive dendrite), each soma's
spikes reach the next cell's ExpSyn, and a NetStim kicks cell 0 once. Each hop takes the NetCon delay (5 ms)
plus about 1.6 ms for the next cell to fire, so the spike goes round and round the ring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .model import ExpSyn, Model, NetCon, NetStim, Section

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
    """A ring network: its model, and per cell (the gid is the index) the soma, dendrite, synapse and detector."""

    model: Model
    somas: list[Section]
    dends: list[Section]
    synapses: list[ExpSyn]
    detectors: list[NetCon]  # soma(0.5) -> next cell's synapse; their spike times are the cells' spikes
    stim: NetStim

    def spikes(self) -> list[tuple[int, float]]:
        """(gid, t [ms]) of every spike of the last run, sorted by time, then gid."""
        found = [(gid, float(t)) for gid, nc in enumerate(self.detectors) for t in nc.spike_times]
        return sorted(found, key=lambda spike: (spike[1], spike[0]))

    def spike_array(self) -> np.ndarray:
        """The spikes as an (n, 2) array of (gid, t [ms]) rows, sorted as :meth:`spikes`."""
        return np.array(self.spikes(), dtype=float).reshape(-1, 2)


def ring(ncell: int = 100, *, dend_nseg: int = 101, model: Optional[Model] = None) -> Ring:
    """``ncell`` ball-and-stick cells in a ring (dendrite of ``dend_nseg`` segments; the 100-cell ring with the
    default 101 segments has 10,500 nodes). Builds into ``model`` if given, else into a new Model."""
    if not isinstance(ncell, int) or isinstance(ncell, bool) or ncell < 1:
        raise ValueError(f"ring: ncell must be a whole number >= 1, got {ncell!r}")
    model = Model() if model is None else model
    somas, dends, synapses = [], [], []
    for i in range(ncell):
        soma = model.Section(f"cell{i}.soma", L=SOMA_L, diam=SOMA_DIAM, Ra=RA, cm=CM).insert("hh")
        dend = model.Section(f"cell{i}.dend", L=DEND_L, diam=DEND_DIAM, nseg=dend_nseg, Ra=RA, cm=CM)
        dend.insert("pas", g=PAS_G, e=PAS_E).connect(soma(1))
        somas.append(soma)
        dends.append(dend)
        synapses.append(model.ExpSyn(dend(0.5), tau=SYN_TAU, e=SYN_E))
    detectors = [
        model.NetCon(soma(0.5), synapses[(i + 1) % ncell], threshold=THRESHOLD, delay=DELAY, weight=WEIGHT)
        for i, soma in enumerate(somas)
    ]
    stim = model.NetStim(start=STIM_START, number=1, interval=10)
    model.NetCon(stim, synapses[0], delay=STIM_DELAY, weight=STIM_WEIGHT)
    return Ring(model, somas, dends, synapses, detectors, stim)
