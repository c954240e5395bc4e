"""Build a :class:`~cablesim.Model` from the JSON model format described in docs/model-format.md.

>>> loaded = load_model({"sections": [{"name": "soma", "mechanisms": {"hh": {}}}], "run": {"tstop": 5}})
>>> loaded.model.section("soma").mechanisms
['hh']

Every problem with a document raises :class:`ModelFileError`, a ``ValueError`` whose message starts with
the JSON path of the offending value (``sections[1].diam: diam must be > 0 um, got -1``). Unknown keys are
errors, so a misspelt parameter never falls back to its default silently.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from .model import (
    METHODS,
    RANGE_VARIABLES,
    ExpSyn,
    IClamp,
    Mechanism,
    Model,
    ModelError,
    NetCon,
    NetStim,
    Reference,
    Section,
    Segment,
    Trace,
    as_number,
)
from .model import describe as _describe

__all__ = ["LoadedModel", "ModelFileError", "Outputs", "RunSettings", "load_model", "load_model_file"]

log = logging.getLogger(__name__)

TOP_LEVEL_KEYS = ("description", "sections", "iclamps", "synapses", "netstims", "netcons", "record", "run")
SECTION_KEYS = ("name", "L", "diam", "nseg", "Ra", "cm", "parent", "mechanisms")
ICLAMP_KEYS = ("name", "at", "delay", "dur", "amp")
SYNAPSE_KEYS = ("name", "type", "at", "tau", "e")
SYNAPSE_TYPES = ("ExpSyn",)
NETSTIM_KEYS = ("name", "start", "number", "interval")
NETCON_KEYS = ("source", "target", "name", "threshold", "delay", "weight")
RUN_KEYS = ("tstop", "dt", "v_init", "celsius", "method", "record_dt")

# sec(x): NEURON-style section names (soma, dend_1, cell[0].soma) and a plain decimal x.
_SECTION_NAME = re.compile(r"[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*\Z", re.ASCII)
_NAME = re.compile(r"[A-Za-z_]\w*\Z", re.ASCII)
_LOCATION = re.compile(r"\s*(?P<name>[^()\s]+)\s*\(\s*(?P<x>[^()]*?)\s*\)\s*\Z")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
# What to record: a location, a location's range variable ("soma(0.5).m_hh"), or a point process's ("syn.g").
_RECORDED_AT = re.compile(r"\s*(?P<at>[^()\s]+\s*\([^()]*\))\s*(\.\s*(?P<variable>\w+)\s*)?\Z")
_RECORDED_OF = re.compile(r"\s*(?P<name>[A-Za-z_]\w*)\s*\.\s*(?P<variable>\w+)\s*\Z", re.ASCII)
# The context the core puts in front of its messages; the JSON path replaces it.
_CORE_CONTEXT = re.compile(
    r"(section '[^']*'( mechanism '[^']*'| \w+)?|[^\s()]+\([^()]*\) \w+|record \w+ at \S+|IClamp at \S+|ExpSyn at \S+"
    r"|Net(Stim|Con) \d+): "
)


class ModelFileError(ValueError):
    """An invalid model document. ``where`` is the JSON path (or file name) the message starts with."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class RunSettings:
    """The ``run`` object: NEURON's tstop [ms], dt [ms], v_init [mV], celsius [degC] and the method."""

    tstop: float | None = None  # None: not in the file; the caller must supply one (cablesim-run --tstop)
    dt: float = 0.025
    v_init: float = -65.0
    celsius: float = 6.3
    method: str = "backward-euler"
    record_dt: float | None = None  # [ms] every record at this interval; None: at t = 0 and after every step


@dataclass(frozen=True)
class Outputs:
    """What the document asks to report, in file order: spike detectors by output name, traces by location."""

    spikes: Mapping[str, NetCon]  # the netcon's "name", or "netcons[i]"
    traces: Mapping[str, Trace]  # as written, without spaces: "soma(0.5)", "soma(0.5).m_hh", "syn.g"


class LoadedModel(NamedTuple):
    """What :func:`load_model` returns; unpacks as ``model, settings, outputs``."""

    model: Model
    run: RunSettings
    outputs: Outputs


# --- small validators; each takes the JSON path of the value it checks --------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _known(names: Sequence[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:10])
    return shown if len(names) <= 10 else f"{shown}, ... ({len(names) - 10} more)"


def _object(
    value: object, path: str, allowed: Sequence[str] | None = None, required: Sequence[str] = ()
) -> Mapping[str, Any]:
    """Check that ``value`` is an object with only ``allowed`` keys (None: any key) and all ``required`` ones."""
    if not isinstance(value, Mapping):
        raise ModelFileError(path or "(top level)", f"expected an object, got {_describe(value)}")
    for key in value:
        if allowed is not None and key not in allowed:
            hint = [k for k in allowed if str(key).lower() == k.lower()] or difflib.get_close_matches(
                str(key), allowed, n=1
            )
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            raise ModelFileError(
                _join(path, str(key)), f"unknown key '{key}'{suggestion} (allowed: {', '.join(allowed)})"
            )
    for key in required:
        if key not in value:
            raise ModelFileError(_join(path, key), "required key is missing")
    return value


def _array(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise ModelFileError(path, f"expected an array, got {_describe(value)}")
    return value


def _number(value: object, path: str, name: str) -> float:
    """``value`` (the key ``name`` at ``path``) checked as the Python API checks it: the same message."""
    try:
        number = as_number(value, name)
    except ModelError as error:
        raise ModelFileError(path, str(error)) from None
    if not math.isfinite(number):
        raise ModelFileError(path, f"expected a finite number, got {value!r}")
    return number


def _whole_number(value: object, path: str, name: str) -> int:
    number = _number(value, path, name)
    if not number.is_integer():
        raise ModelFileError(path, f"expected a whole number, got {value!r}")
    return int(number)


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ModelFileError(path, f"expected a string, got {_describe(value)}")
    return value


def _name(value: object, path: str, kind: str, taken: Mapping[str, object]) -> str:
    name = _string(value, path)
    if not _NAME.match(name):
        raise ModelFileError(path, f"{kind} name {name!r} must be letters, digits and _, not starting with a digit")
    if name in taken:
        raise ModelFileError(path, f"a {kind} named '{name}' already exists; {kind} names must be unique")
    return name


@contextmanager
def _core_errors(path: str) -> Iterator[None]:
    """Re-raise the core's ModelError as a ModelFileError at ``path`` (the path replaces the core's context)."""
    try:
        yield
    except ModelError as error:
        message = str(error)
        context = _CORE_CONTEXT.match(message)
        raise ModelFileError(path, message[context.end() :] if context else message) from None


# --- the document -----------------------------------------------------------------------------------------------


class _Builder:
    """Builds one Model from one document; holds the name tables that later parts refer to."""

    def __init__(self) -> None:
        self.model = Model()
        self.sections: dict[str, Section] = {}
        self.synapses: dict[str, ExpSyn] = {}
        self.netstims: dict[str, NetStim] = {}
        self.iclamps: dict[str, IClamp] = {}

    def location(self, value: object, path: str) -> Segment:
        """``"soma(0.5)"`` -> soma(0.5)."""
        if not isinstance(value, str):
            raise ModelFileError(path, f"expected a location such as 'soma(0.5)', got {_describe(value)}")
        found = _LOCATION.match(value)
        if not found:
            raise ModelFileError(path, f"bad location {value!r}: expected section(x) such as 'soma(0.5)'")
        name, x = found.group("name"), found.group("x")
        if not _DECIMAL.match(x):
            raise ModelFileError(path, f"bad location {value!r}: x must be a number in [0, 1]")
        if not 0.0 <= float(x) <= 1.0:
            raise ModelFileError(path, f"bad location {value!r}: x must be in [0, 1], got {x}")
        if name not in self.sections:
            raise ModelFileError(path, f"no section named '{name}' (sections: {_known(list(self.sections))})")
        return self.sections[name](float(x))

    def section(self, value: object, path: str) -> str | None:
        """Create one section with its geometry and mechanisms; return its parent location (connected later)."""
        spec = _object(value, path, SECTION_KEYS, required=("name",))
        name = _string(spec["name"], _join(path, "name"))
        if not _SECTION_NAME.match(name):
            raise ModelFileError(
                _join(path, "name"), f"section name {name!r} must look like soma, dend_1 or cell[0].soma"
            )
        with _core_errors(_join(path, "name")):
            section = self.model.Section(name)
        self.sections[name] = section
        for key in ("L", "diam", "Ra", "cm"):
            if key in spec:
                number = _number(spec[key], _join(path, key), key)
                with _core_errors(_join(path, key)):
                    setattr(section, key, number)
        if "nseg" in spec:
            nseg = _whole_number(spec["nseg"], _join(path, "nseg"), "nseg")
            with _core_errors(_join(path, "nseg")):
                section.nseg = nseg
        mechanisms_path = _join(path, "mechanisms")
        for mechanism, parameters in _object(spec.get("mechanisms", {}), mechanisms_path).items():
            mechanism_path = _join(mechanisms_path, mechanism)
            parameters = _object(parameters, mechanism_path)
            with _core_errors(mechanism_path):
                section.insert(mechanism)
            for parameter, given in parameters.items():
                parameter_path = _join(mechanism_path, parameter)
                if not isinstance(given, (list, tuple)):
                    number = _number(given, parameter_path, parameter)
                    with _core_errors(parameter_path):
                        setattr(Mechanism(section, mechanism), parameter, number)
                    continue
                # One value per segment, from x = 0 to 1 (nseg is set above).
                if len(given) != section.nseg:
                    raise ModelFileError(
                        parameter_path,
                        f"expected {section.nseg} values (one per segment, nseg = {section.nseg}), got {len(given)}",
                    )
                for k, (segment, item) in enumerate(zip(section.segments(), given)):
                    number = _number(item, _join(parameter_path, k), parameter)
                    with _core_errors(_join(parameter_path, k)):
                        setattr(Mechanism(section, mechanism, segment), parameter, number)
        parent = spec.get("parent")
        return None if parent is None else _string(parent, _join(path, "parent"))

    def connect(self, parents: Sequence[str | None]) -> None:
        """Attach each section to its parent, in file order, refusing loops with a message naming them."""
        attached: dict[int, int] = {}  # section index -> parent section index, for sections done so far
        for index, parent in enumerate(parents):
            if parent is None:
                continue
            path = _join(_join("sections", index), "parent")
            where = self.location(parent, path)
            chain = [index, where.section.index]
            while chain[-1] != index and chain[-1] in attached:
                chain.append(attached[chain[-1]])
            if chain[-1] == index:
                if len(chain) == 2:
                    name = self.model.sections[index].name
                    raise ModelFileError(path, f"section '{name}' cannot be its own parent")
                names = " -> ".join(self.model.sections[i].name for i in chain)
                raise ModelFileError(path, f"sections form a loop ({names}); the parents must lead to a root section")
            with _core_errors(path):
                self.model.sections[index].connect(where)
            attached[index] = where.section.index

    def iclamp(self, value: object, path: str) -> None:
        spec = _object(value, path, ICLAMP_KEYS, required=("at",))
        name = None if spec.get("name") is None else _name(spec["name"], _join(path, "name"), "iclamp", self.iclamps)
        where = self.location(spec["at"], _join(path, "at"))
        with _core_errors(_join(path, "at")):
            clamp = self.model.IClamp(where)
        for key in ("delay", "dur", "amp"):
            if key in spec:
                number = _number(spec[key], _join(path, key), key)
                with _core_errors(_join(path, key)):
                    setattr(clamp, key, number)
        if name is not None:
            self.iclamps[name] = clamp

    def synapse(self, value: object, path: str) -> None:
        spec = _object(value, path, SYNAPSE_KEYS, required=("name", "at"))
        name = _name(spec["name"], _join(path, "name"), "synapse", self.synapses)
        kind = _string(spec.get("type", "ExpSyn"), _join(path, "type"))
        if kind not in SYNAPSE_TYPES:
            raise ModelFileError(_join(path, "type"), f"unknown synapse type '{kind}' (known: {_known(SYNAPSE_TYPES)})")
        where = self.location(spec["at"], _join(path, "at"))
        with _core_errors(_join(path, "at")):
            synapse = self.model.ExpSyn(where)
        for key in ("tau", "e"):
            if key in spec:
                number = _number(spec[key], _join(path, key), key)
                with _core_errors(_join(path, key)):
                    setattr(synapse, key, number)
        self.synapses[name] = synapse

    def netstim(self, value: object, path: str) -> None:
        spec = _object(value, path, NETSTIM_KEYS, required=("name",))
        name = _name(spec["name"], _join(path, "name"), "netstim", self.netstims)
        with _core_errors(path):
            stim = self.model.NetStim()
        for key in ("start", "number", "interval"):
            if key in spec:
                number = _number(spec[key], _join(path, key), key)
                with _core_errors(_join(path, key)):
                    setattr(stim, key, number)
        self.netstims[name] = stim

    def netcon(self, value: object, path: str, index: int, named: dict[str, NetCon]) -> None:
        spec = _object(value, path, NETCON_KEYS, required=("source",))
        name = None if spec.get("name") is None else _name(spec["name"], _join(path, "name"), "netcon", named)
        source_path = _join(path, "source")
        source_text = _string(spec["source"], source_path)
        source: Segment | NetStim
        if _NAME.match(source_text):
            if source_text in self.sections and source_text not in self.netstims:
                raise ModelFileError(
                    source_path, f"'{source_text}' is a section; give a location such as '{source_text}(0.5)'"
                )
            if source_text not in self.netstims:
                raise ModelFileError(
                    source_path,
                    f"no netstim named '{source_text}' (netstims: {_known(list(self.netstims))}); "
                    "a source is a netstim name or a location such as 'soma(0.5)'",
                )
            source = self.netstims[source_text]
            if "threshold" in spec:
                raise ModelFileError(_join(path, "threshold"), "a threshold applies only to a location source")
        else:
            source = self.location(source_text, source_path)
        target: ExpSyn | NetStim | None = None
        if spec.get("target") is not None:
            target_path = _join(path, "target")
            target_name = _string(spec["target"], target_path)
            if target_name in self.synapses and target_name in self.netstims:
                raise ModelFileError(target_path, f"'{target_name}' names a synapse and a netstim; rename one of them")
            if target_name not in self.synapses and target_name not in self.netstims:
                raise ModelFileError(
                    target_path,
                    f"no synapse or netstim named '{target_name}' (synapses: {_known(list(self.synapses))}; "
                    f"netstims: {_known(list(self.netstims))})",
                )
            target = self.synapses.get(target_name) or self.netstims[target_name]
        with _core_errors(path):
            netcon = self.model.NetCon(source, target)
        for key in ("threshold", "delay", "weight"):
            if key in spec:
                number = _number(spec[key], _join(path, key), key)
                with _core_errors(_join(path, key)):
                    setattr(netcon, key, number)
        named[name if name is not None else f"netcons[{index}]"] = netcon

    def recorded(self, value: object, path: str) -> Reference:
        """``"soma(0.5)"`` (v), ``"soma(0.5).m_hh"``, ``"syn.g"``, ``"stim.i"`` -> what to record."""
        if not isinstance(value, str):
            raise ModelFileError(
                path, f"expected a location or a variable such as 'soma(0.5).m_hh', got {_describe(value)}"
            )
        at = _RECORDED_AT.match(value)
        if at:
            where = self.location(at.group("at"), path)
            variable = at.group("variable") or "v"
            if variable not in RANGE_VARIABLES:
                raise ModelFileError(
                    path, f"unknown variable '{variable}' in {value!r} (known: {', '.join(RANGE_VARIABLES)})"
                )
            return Reference(where, variable)
        of = _RECORDED_OF.match(value)
        if not of:
            raise ModelFileError(
                path, f"bad record {value!r}: expected a location such as 'soma(0.5)', 'soma(0.5).m_hh' or 'syn.g'"
            )
        name, variable = of.group("name"), of.group("variable")
        owner: ExpSyn | IClamp
        known: tuple[str, ...]
        if name in self.synapses:
            owner, known = self.synapses[name], ("g", "i")
        elif name in self.iclamps:
            owner, known = self.iclamps[name], ("i",)
        else:
            raise ModelFileError(
                path,
                f"no synapse or iclamp named '{name}' (synapses: {_known(list(self.synapses))}; "
                f"iclamps: {_known(list(self.iclamps))})",
            )
        if variable not in known:
            raise ModelFileError(
                path, f"{owner._kind} '{name}' has no variable '{variable}' (known: {', '.join(known)})"
            )
        return Reference(owner, variable)

    def record(self, value: object, path: str, traces: dict[str, Trace], dt: float | None) -> None:
        what = self.recorded(value, path)
        for key, trace in traces.items():
            if trace.owner == what.owner and trace.variable == what.variable:
                raise ModelFileError(path, f"{value} is already recorded (as {key})")
        with _core_errors(path):
            traces["".join(str(value).split())] = self.model.record(what, dt)


def _run_settings(value: object) -> RunSettings:
    spec = _object(value, "run", RUN_KEYS)
    numbers = {
        key: _number(spec[key], _join("run", key), key)
        for key in ("tstop", "dt", "v_init", "celsius", "record_dt")
        if key in spec
    }
    if numbers.get("tstop", 0.0) < 0:
        raise ModelFileError("run.tstop", f"tstop must be >= 0 ms, got {spec['tstop']!r}")
    if numbers.get("dt", 1.0) <= 0:
        raise ModelFileError("run.dt", f"dt must be > 0 ms, got {spec['dt']!r}")
    if numbers.get("record_dt", 1.0) <= 0:
        raise ModelFileError("run.record_dt", f"record_dt must be > 0 ms, got {spec['record_dt']!r}")
    method = _string(spec.get("method", RunSettings.method), "run.method")
    if method not in METHODS:
        raise ModelFileError("run.method", f"unknown method '{method}' (known: {', '.join(METHODS)})")
    defaults = RunSettings()
    return RunSettings(
        tstop=numbers.get("tstop"),
        dt=numbers.get("dt", defaults.dt),
        v_init=numbers.get("v_init", defaults.v_init),
        celsius=numbers.get("celsius", defaults.celsius),
        method=method,
        record_dt=numbers.get("record_dt"),
    )


def load_model(data: Mapping[str, Any]) -> LoadedModel:
    """Build the model a parsed JSON document describes; raise ModelFileError on any problem."""
    spec = _object(data, "", TOP_LEVEL_KEYS, required=("sections",))
    if "description" in spec:
        _string(spec["description"], "description")
    builder = _Builder()
    sections = _array(spec["sections"], "sections")
    if not sections:
        raise ModelFileError("sections", "a model needs at least one section")
    parents = [builder.section(item, _join("sections", i)) for i, item in enumerate(sections)]
    builder.connect(parents)
    for i, item in enumerate(_array(spec.get("iclamps", []), "iclamps")):
        builder.iclamp(item, _join("iclamps", i))
    for i, item in enumerate(_array(spec.get("synapses", []), "synapses")):
        builder.synapse(item, _join("synapses", i))
    for i, item in enumerate(_array(spec.get("netstims", []), "netstims")):
        builder.netstim(item, _join("netstims", i))
    spikes: dict[str, NetCon] = {}
    for i, item in enumerate(_array(spec.get("netcons", []), "netcons")):
        builder.netcon(item, _join("netcons", i), i, spikes)
    settings = _run_settings(spec.get("run", {}))
    traces: dict[str, Trace] = {}
    for i, item in enumerate(_array(spec.get("record", []), "record")):
        builder.record(item, _join("record", i), traces, settings.record_dt)
    log.debug("loaded %r: %d spike outputs, %d traces, %s", builder.model, len(spikes), len(traces), settings)
    return LoadedModel(builder.model, settings, Outputs(spikes, traces))


class _DuplicateKeyError(Exception):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def load_model_file(path: str | os.PathLike[str]) -> LoadedModel:
    """Read a JSON model file and build it. File problems are reported as ``<file>: <problem>``."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise ModelFileError(name, f"cannot read model file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ModelFileError(name, f"not UTF-8 text (byte {error.start}): {error.reason}") from None
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as error:
        raise ModelFileError(name, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except _DuplicateKeyError as error:
        raise ModelFileError(name, f"invalid model file: key '{error.args[0]}' appears twice in one object") from None
    log.debug("read model file %s", name)
    return load_model(data)
