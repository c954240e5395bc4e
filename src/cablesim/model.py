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
from typing import TYPE_CHECKING, Any, Iterator, Optional, Union, cast

import numpy as np

from . import _core
from ._core import ModelError

if TYPE_CHECKING:
    from .parallel import ParallelContext

__all__ = [
    "ExpSyn",
    "IClamp",
    "Reference",
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


# Range variables by NEURON's name: the variables a location records, and the parameters a mechanism has.
RANGE_VARIABLES = ("v", "ina", "ik", "ena", "ek", "m_hh", "h_hh", "n_hh", "gna_hh", "gk_hh", "il_hh", "i_pas")
PARAMETERS = {"hh": ("gnabar", "gkbar", "gl", "el", "ena", "ek"), "pas": ("g", "e")}
# Of those, the ones that live on the segment (on the ions, in NEURON), not on a mechanism.
ION_PARAMETERS = ("ena", "ek")


def _split_suffix(name: str) -> Optional[tuple[str, str]]:
    """``gnabar_hh`` -> ("hh", "gnabar"); None when ``name`` is not a mechanism parameter by NEURON's suffix name."""
    parameter, _, mechanism = name.rpartition("_")
    if mechanism in PARAMETERS and parameter in PARAMETERS[mechanism]:
        return mechanism, parameter
    return None


@dataclass(frozen=True)
class Reference:
    """What NEURON's ``_ref_`` attributes give: a variable of a location or a point process, for
    :meth:`Model.record` (``model.record(soma(0.5)._ref_m_hh, 0.1)``)."""

    owner: Union["Segment", "IClamp", "ExpSyn"]
    variable: str  # NEURON's name: "v", "m_hh", "ina"; "i", "g" for point processes

    def __repr__(self) -> str:
        return f"{self.owner!r}._ref_{self.variable}"


class Segment:
    """A location ``sec(x)`` on a section (x in [0, 1]). Range variables as NEURON names them: ``seg.v``,
    ``seg.area()``, ``seg.ena``, ``seg.hh.gnabar`` (or ``seg.gnabar_hh``), and ``seg._ref_m_hh`` to record one."""

    __slots__ = ("section", "x")
    section: "Section"
    x: float

    def __init__(self, section: "Section", x: float) -> None:
        object.__setattr__(self, "section", section)
        object.__setattr__(self, "x", _require_x(section, x))

    @property
    def v(self) -> float:
        """Membrane potential [mV] here at the end of the last run."""
        return float(self.section.model._simulation_or_error().voltage_at(self.section.index, self.x))

    def area(self) -> float:
        """The membrane area of this segment [um2] (NEURON's ``seg.area()``): 0 at the section's 0 and 1 ends."""
        if self.x in (0.0, 1.0):
            return 0.0
        return float(self.section.model._core.segment_area(self.section.index))

    @property
    def hh(self) -> "Mechanism":
        return self.section._mechanism("hh", self)

    @property
    def pas(self) -> "Mechanism":
        return self.section._mechanism("pas", self)

    @property
    def ena(self) -> float:
        """Sodium reversal potential [mV] here (where hh is inserted)."""
        return self._parameter("hh", "ena")

    @ena.setter
    def ena(self, value: float) -> None:
        self._set_parameter("hh", "ena", value)

    @property
    def ek(self) -> float:
        """Potassium reversal potential [mV] here (where hh is inserted)."""
        return self._parameter("hh", "ek")

    @ek.setter
    def ek(self, value: float) -> None:
        self._set_parameter("hh", "ek", value)

    def _parameter(self, mechanism: str, parameter: str) -> float:
        s = self.section
        return float(s.model._core.segment_parameter(s.index, self.x, mechanism, parameter))

    def _set_parameter(self, mechanism: str, parameter: str, value: object) -> None:
        s = self.section
        number = as_number(value, parameter, f"{self} {mechanism}")
        s.model._core.set_segment_parameter(s.index, self.x, mechanism, parameter, number)

    def __getattr__(self, name: str) -> object:
        if name.startswith("_ref_"):
            variable = name[len("_ref_") :]
            if variable not in RANGE_VARIABLES:
                raise AttributeError(
                    f"{self} has no range variable '{variable}' to record (known: {', '.join(RANGE_VARIABLES)})"
                )
            return Reference(self, variable)
        found = _split_suffix(name)
        if found is None:
            raise AttributeError(f"'Segment' object has no attribute '{name}'")
        return self._parameter(*found)

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)
            return
        found = _split_suffix(name)
        if found is None:
            raise AttributeError(f"'Segment' object has no attribute '{name}' (parameters: gnabar_hh, g_pas, ena, ...)")
        self._set_parameter(*found, value)

    def __repr__(self) -> str:
        return f"{self.section.name}({self.x:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and other.section is self.section and other.x == self.x

    def __hash__(self) -> int:
        return hash((id(self.section), self.x))


class Mechanism:
    """Parameters of a density mechanism on a section (``soma.hh.gnabar = 0.2``: every segment) or on one segment
    (``soma(0.5).hh.gnabar = 0.2``); on a segment, ``seg.hh._ref_m`` is the gate to record."""

    __slots__ = ("_section", "_name", "_segment")
    _section: "Section"
    _name: str
    _segment: Optional[Segment]

    def __init__(self, section: "Section", name: str, segment: Optional[Segment] = None) -> None:
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_segment", segment)

    def __getattr__(self, parameter: str) -> object:
        if parameter.startswith("_ref_") and self._segment is not None:
            return getattr(self._segment, f"{parameter}_{self._name}")
        if parameter.startswith("_"):
            raise AttributeError(parameter)
        if self._segment is not None:
            return self._segment._parameter(self._name, parameter)
        s = self._section
        return s.model._core.mechanism_parameter(s.index, self._name, parameter)

    def __setattr__(self, parameter: str, value: float) -> None:
        if self._segment is not None:
            self._segment._set_parameter(self._name, parameter, value)
            return
        s = self._section
        number = as_number(value, parameter, f"section '{s.name}' {self._name}")
        s.model._core.set_mechanism_parameter(s.index, self._name, parameter, number)

    def __repr__(self) -> str:
        where = self._segment if self._segment is not None else self._section.name
        return f"<{self._name} in {where}>"


class Section:
    """An unbranched cable: L [um], diam [um], nseg, Ra [ohm cm], cm [uF/cm2] (NEURON's defaults).
    ``for seg in sec`` iterates its segments; ``sec.gnabar_hh = x`` sets a parameter in all of them."""

    model: "Model"
    index: int

    def __init__(self, model: "Model", index: int) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "index", index)

    def __getattr__(self, name: str) -> float:
        found = _split_suffix(name)
        if found is None:
            raise AttributeError(f"'Section' object has no attribute '{name}'")
        return float(self.model._core.mechanism_parameter(self.index, *found))

    def __setattr__(self, name: str, value: object) -> None:
        found = _split_suffix(name)
        if found is None:
            object.__setattr__(self, name, value)
            return
        mechanism, parameter = found
        number = as_number(value, parameter, f"section '{self.name}' {mechanism}")
        self.model._core.set_mechanism_parameter(self.index, mechanism, parameter, number)

    @property
    def name(self) -> str:
        return str(self.model._core.section_name(self.index))

    def _geometry(self, key: str) -> float:
        return float(self.model._core.section_geometry(self.index)[key])

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
        self.model._core.set_nseg(self.index, _whole_nseg(value, f"section '{self.name}'"))

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

    def __iter__(self) -> Iterator[Segment]:
        return self.segments()

    @property
    def ena(self) -> float:
        """Sodium reversal potential [mV] (where hh is inserted): set in every segment, read at x = 0.5."""
        return float(self.model._core.mechanism_parameter(self.index, "hh", "ena"))

    @ena.setter
    def ena(self, value: float) -> None:
        number = as_number(value, "ena", f"section '{self.name}' hh")
        self.model._core.set_mechanism_parameter(self.index, "hh", "ena", number)

    @property
    def ek(self) -> float:
        """Potassium reversal potential [mV] (where hh is inserted): set in every segment, read at x = 0.5."""
        return float(self.model._core.mechanism_parameter(self.index, "hh", "ek"))

    @ek.setter
    def ek(self, value: float) -> None:
        number = as_number(value, "ek", f"section '{self.name}' hh")
        self.model._core.set_mechanism_parameter(self.index, "hh", "ek", number)

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
        return bool(self.model._core.has_mechanism(self.index, mechanism))

    @property
    def mechanisms(self) -> list[str]:
        return [name for name in MECHANISMS if self.has_mechanism(name)]

    @property
    def hh(self) -> Mechanism:
        return self._mechanism("hh")

    @property
    def pas(self) -> Mechanism:
        return self._mechanism("pas")

    def _mechanism(self, name: str, segment: Optional[Segment] = None) -> Mechanism:
        if not self.has_mechanism(name):
            raise ModelError(f"section '{self.name}': mechanism '{name}' is not inserted; call insert('{name}') first")
        return Mechanism(self, name, segment)

    def __repr__(self) -> str:
        return self.name


class _PointProcess:
    model: "Model"
    index: int
    segment: Optional[Segment]  # None for a NetStim, and a NetCon from one
    _kind = ""
    _setter = ""
    _getter = ""
    _parameters: tuple[str, ...] = ()
    _variables: tuple[str, ...] = ()  # what _ref_<name> can record

    def __init__(self, model: "Model", index: int, where: Optional[Segment]) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "segment", where)

    def __getattr__(self, parameter: str) -> object:
        if parameter.startswith("_ref_"):
            variable = parameter[len("_ref_") :]
            if variable not in self._variables:
                known = ", ".join(self._variables) or "none"
                raise AttributeError(f"{self._kind} has no variable '{variable}' to record (known: {known})")
            return Reference(self, variable)  # type: ignore[arg-type]
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
    """Current clamp: ``amp`` [nA] into the cell for ``delay <= t < delay + dur`` [ms]. ``_ref_i`` records it."""

    _kind, _setter, _getter = "IClamp", "set_current_clamp_parameter", "current_clamp_parameter"
    _parameters = ("delay", "dur", "amp")
    _variables = ("i",)

    def _where(self) -> str:
        return f"IClamp at {self.segment}"


class ExpSyn(_PointProcess):
    """Exponential synapse: i = g (v - e), g [uS] decays with ``tau`` [ms] and jumps by each event's weight.
    ``_ref_g`` and ``_ref_i`` record them."""

    _kind, _setter, _getter = "ExpSyn", "set_exp_synapse_parameter", "exp_synapse_parameter"
    _parameters = ("tau", "e")
    _variables = ("g", "i")

    def _where(self) -> str:
        return f"ExpSyn at {self.segment}"


class NetStim(_PointProcess):
    """Event generator: ``number`` events at ``start``, ``start + interval``, ... [ms]."""

    _kind, _setter, _getter = "NetStim", "set_spike_generator_parameter", "spike_generator_parameter"
    _parameters = ("start", "number", "interval")


class NetCon(_PointProcess):
    """Connection from a voltage threshold (a location) or a NetStim to an ExpSyn or a NetStim (or to nothing, to
    detect spikes). A NetStim target starts its sequence on an event of positive weight and stops on a negative one."""

    _kind, _setter, _getter = "NetCon", "set_connection_parameter", "connection_parameter"
    _parameters = ("threshold", "delay", "weight")

    @property
    def spike_times(self) -> np.ndarray:
        """Times [ms] at which this NetCon's source fired since the last finitialize (step ends, see docs/api.md)."""
        return self.model._spike_times_of_connection(self.index)

    def record(self, times: list[float], ids: Optional[list[float]] = None, id: float = 0) -> None:  # noqa: A002
        """NEURON's ``nc.record(tvec[, idvec, id])``: fill the list ``times`` with the times [ms] at which this
        NetCon's source fires (emptied at finitialize, extended as the run goes on); with ``ids``, add ``id`` to it
        for each spike. Lists shared by several NetCons get their spikes in the order they happened."""
        if not isinstance(times, list) or (ids is not None and not isinstance(ids, list)):
            raise ModelError(f"NetCon {self.index}: record() takes lists to fill, got {type(times).__name__}")
        self.model._spike_records.append(_SpikeRecord(self, times, ids, as_number(id, "id", f"NetCon {self.index}")))
        self.model._fill_spike_records()


@dataclass(frozen=True)
class _SpikeRecord:
    netcon: NetCon
    times: list[float]
    ids: Optional[list[float]]
    id: float


class Trace:
    """A variable recorded at t = 0 and after every step of a run, or every ``dt`` ms (NEURON's Vector.record(ref,
    Dt)): ``values`` at the times ``t`` (NumPy arrays)."""

    def __init__(self, model: "Model", index: int, what: Reference, dt: Optional[float]) -> None:
        self.model = model
        self.index = index
        self.variable = what.variable
        self.owner = what.owner
        self.dt = dt  # [ms]; None: every step
        self.segment = what.owner if isinstance(what.owner, Segment) else what.owner.segment

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self.model._simulation_or_error().trace(self.index))

    @property
    def t(self) -> np.ndarray:
        """The sample times [ms]: the run's time points, or ``0, dt, 2 dt, ...`` (summed as NEURON sums them)."""
        return np.asarray(self.model._simulation_or_error().trace_times(self.index))

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        values = self.values
        return values if dtype is None else values.astype(cast(Any, dtype))

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, item: object) -> object:
        return cast(Any, self.values)[item]

    def __repr__(self) -> str:
        every = "every step" if self.dt is None else f"every {self.dt:g} ms"
        return f"<Trace of {self.variable} at {self.owner!r} {every}>"


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


Engine = Union["_core.Simulation", "_core.CoreNeuronSimulation"]
# The classes by other names, for the annotations inside Model, whose methods of the same names hide them.
_SectionClass = Section
_ExpSynClass = ExpSyn
_NetStimClass = NetStim


@dataclass(frozen=True)
class _Settings:
    """What finitialize builds an engine with."""

    dt: float
    celsius: float
    method: str
    engine: str
    threads: Optional[int]
    use_rate_table: bool


class Model:
    """A network of cells built from sections. Build it, record, then ``run(tstop)``; or ``finitialize()`` and
    ``continuerun(tstop)`` as often as wanted, changing parameters in between."""

    def __init__(self) -> None:
        self._core = _core.Model()
        self.sections: list[Section] = []
        self.netcons: list[NetCon] = []
        self._simulation: Optional[Engine] = None
        self._settings: Optional[_Settings] = None
        self._revision = -1  # the model revision the engine has the parameters of
        self._spike_records: list[_SpikeRecord] = []

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
    ) -> _SectionClass:
        """A new section with NEURON's defaults (L 100 um, diam 500 um, nseg 1, Ra 35.4 ohm cm, cm 1 uF/cm2).
        Every value is checked before the section exists: a ModelError leaves the model as it was."""
        if any(s.name == name for s in self.sections):
            raise ModelError(f"a section named '{name}' already exists; section names must be unique")
        where = f"section '{name}'"
        numbers = {
            key: as_number(value, key, where)
            for key, value in (("L", L), ("diam", diam), ("Ra", Ra), ("cm", cm))
            if value is not None
        }
        count = None if nseg is None else _whole_nseg(nseg, where)
        section = Section(self, self._core.add_section(name, nseg=count, **numbers))
        self.sections.append(section)
        return section

    def section(self, name: str) -> _SectionClass:
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
        self, where: Segment, delay: float = 0.0, dur: float = 0.0, amp: float = 0.0
    ) -> IClamp:
        """A current clamp at ``where``: ``IClamp(soma(0.5), 5, 1, 0.1)`` or with keywords."""
        self._own(where, "IClamp")
        clamp = IClamp(self, self._core.add_current_clamp(where.section.index, where.x), where)
        clamp._set_all({"delay": delay, "dur": dur, "amp": amp})
        return clamp

    def ExpSyn(self, where: Segment, tau: float = 0.1, e: float = 0.0) -> _ExpSynClass:  # noqa: N802
        """An exponential synapse at ``where``: ``ExpSyn(dend(0.5), 2, 0)`` or with keywords."""
        self._own(where, "ExpSyn")
        synapse = ExpSyn(self, self._core.add_exp_synapse(where.section.index, where.x), where)
        synapse._set_all({"tau": tau, "e": e})
        return synapse

    def NetStim(  # noqa: N802
        self, start: float = 50.0, number: float = 10.0, interval: float = 10.0
    ) -> _NetStimClass:
        """An event generator: ``NetStim(9, 1, 10)`` or with keywords."""
        stim = NetStim(self, self._core.add_spike_generator(), None)
        stim._set_all({"start": start, "number": number, "interval": interval})
        return stim

    def set_gid_output(self, gid: int, netcon: NetCon) -> None:
        """Make ``netcon``'s source the output of cell ``gid`` (what ParallelContext.cell does)."""
        self._core.set_output_gid(gid, netcon.index)

    def gid_connection(self, source_gid: int, target: _ExpSynClass, *, weight: float, delay: float) -> NetCon:
        """A NetCon from cell ``source_gid``, on any rank, to ``target`` (what ParallelContext.gid_connect does)."""
        netcon = NetCon(self, self._core.add_connection_from_gid(source_gid, target.index), None)
        netcon._set_all({"weight": weight, "delay": delay})
        self.netcons.append(netcon)
        return netcon

    def NetCon(  # noqa: N802
        self,
        source: Union[Segment, _NetStimClass],
        target: Union[_ExpSynClass, _NetStimClass, None] = None,
        threshold: float = 10.0,
        delay: float = 1.0,
        weight: float = 0.0,
    ) -> NetCon:
        """Connect a voltage threshold at ``source`` (a location) or a NetStim to ``target`` (an ExpSyn, a NetStim,
        or None to detect spikes only), as NEURON's ``NetCon(source, target, threshold, delay, weight)``."""
        if target is not None and not (isinstance(target, (ExpSyn, NetStim)) and target.model is self):
            raise ModelError(f"NetCon target must be an ExpSyn or a NetStim of this Model, or None, got {target!r}")
        kind = "" if target is None else target._kind
        target_index = 0 if target is None else target.index
        if isinstance(source, NetStim):
            if source.model is not self:
                raise ModelError("NetCon source NetStim belongs to another Model")
            index = self._core.add_connection(source.index, 0, 0.0, kind, target_index)
            where = None
        else:
            where = self._own(source, "NetCon source")
            index = self._core.add_connection(None, where.section.index, where.x, kind, target_index)
        netcon = NetCon(self, index, where)
        netcon._set_all({"threshold": threshold, "delay": delay, "weight": weight})
        self.netcons.append(netcon)
        return netcon

    def record(self, what: Union[Segment, Reference], dt: Optional[float] = None) -> Trace:
        """Record a variable, as NEURON's ``Vector().record(ref[, Dt])``: ``record(soma(0.5))`` (v),
        ``record(soma(0.5)._ref_m_hh, 0.1)``, ``record(soma(0.5).hh._ref_m)``, ``record(soma(0.5)._ref_ina)``,
        ``record(stim._ref_i)``, ``record(syn._ref_g)``. Without ``dt``, at t = 0 and after every step; with it,
        every ``dt`` ms from t = 0, each sample the value at the end of the step whose time is nearest (docs/api.md).
        Read it after a run: ``trace.values`` at ``trace.t``."""
        reference = what if isinstance(what, Reference) else Reference(self._own(what, "record"), "v")
        interval = 0.0
        if dt is not None:
            interval = as_number(dt, "dt", f"record {reference!r}")
            if not (interval > 0 and math.isfinite(interval)):
                raise ModelError(f"record {reference!r}: dt must be > 0 ms, got {dt!r}")
        owner = reference.owner
        if isinstance(owner, Segment):
            self._own(owner, "record")
            index = self._core.add_probe(owner.section.index, owner.x, reference.variable, interval)
        elif isinstance(owner, (IClamp, ExpSyn)) and owner.model is self:
            add = self._core.add_current_clamp_probe if isinstance(owner, IClamp) else self._core.add_exp_synapse_probe
            index = add(owner.index, reference.variable, interval)
        else:
            raise ModelError(
                f"record needs a location or a reference of this Model such as soma(0.5)._ref_v, got {what!r}"
            )
        return Trace(self, index, reference, None if dt is None else interval)

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
        """Initialise (NEURON's finitialize) and integrate to ``tstop`` [ms] with fixed steps of ``dt`` [ms], taking
        as many steps as NEURON's ``pc.psolve(tstop)``: (tstop / dt + 1e-9) rounded down (so a tstop half a step past
        the grid adds no step).

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
        settings = self._check_settings(dt, celsius, method, engine, threads, use_rate_table)
        for key, value in (("tstop", tstop), ("v_init", v_init)):
            if not math.isfinite(as_number(value, key)):
                raise ModelError(f"{key} must be a finite number, got {value!r}")
        if tstop < 0:
            raise ModelError(f"tstop must be >= 0 ms, got {tstop!r}")
        distributed = pc is not None or self._core.distributed
        if dt > 0:  # else the engine refuses dt itself
            # A distributed run is refused by every rank alike, inside the run; any other before it starts.
            self._check_size(float(tstop), float(dt), refuse=not distributed)
        if distributed:
            if engine != "default":
                raise ModelError(
                    f"engine '{engine}' cannot run a model with gids (ParallelContext.cell / gid_connect) yet; "
                    "use engine='default'"
                )
            simulation = self._build(settings)
            done = _core.run_distributed(simulation, float(v_init), float(tstop), mpi=pc is not None and pc.mpi)
            cells = np.column_stack([done["gids"].astype(float), done["times"]]).reshape(-1, 2)
            if pc is not None:
                pc.set_spikes(cells)
            self._fill_spike_records()
            times, sources = simulation.spikes()
            ranks = 1 if pc is None else pc.size
            return Run(simulation.time_trace(), times, sources, float(dt), method, engine, 1, ranks, cells)
        self.finitialize(
            v_init, dt=dt, celsius=celsius, method=method, engine=engine, threads=threads, use_rate_table=use_rate_table
        )
        return self._advance(float(tstop), continuing=False)

    def finitialize(
        self,
        v_init: float = -65.0,
        *,
        dt: float = 0.025,
        celsius: float = 6.3,
        method: str = "backward-euler",
        engine: str = "default",
        threads: Optional[int] = None,
        use_rate_table: bool = True,
    ) -> None:
        """NEURON's ``finitialize(v_init)``: t = 0, v = ``v_init`` [mV] everywhere, gates at steady state,
        recordings restarted; the settings (as :meth:`run`'s) hold until the next finitialize. Then
        :meth:`continuerun` or :meth:`fadvance`."""
        settings = self._check_settings(dt, celsius, method, engine, threads, use_rate_table)
        if not math.isfinite(as_number(v_init, "v_init")):
            raise ModelError(f"v_init must be a finite number, got {v_init!r}")
        if self._core.distributed:
            raise ModelError("a model with gids (ParallelContext.cell / gid_connect) runs with model.run(tstop, pc=pc)")
        simulation = self._build(settings)
        simulation.finitialize(float(v_init))
        self._fill_spike_records()

    def continuerun(self, tstop: float) -> Run:
        """NEURON's ``continuerun(tstop)``: go on from the current t to ``tstop`` [ms] (steps while
        t < tstop - dt/2, as stdrun.hoc), with the parameters the model has now (mechanisms, geometry, point processes,
        NetCons): change them between calls. Recordings go on where they were."""
        if not math.isfinite(as_number(tstop, "tstop")):
            raise ModelError(f"tstop must be a finite number, got {tstop!r}")
        simulation = self._simulation_to_continue("continuerun")
        self._check_size(float(tstop), simulation.dt, start=simulation.t)
        return self._advance(float(tstop), continuing=True)

    def fadvance(self) -> None:
        """NEURON's ``fadvance()``: one step of dt, with the parameters the model has now."""
        self._simulation_to_continue("fadvance").fadvance()
        self._fill_spike_records()

    @property
    def time(self) -> float:
        """The current time t [ms] (NEURON's ``h.t``); 0 after finitialize."""
        return float(self._simulation_or_error().t)

    def _check_settings(
        self, dt: float, celsius: float, method: str, engine: str, threads: Optional[int], use_rate_table: bool
    ) -> _Settings:
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
        for key, value in (("dt", dt), ("celsius", celsius)):
            if not math.isfinite(as_number(value, key)):
                raise ModelError(f"{key} must be a finite number, got {value!r}")
        return _Settings(float(dt), float(celsius), method, engine, threads, bool(use_rate_table))

    def _build(self, settings: _Settings) -> Engine:
        options = {"dt": settings.dt, "celsius": settings.celsius, "secondorder": METHODS[settings.method]}
        simulation: Engine
        if settings.engine == "coreneuron":
            simulation = _core.CoreNeuronSimulation(
                self._core, **options, use_rate_table=settings.use_rate_table, threads=settings.threads
            )
        else:
            simulation = _core.Simulation(self._core, **options, use_rate_table=settings.use_rate_table)
        self._simulation, self._settings, self._revision = simulation, settings, self._core.revision
        return simulation

    def _simulation_to_continue(self, what: str) -> Engine:
        if self._simulation is None:
            raise ModelError(f"{what}: call Model.finitialize(v_init) (or run) first")
        if self._core.revision != self._revision:
            self._simulation.update_parameters(self._core)
            self._revision = self._core.revision
        return self._simulation

    def _advance(self, tstop: float, *, continuing: bool) -> Run:
        simulation = self._simulation
        settings = self._settings
        assert simulation is not None and settings is not None
        try:
            if continuing:
                simulation.continuerun(tstop)
            else:
                simulation.run(tstop)
        finally:
            self._fill_spike_records()
        times, sources = simulation.spikes()
        threads = simulation.threads if settings.engine == "coreneuron" else 1
        return Run(simulation.time_trace(), times, sources, settings.dt, settings.method, settings.engine, threads)

    def _check_size(self, tstop: float, dt: float, *, start: float = 0.0, refuse: bool = True) -> None:
        # The engines refuse a run too long or too large for this machine (with the same numbers, on every rank
        # of a distributed run alike): refused here first, nothing is initialised or half run. A run that fits but
        # is large is worth a word before it starts.
        size = _core.run_size(tstop - start, dt, self._core.probe_intervals())
        if size["refusal"] is not None and refuse:
            raise ModelError(size["refusal"])
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
        return np.asarray(self._simulation_or_error().time_trace())

    def _simulation_or_error(self) -> Engine:
        if self._simulation is None:
            raise ModelError("no results yet: call Model.run(tstop) first")
        return self._simulation

    def _spike_times_of_connection(self, connection: int) -> np.ndarray:
        simulation = self._simulation_or_error()
        times, sources = simulation.spikes()
        return np.asarray(times[sources == simulation.source_of_connection(connection)])

    def _fill_spike_records(self) -> None:
        """Refill every list given to NetCon.record with the spikes since finitialize, in the order they happened."""
        if not self._spike_records or self._simulation is None:
            return
        times, sources = self._simulation.spikes()
        lists: dict[int, list[_SpikeRecord]] = {}
        for record in self._spike_records:
            lists.setdefault(id(record.times), []).append(record)
        for records in lists.values():
            watched = [(self._simulation.source_of_connection(r.netcon.index), r) for r in records]
            found = [
                (float(t), r)
                for t, source in zip(times, sources)
                for watched_source, r in watched
                if source == watched_source
            ]
            records[0].times[:] = [t for t, _ in found]
            for ids in {id(r.ids): r.ids for r in records if r.ids is not None}.values():
                ids[:] = [r.id for _, r in found if r.ids is ids]

    def __repr__(self) -> str:
        return f"<cablesim.Model sections={len(self.sections)} netcons={len(self.netcons)}>"


def _whole_nseg(value: object, where: str) -> int:
    """nseg as an int, or ModelError ``<where>: nseg must be a whole number >= 1, got 2.5``."""
    number = as_number(value, "nseg", where)
    if not isinstance(value, numbers.Integral) and not number.is_integer():
        raise ModelError(f"{where}: nseg must be a whole number >= 1, got {value!r}")
    count = int(value) if isinstance(value, numbers.Integral) else int(number)
    if not -(2**31) <= count < 2**31:
        raise ModelError(f"{where}: nseg must be in [1, 32767], got {value!r}")
    return count
