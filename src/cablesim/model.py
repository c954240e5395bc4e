"""The model a NEURON user expects: sections, ``sec(x)`` locations, mechanisms, stimuli, synapses,
NetCons, recordings and ``run(tstop)``.

Everything is validated as it is set (by the compiled core) and raises :class:`ModelError`, a
``ValueError`` whose message names the section and the value.
"""

from __future__ import annotations

import json
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Optional, Union

import numpy as np

from . import _core
from ._core import ModelError

if TYPE_CHECKING:
    from .parallel import ParallelContext

__all__ = [
    "ExpSyn",
    "IClamp",
    "LargeRecordingWarning",
    "Mechanism",
    "Model",
    "ModelError",
    "NetCon",
    "NetStim",
    "Run",
    "Section",
    "Segment",
    "Trace",
    "build_info",
]

MECHANISMS = ("hh", "pas")
METHODS = {"backward-euler": 0, "crank-nicolson": 2}
# The engines compiled into this build ("default" always first; "coreneuron" with -DCABLESIM_CORENEURON=ON).
ENGINES = tuple(_core.build_info()["engines"])
NO_CORENEURON = (
    "this build of cablesim has no coreneuron engine; install a coreneuron wheel / build with -DCABLESIM_CORENEURON=ON"
)
# run() warns when a run's recording (t and every trace, 8 bytes a point) will be larger than this
# (docs/model-format.md, "Limits of a run"). The engines refuse one larger than the machine's memory.
LARGE_RECORDING_BYTES = 2**30


class LargeRecordingWarning(UserWarning):
    """A run will record more than ``LARGE_RECORDING_BYTES`` (1 GiB): it fits in memory, but is it meant?"""


def describe(value: object) -> str:
    """A value as error messages show it, JSON-flavoured: ``string "18.8"``, ``boolean true``, ``null``, ``array``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        text = json.dumps(value)
        return f"string {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def as_number(value: object, name: str, where: str = "") -> float:
    """``value`` as a float, or ModelError ``<where>: <name> must be a number, got string "10"``.

    The one check of every number a model takes, from Python and from the JSON format (model_io): ints and floats,
    NumPy's too; not numeric strings and not booleans, which JSON refuses as numbers. Ranges are the core's to check.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        problem = f"{name} must be a number, got {describe(value)}"
        raise ModelError(f"{where}: {problem}" if where else problem)
    try:
        return float(value)
    except OverflowError:  # an int beyond a double: the core reports it as not finite
        return math.inf


def build_info() -> dict[str, object]:
    """What this build of cablesim contains, as reported by its compiled module.

    ``version`` (str), ``engines`` (list, ``"default"`` first, then e.g. ``"coreneuron"``), ``mpi`` (bool: runs
    over MPI ranks, loading the user's MPI at run time), ``mpi_shims`` (the MPI implementations it has a shim for,
    e.g. ``["mpich", "openmpi"]``), ``openmp`` (bool: the coreneuron engine can use threads) and ``march`` (the
    ``-march`` level the optimised engine was compiled for, ``""`` when generic).
    """
    from ._version import __version__

    compiled = _core.build_info()
    shims = list(_core.mpi_shims()) if compiled["mpi"] else []
    return {
        "version": __version__,
        "engines": list(compiled["engines"]),
        "mpi": bool(shims),
        "mpi_shims": shims,
        "openmp": bool(compiled["openmp"]),
        "march": str(compiled["march"]),
    }


def _require_x(section: "Section", x: float) -> float:
    value = as_number(x, "x", f"location {section.name}({x!r})")
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise ModelError(f"location {section.name}({x!r}): x must be in [0, 1], got {x!r}")
    return value


class Segment:
    """A location ``sec(x)`` on a section (x in [0, 1])."""

    __slots__ = ("section", "x")

    def __init__(self, section: "Section", x: float) -> None:
        self.section = section
        self.x = _require_x(section, x)

    @property
    def v(self) -> float:
        """Membrane potential [mV] here at the end of the last run."""
        return self.section.model._simulation_or_error().voltage_at(self.section.index, self.x)

    def __repr__(self) -> str:
        return f"{self.section.name}({self.x:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and other.section is self.section and other.x == self.x

    def __hash__(self) -> int:
        return hash((id(self.section), self.x))


class Mechanism:
    """Parameters of a density mechanism on a section: ``soma.hh.gnabar = 0.2``."""

    __slots__ = ("_section", "_name")

    def __init__(self, section: "Section", name: str) -> None:
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, parameter: str) -> float:
        if parameter.startswith("_"):
            raise AttributeError(parameter)
        s = self._section
        return s.model._core.mechanism_parameter(s.index, self._name, parameter)

    def __setattr__(self, parameter: str, value: float) -> None:
        s = self._section
        number = as_number(value, parameter, f"section '{s.name}' {self._name}")
        s.model._core.set_mechanism_parameter(s.index, self._name, parameter, number)

    def __repr__(self) -> str:
        return f"<{self._name} in {self._section.name}>"


class Section:
    """An unbranched cable: L [um], diam [um], nseg, Ra [ohm cm], cm [uF/cm2] (NEURON's defaults)."""

    def __init__(self, model: "Model", index: int) -> None:
        self.model = model
        self.index = index

    @property
    def name(self) -> str:
        return self.model._core.section_name(self.index)

    def _geometry(self, key: str) -> float:
        return self.model._core.section_geometry(self.index)[key]

    def _number(self, value: object, name: str) -> float:
        return as_number(value, name, f"section '{self.name}'")

    @property
    def L(self) -> float:  # noqa: N802 - NEURON's name
        return self._geometry("L")

    @L.setter
    def L(self, value: float) -> None:  # noqa: N802
        self.model._core.set_length(self.index, self._number(value, "L"))

    @property
    def diam(self) -> float:
        return self._geometry("diam")

    @diam.setter
    def diam(self, value: float) -> None:
        self.model._core.set_diameter(self.index, self._number(value, "diam"))

    @property
    def nseg(self) -> int:
        return int(self._geometry("nseg"))

    @nseg.setter
    def nseg(self, value: int) -> None:
        number = self._number(value, "nseg")
        if not isinstance(value, numbers.Integral) and not number.is_integer():
            raise ModelError(f"section '{self.name}': nseg must be a whole number >= 1, got {value!r}")
        count = int(value) if isinstance(value, numbers.Integral) else int(number)
        if not -(2**31) <= count < 2**31:
            raise ModelError(f"section '{self.name}': nseg must be in [1, 32767], got {value!r}")
        self.model._core.set_nseg(self.index, count)

    @property
    def Ra(self) -> float:  # noqa: N802
        return self._geometry("Ra")

    @Ra.setter
    def Ra(self, value: float) -> None:  # noqa: N802
        self.model._core.set_axial_resistivity(self.index, self._number(value, "Ra"))

    @property
    def cm(self) -> float:
        return self._geometry("cm")

    @cm.setter
    def cm(self, value: float) -> None:
        self.model._core.set_membrane_capacitance(self.index, self._number(value, "cm"))

    def __call__(self, x: float) -> Segment:
        return Segment(self, x)

    def segments(self) -> Iterator[Segment]:
        """The segment centres, as NEURON's ``for seg in sec``."""
        n = self.nseg
        for j in range(n):
            yield Segment(self, (j + 0.5) / n)

    def connect(self, parent: Union[Segment, "Section"], x: float = 1.0) -> "Section":
        """Attach this section's 0 end to ``parent(x)``: ``dend.connect(soma(1))`` or ``dend.connect(soma, 1)``."""
        if isinstance(parent, Section):
            parent = parent(x)
        if not isinstance(parent, Segment):
            raise ModelError(f"section '{self.name}': connect() takes a location such as soma(1), got {parent!r}")
        if parent.section.model is not self.model:
            raise ModelError(f"section '{self.name}': cannot connect to '{parent.section.name}' of another Model")
        self.model._core.connect(self.index, parent.section.index, parent.x)
        return self

    def disconnect(self) -> None:
        self.model._core.disconnect(self.index)

    @property
    def parent(self) -> Optional[Segment]:
        """Where this section's 0 end is attached, or None for a root section."""
        found = self.model._core.section_parent(self.index)
        if found is None:
            return None
        return Segment(self.model.sections[found[0]], found[1])

    def insert(self, mechanism: str, **parameters: float) -> "Section":
        """Insert a density mechanism ('hh' or 'pas') with optional parameters; returns the section."""
        self.model._core.insert(self.index, mechanism)
        for key, value in parameters.items():
            setattr(Mechanism(self, mechanism), key, value)
        return self

    def uninsert(self, mechanism: str) -> "Section":
        self.model._core.uninsert(self.index, mechanism)
        return self

    def has_mechanism(self, mechanism: str) -> bool:
        return self.model._core.has_mechanism(self.index, mechanism)

    @property
    def mechanisms(self) -> list[str]:
        return [name for name in MECHANISMS if self.has_mechanism(name)]

    @property
    def hh(self) -> Mechanism:
        return self._mechanism("hh")

    @property
    def pas(self) -> Mechanism:
        return self._mechanism("pas")

    def _mechanism(self, name: str) -> Mechanism:
        if not self.has_mechanism(name):
            raise ModelError(f"section '{self.name}': mechanism '{name}' is not inserted; call insert('{name}') first")
        return Mechanism(self, name)

    def __repr__(self) -> str:
        return self.name


class _PointProcess:
    _kind = ""
    _setter = ""
    _getter = ""
    _parameters: tuple[str, ...] = ()

    def __init__(self, model: "Model", index: int, where: Optional[Segment]) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "segment", where)

    def __getattr__(self, parameter: str) -> float:
        if parameter.startswith("_") or parameter not in self._parameters:
            raise AttributeError(f"{self._kind} has no parameter '{parameter}' (known: {', '.join(self._parameters)})")
        return getattr(self.model._core, self._getter)(self.index, parameter)

    def __setattr__(self, parameter: str, value: float) -> None:
        if parameter not in self._parameters:
            raise AttributeError(f"{self._kind} has no parameter '{parameter}' (known: {', '.join(self._parameters)})")
        number = as_number(value, parameter, self._where())
        getattr(self.model._core, self._setter)(self.index, parameter, number)

    def _where(self) -> str:
        """How the core's messages name this: ``NetStim 0``, ``NetCon 2``; ``IClamp at soma(0.5)``."""
        return f"{self._kind} {self.index}"

    def _set_all(self, parameters: dict[str, Optional[float]]) -> None:
        for key, value in parameters.items():
            if value is not None:
                setattr(self, key, value)

    def __repr__(self) -> str:
        where = f" at {self.segment}" if self.segment is not None else ""
        values = ", ".join(f"{p}={getattr(self, p):g}" for p in self._parameters)
        return f"<{self._kind}{where} {values}>"


class IClamp(_PointProcess):
    """Current clamp: ``amp`` [nA] into the cell for ``delay <= t < delay + dur`` [ms]."""

    _kind, _setter, _getter = "IClamp", "set_current_clamp_parameter", "current_clamp_parameter"
    _parameters = ("delay", "dur", "amp")

    def _where(self) -> str:
        return f"IClamp at {self.segment}"


class ExpSyn(_PointProcess):
    """Exponential synapse: i = g (v - e), g [uS] decays with ``tau`` [ms] and jumps by each event's weight."""

    _kind, _setter, _getter = "ExpSyn", "set_exp_synapse_parameter", "exp_synapse_parameter"
    _parameters = ("tau", "e")

    def _where(self) -> str:
        return f"ExpSyn at {self.segment}"


class NetStim(_PointProcess):
    """Event generator: ``number`` events at ``start``, ``start + interval``, ... [ms]."""

    _kind, _setter, _getter = "NetStim", "set_spike_generator_parameter", "spike_generator_parameter"
    _parameters = ("start", "number", "interval")


class NetCon(_PointProcess):
    """Connection from a voltage threshold (a location) or a NetStim to an ExpSyn (or to nothing, to record)."""

    _kind, _setter, _getter = "NetCon", "set_connection_parameter", "connection_parameter"
    _parameters = ("threshold", "delay", "weight")

    @property
    def spike_times(self) -> np.ndarray:
        """Times [ms] at which this NetCon's source fired in the last run."""
        return self.model._spike_times_of_connection(self.index)


class Trace:
    """Membrane potential [mV] recorded at a location, at t = 0 and after every step of a run."""

    def __init__(self, model: "Model", index: int, where: Segment) -> None:
        self.model = model
        self.index = index
        self.segment = where

    @property
    def values(self) -> np.ndarray:
        return self.model._simulation_or_error().voltage_trace(self.index)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        values = self.values
        return values if dtype is None else values.astype(dtype)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, item: object) -> object:
        return self.values[item]  # type: ignore[index]

    def __repr__(self) -> str:
        return f"<Trace of v at {self.segment}>"


@dataclass(frozen=True)
class Run:
    """What ``Model.run`` returns: the time points and the engine's state after the run."""

    t: np.ndarray
    spike_times: np.ndarray
    spike_sources: np.ndarray
    dt: float
    method: str
    engine: str
    threads: int = 1
    ranks: int = 1
    # The cells' spikes (ParallelContext.cell outputs) of every rank, as (gid, t [ms]) rows sorted by (t, gid);
    # empty when the model has no gids.
    cell_spikes: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))


class Model:
    """A network of cells built from sections. Build it, record, then ``run(tstop)``."""

    def __init__(self) -> None:
        self._core = _core.Model()
        self.sections: list[Section] = []
        self.netcons: list[NetCon] = []
        self._simulation: Optional[Union[_core.Simulation, "_core.CoreNeuronSimulation"]] = None

    # --- construction -------------------------------------------------------------------------
    def Section(  # noqa: N802 - NEURON's name
        self,
        name: str,
        *,
        L: Optional[float] = None,  # noqa: N803
        diam: Optional[float] = None,
        nseg: Optional[int] = None,
        Ra: Optional[float] = None,  # noqa: N803
        cm: Optional[float] = None,
    ) -> Section:
        """A new section with NEURON's defaults (L 100 um, diam 500 um, nseg 1, Ra 35.4 ohm cm, cm 1 uF/cm2)."""
        if any(s.name == name for s in self.sections):
            raise ModelError(f"a section named '{name}' already exists; section names must be unique")
        section = Section(self, self._core.add_section(name))
        for key, value in (("L", L), ("diam", diam), ("nseg", nseg), ("Ra", Ra), ("cm", cm)):
            if value is not None:
                setattr(section, key, value)
        self.sections.append(section)
        return section

    def section(self, name: str) -> Section:
        """The section called ``name``."""
        for s in self.sections:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sections) or "none yet"
        raise ModelError(f"no section named '{name}' (sections: {known})")

    def _own(self, where: Segment, what: str) -> Segment:
        if not isinstance(where, Segment):
            raise ModelError(f"{what} needs a location such as soma(0.5), got {where!r}")
        if where.section.model is not self:
            raise ModelError(f"{what}: location {where} belongs to another Model")
        return where

    def IClamp(  # noqa: N802
        self, where: Segment, *, delay: float = 0.0, dur: float = 0.0, amp: float = 0.0
    ) -> IClamp:
        self._own(where, "IClamp")
        clamp = IClamp(self, self._core.add_current_clamp(where.section.index, where.x), where)
        clamp._set_all({"delay": delay, "dur": dur, "amp": amp})
        return clamp

    def ExpSyn(self, where: Segment, *, tau: float = 0.1, e: float = 0.0) -> ExpSyn:  # noqa: N802
        self._own(where, "ExpSyn")
        synapse = ExpSyn(self, self._core.add_exp_synapse(where.section.index, where.x), where)
        synapse._set_all({"tau": tau, "e": e})
        return synapse

    def NetStim(  # noqa: N802
        self, *, start: float = 50.0, number: float = 10.0, interval: float = 10.0
    ) -> NetStim:
        stim = NetStim(self, self._core.add_spike_generator(), None)
        stim._set_all({"start": start, "number": number, "interval": interval})
        return stim

    def NetCon(  # noqa: N802
        self,
        source: Union[Segment, NetStim],
        target: Optional[ExpSyn] = None,
        *,
        threshold: float = 10.0,
        delay: float = 1.0,
        weight: float = 0.0,
    ) -> NetCon:
        """Connect a voltage threshold at ``source`` (a location) or a NetStim to ``target`` (or to None)."""
        if target is not None and not (isinstance(target, ExpSyn) and target.model is self):
            raise ModelError(f"NetCon target must be an ExpSyn of this Model or None, got {target!r}")
        target_index = None if target is None else target.index
        if isinstance(source, NetStim):
            if source.model is not self:
                raise ModelError("NetCon source NetStim belongs to another Model")
            index = self._core.add_connection_from_generator(source.index, target_index)
            where = None
        else:
            where = self._own(source, "NetCon source")
            index = self._core.add_connection_from_voltage(where.section.index, where.x, target_index)
        netcon = NetCon(self, index, where)
        netcon._set_all({"threshold": threshold, "delay": delay, "weight": weight})
        self.netcons.append(netcon)
        return netcon

    def record(self, where: Segment) -> Trace:
        """Record v at a location at t = 0 and after every step; read it as a NumPy array after a run."""
        self._own(where, "record")
        return Trace(self, self._core.add_voltage_probe(where.section.index, where.x), where)

    # --- running ----------------------------------------------------------------------------------
    def run(
        self,
        tstop: float,
        *,
        dt: float = 0.025,
        v_init: float = -65.0,
        celsius: float = 6.3,
        method: str = "backward-euler",
        engine: str = "default",
        threads: Optional[int] = None,
        use_rate_table: bool = True,
        pc: Optional["ParallelContext"] = None,
    ) -> Run:
        """Initialise (NEURON's finitialize) and integrate to ``tstop`` [ms] with fixed steps of ``dt`` [ms].

        ``engine``: ``"default"`` (serial) or ``"coreneuron"`` (cells interleaved for a vectorised solver, on
        OpenMP threads; only in builds that have it, see :func:`build_info`). Both give the same results.
        ``threads``: for the coreneuron engine, the threads to run on; None means OpenMP's default
        (``OMP_NUM_THREADS`` if set, else one per core). The default engine runs on one thread.
        ``pc``: a :class:`~cablesim.ParallelContext` whose ranks each run their part of a network with gids
        (collective: every rank calls it with the same settings); a model with gids but no ``pc`` runs as one rank.

        Limits (docs/model-format.md, "Limits of a run"): t and every recorded trace hold one 8-byte point per step.
        A run of more than 2^40 steps, or whose recording is larger than the machine's memory, is refused before
        it starts with a ModelError that gives the steps and bytes; one above 1 GiB (``LARGE_RECORDING_BYTES``)
        warns with a :class:`LargeRecordingWarning`. Ctrl-C stops a run (not yet a distributed one) after a whole step.
        """
        if method not in METHODS:
            raise ModelError(f"unknown method '{method}' (known: {', '.join(METHODS)})")
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise ModelError(f"threads must be a whole number >= 1, got {threads!r}")
        if engine not in ENGINES:
            if engine == "coreneuron":
                raise ModelError(NO_CORENEURON)
            raise ModelError(f"unknown engine '{engine}' (available in this build: {', '.join(ENGINES)})")
        if engine == "default" and threads is not None and threads != 1:
            raise ModelError(
                f"the default engine runs on one thread, got threads={threads}; use engine='coreneuron' for threads"
            )
        if not self.sections:
            raise ModelError("the model has no sections; add one with Model.Section(name) before run()")
        for key, value in (("tstop", tstop), ("dt", dt), ("v_init", v_init), ("celsius", celsius)):
            if not math.isfinite(as_number(value, key)):
                raise ModelError(f"{key} must be a finite number, got {value!r}")
        if tstop < 0:
            raise ModelError(f"tstop must be >= 0 ms, got {tstop!r}")
        if dt > 0:  # else the engine refuses dt itself
            self._warn_if_large(float(tstop), float(dt))
        settings = {"dt": float(dt), "celsius": float(celsius), "secondorder": METHODS[method]}
        if pc is not None or self._core.distributed:
            if engine != "default":
                raise ModelError(
                    f"engine '{engine}' cannot run a model with gids (ParallelContext.cell / gid_connect) yet; "
                    "use engine='default'"
                )
            simulation = _core.Simulation(self._core, **settings, use_rate_table=use_rate_table)
            done = _core.run_distributed(simulation, float(v_init), float(tstop), mpi=pc is not None and pc.mpi)
            self._simulation = simulation
            cells = np.column_stack([done["gids"].astype(float), done["times"]]).reshape(-1, 2)
            if pc is not None:
                pc._spikes = cells
            times, sources = simulation.spikes()
            ranks = 1 if pc is None else pc.size
            return Run(simulation.time_trace(), times, sources, float(dt), method, engine, 1, ranks, cells)
        simulation: Union[_core.Simulation, "_core.CoreNeuronSimulation"]
        if engine == "coreneuron":
            simulation = _core.CoreNeuronSimulation(
                self._core, **settings, use_rate_table=use_rate_table, threads=threads
            )
            used_threads = simulation.threads
        else:
            simulation = _core.Simulation(self._core, **settings, use_rate_table=use_rate_table)
            used_threads = 1
        simulation.finitialize(float(v_init))
        simulation.run(float(tstop))
        self._simulation = simulation
        times, sources = simulation.spikes()
        return Run(simulation.time_trace(), times, sources, float(dt), method, engine, used_threads)

    def _warn_if_large(self, tstop: float, dt: float) -> None:
        # The engines refuse a run too long or too large for this machine (with the same numbers, on every rank
        # of a distributed run alike); a run that fits but is large is worth a word before it starts.
        size = _core.run_size(tstop, dt, self._core.voltage_probe_count)
        if size["refusal"] is None and size["bytes"] > LARGE_RECORDING_BYTES:
            warnings.warn(
                f"large recording: {size['summary']}, above {LARGE_RECORDING_BYTES / 2**30:g} GiB; "
                "record fewer locations, use a larger dt or a shorter tstop if that is not meant",
                LargeRecordingWarning,
                stacklevel=3,
            )

    @property
    def t(self) -> np.ndarray:
        """The time points [ms] of the last run (t = 0 and after every step)."""
        return self._simulation_or_error().time_trace()

    def _simulation_or_error(self) -> Union["_core.Simulation", "_core.CoreNeuronSimulation"]:
        if self._simulation is None:
            raise ModelError("no results yet: call Model.run(tstop) first")
        return self._simulation

    def _spike_times_of_connection(self, connection: int) -> np.ndarray:
        simulation = self._simulation_or_error()
        times, sources = simulation.spikes()
        return times[sources == simulation.source_of_connection(connection)]

    def __repr__(self) -> str:
        return f"<cablesim.Model sections={len(self.sections)} netcons={len(self.netcons)}>"
