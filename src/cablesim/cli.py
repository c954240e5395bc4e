"""``cablesim-run MODEL.json``: run a model described in JSON and write its spikes and traces (like ``nrniv``).

The format is documented in docs/model-format.md; the loader is :mod:`cablesim.model_io`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from . import __version__
from .model import ModelError
from .model_io import LoadedModel, ModelFileError, RunSettings, load_model_file

__all__ = ["main"]

PROG = "cablesim-run"
EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 128 + 2  # the shell's status for SIGINT
SHOWN_SPIKES = 5  # spike times listed per source in the summary

DESCRIPTION = "Run a cablesim model described in a JSON file and report its spikes and voltage traces."
EPILOG = """\
model file (JSON; full reference with units and defaults: docs/model-format.md):
  sections  [{"name": "soma", "L": 18.8, "diam": 18.8, "nseg": 1, "Ra": 123, "cm": 1,
              "parent": null, "mechanisms": {"hh": {"gnabar": 0.12 or [one per segment]}}}, ...]
  iclamps   [{"name": "stim", "at": "soma(0.5)", "delay": 5, "dur": 1, "amp": 0.1}]
  synapses  [{"name": "syn", "type": "ExpSyn", "at": "dend(0.5)", "tau": 2, "e": 0}]
  netstims  [{"name": "burst", "start": 9, "number": 1, "interval": 10}]
  netcons   [{"source": "burst" or "soma(0.5)", "target": "syn", "burst" or null,
              "threshold": 0, "delay": 1, "weight": 0.04, "name": "soma_spikes"}]
  record    ["soma(0.5)", "soma(0.5).m_hh", "soma(0.5).ina", "stim.i", "syn.g"]
  run       {"tstop": 40, "dt": 0.025, "v_init": -65, "celsius": 6.3, "method": "backward-euler",
             "record_dt": 0.1}

output:
  without -o     a short summary on stdout
  json           {"version", "model", "tstop", "dt", "v_init", "celsius", "method", "record_dt",
                  "spikes": {netcon name: [ms, ...]}, "traces": {"t": [ms, ...], "soma(0.5)": [mV, ...]}}
                 (a netcon without a name is reported as "netcons[i]")
  csv            OUT: one column per trace (t,soma(0.5),...), one row per time point;
                 spikes go to a second file, OUT with .csv replaced by .spikes.csv (columns source,t)
  Files are written atomically: an error never leaves a partial file.

exit status: 0 success, 1 output could not be written, 2 bad arguments, invalid model file or a run too
large for this machine (docs/model-format.md, "Limits of a run"), 130 interrupted (Ctrl-C)"""


class _Failure(Exception):
    """Stop with ``cablesim-run: error: <message>`` and an exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _milliseconds(minimum: float, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of ms, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {minimum:g} ms, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", metavar="MODEL.json", help="the model file")
    parser.add_argument("-o", "--output", metavar="OUT", type=Path, help="write spikes and traces to OUT")
    parser.add_argument(
        "--format", choices=("json", "csv"), help="format of OUT (default: csv if OUT ends in .csv, else json)"
    )
    parser.add_argument("--tstop", type=_milliseconds(0, inclusive=True), metavar="MS", help="override run.tstop")
    parser.add_argument("--dt", type=_milliseconds(0, inclusive=False), metavar="MS", help="override run.dt")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# --- results -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Results:
    settings: RunSettings
    spikes: dict[str, list[float]]
    traces: dict[str, np.ndarray]  # "t" (the sample times) first, then each recording
    steps: int


def _simulate(loaded: LoadedModel, settings: RunSettings) -> _Results:
    assert settings.tstop is not None
    try:
        run = loaded.model.run(
            settings.tstop, dt=settings.dt, v_init=settings.v_init, celsius=settings.celsius, method=settings.method
        )
    except ModelError as error:
        raise _Failure(f"run: {error}") from None
    spikes = {name: netcon.spike_times.tolist() for name, netcon in loaded.outputs.spikes.items()}
    recorded = loaded.outputs.traces
    times = next(iter(recorded.values())).t if recorded else run.t  # every recording shares them (run.record_dt)
    traces = {"t": times, **{name: trace.values for name, trace in recorded.items()}}
    return _Results(settings, spikes, traces, len(run.t) - 1)


def _write_json(results: _Results, model: str, out: TextIO) -> None:
    s = results.settings
    document = {
        "version": __version__,
        "model": model,
        "tstop": s.tstop,
        "dt": s.dt,
        "v_init": s.v_init,
        "celsius": s.celsius,
        "method": s.method,
        "record_dt": s.record_dt,
        "spikes": results.spikes,
        "traces": {name: values.tolist() for name, values in results.traces.items()},
    }
    json.dump(document, out)
    out.write("\n")


def _write_traces_csv(results: _Results, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(results.traces)
    writer.writerows(np.column_stack(list(results.traces.values())).tolist())


def _write_spikes_csv(results: _Results, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("source", "t"))
    writer.writerows((name, t) for name, times in results.spikes.items() for t in times)


def spikes_csv_path(output: Path) -> Path:
    """Where ``--format csv`` writes spikes: ``run.csv`` -> ``run.spikes.csv``, ``run`` -> ``run.spikes.csv``."""
    stem = output.name[: -len(".csv")] if output.name.lower().endswith(".csv") else output.name
    return output.with_name(stem + ".spikes.csv")


def _write_atomically(files: Sequence[tuple[Path, Callable[[TextIO], None]]]) -> None:
    """Write every file to a temporary file next to it, then rename them all into place.

    Raises OSError with ``filename`` set to the file that could not be written (not to the temporary file).
    """
    umask = os.umask(0)
    os.umask(umask)
    written: list[tuple[str, Path]] = []
    try:
        for path, write in files:
            try:
                handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                written.append((temporary, path))
                with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                    write(out)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(path)) from error
        for temporary, path in written:
            try:
                os.replace(temporary, path)
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(path)) from error
    finally:
        for temporary, _ in written:
            if os.path.exists(temporary):
                os.unlink(temporary)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _summary(results: _Results, model: str) -> str:
    s = results.settings
    steps = results.steps
    lines = [f"{model}: {steps} steps of {s.dt:g} ms to {s.tstop:g} ms ({s.method}, {s.celsius:g} degC)"]
    if not results.spikes:
        lines.append("spikes: no netcons in the model")
    for name, times in results.spikes.items():
        shown = ", ".join(f"{t:g}" for t in times[:SHOWN_SPIKES])
        more = ", ..." if len(times) > SHOWN_SPIKES else ""
        lines.append(f"spikes {name}: {_plural(len(times), 'spike')}" + (f" at {shown}{more} ms" if times else ""))
    recorded = [name for name in results.traces if name != "t"]
    if recorded:
        points = len(results.traces["t"])
        lines.append(f"traces: {', '.join(recorded)} ({points} points each; save them with -o OUT)")
    return "\n".join(lines)


# --- the program -------------------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> str:
    loaded = load_model_file(args.model)
    settings = loaded.run
    if args.tstop is not None:
        settings = dataclasses.replace(settings, tstop=args.tstop)
    if args.dt is not None:
        settings = dataclasses.replace(settings, dt=args.dt)
    if settings.tstop is None:
        raise _Failure("run.tstop: required; set it in the model file or pass --tstop MS")
    results = _simulate(loaded, settings)
    if args.output is None:
        return _summary(results, args.model)

    output: Path = args.output
    fmt = args.format or ("csv" if output.suffix.lower() == ".csv" else "json")
    files: list[tuple[Path, Callable[[TextIO], None]]]
    if fmt == "json":
        files = [(output, lambda out: _write_json(results, args.model, out))]
    else:
        files = [(output, lambda out: _write_traces_csv(results, out))]
        files.append((spikes_csv_path(output), lambda out: _write_spikes_csv(results, out)))
    model_file = Path(args.model).resolve()
    for path, _ in files:
        if path.resolve() == model_file:
            raise _Failure(f"refusing to overwrite the model file {args.model} with results")
    try:
        _write_atomically(files)
    except OSError as error:
        raise _Failure(
            f"cannot write {error.filename or output}: {error.strerror or error}", EXIT_WRITE_FAILED
        ) from None
    count = sum(len(times) for times in results.spikes.values())
    written = ", ".join(str(path) for path, _ in files)
    return f"wrote {written} ({len(results.traces['t'])} time points, {_plural(count, 'spike')})"


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show each warning as one ``cablesim-run: warning: ...`` line on stderr, when it is issued."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    """Run ``cablesim-run`` with ``argv`` (default: sys.argv[1:]); return the exit status."""
    try:
        with _warnings_as_lines():
            return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: the run stops after a whole step, and no file is half written
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, usage errors: argparse has already printed
        return stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
    if args.format is not None and args.output is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: --format needs -o OUT", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = _run(args)
    except (ModelFileError, _Failure) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.code if isinstance(error, _Failure) else EXIT_BAD_INPUT
    if not args.quiet:
        print(report)
    return EXIT_OK
