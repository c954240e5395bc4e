"""cablesim: a NEURON-style compartmental neuron simulator.

>>> import cablesim
>>> model = cablesim.Model()
>>> soma = model.Section("soma", L=18.8, diam=18.8, Ra=123).insert("hh")
>>> stim = model.IClamp(soma(0.5), delay=5, dur=1, amp=0.1)
>>> v = model.record(soma(0.5))
>>> m = model.record(soma(0.5).hh._ref_m, 0.1)
>>> run = model.run(40)
>>> float(max(v.values)) > 0, len(m.values)
(True, 401)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .model import (
    ExpSyn,
    IClamp,
    LargeRecordingWarning,
    Mechanism,
    Model,
    ModelError,
    NetCon,
    NetStim,
    Reference,
    Run,
    Section,
    Segment,
    Trace,
    build_info,
)
from .parallel import MPIError, ParallelContext

if TYPE_CHECKING:
    from .selftest import test


def _warn_if_both_distributions() -> None:
    # cablesim and cablesim-nightly install the same files (import name cablesim) and pip lets one overwrite the
    # other silently; uninstalling either then breaks both. Say so (README: "Versions and publishing").
    from importlib import metadata

    found = []
    for name in ("cablesim", "cablesim_nightly"):
        try:
            found.append(f"{name.replace('_', '-')} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    if len(found) > 1:
        import warnings

        warnings.warn(
            f"both {' and '.join(found)} are installed over the same files: the cablesim imported is whichever was "
            f"installed last (version {__version__}). Keep one: pip uninstall -y cablesim cablesim-nightly, then "
            "pip install cablesim (or cablesim-nightly)",
            RuntimeWarning,
            stacklevel=2,
        )


_warn_if_both_distributions()

__all__ = [
    "ExpSyn",
    "IClamp",
    "LargeRecordingWarning",
    "MPIError",
    "Mechanism",
    "Model",
    "ModelError",
    "NetCon",
    "NetStim",
    "ParallelContext",
    "Reference",
    "Run",
    "Section",
    "Segment",
    "Trace",
    "__version__",
    "build_info",
    "test",
]


def __getattr__(name: str) -> object:
    # cablesim.test is imported on first use: importing it here would import cablesim.selftest before
    # `python -m cablesim.selftest` runs it, which runpy warns about.
    if name == "test":
        from .selftest import test

        return test
    raise AttributeError(f"module 'cablesim' has no attribute '{name}'")
