"""The checkout's pyproject.toml: its [build-system] (PEP 517, 518), what the build environments install and the
backend the builds call. A configuration module reads its own table from here too (load)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from .errors import WheelkitError


def load(root: Path) -> Mapping[str, Any]:
    """pyproject.toml of the checkout at root, read. TOML's reader is imported here, not with the module: jobs that
    import interpreters (which asks config) need no tomli where Python has no tomllib."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the build session installs tomli there
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    path = root / "pyproject.toml"
    try:
        with path.open("rb") as handle:
            data: Mapping[str, Any] = tomllib.load(handle)
    except FileNotFoundError:
        raise WheelkitError(f"no pyproject.toml in {root}: wheelkit builds a checkout of cablesim") from None
    except tomllib.TOMLDecodeError as error:
        raise WheelkitError(f"{path} is not valid TOML: {error}") from None
    return data


@dataclass(frozen=True)
class BuildSystem:
    """[build-system]: the requirements of a build environment and the backend (module, or module:object)."""

    requires: tuple[str, ...]
    backend: str

    def hook_code(self, hook: str, arguments: str) -> str:
        """Python code that calls one of the backend's hooks with `arguments` (code over sys.argv), as a build
        frontend does; the plan shows it and the build runs it."""
        module, _, attribute = self.backend.partition(":")
        if attribute:
            return f"import json, sys; from {module} import {attribute} as backend; print(backend.{hook}({arguments}))"
        return f"import json, sys; from {module} import {hook}; print({hook}({arguments}))"


def build_system(root: Path) -> BuildSystem:
    """The [build-system] table of the checkout at root, its requirements checked (PEP 508)."""
    table = load(root).get("build-system")
    if not isinstance(table, dict) or not isinstance(table.get("requires"), list):
        raise WheelkitError(f"{root / 'pyproject.toml'} has no [build-system] with a requires list (PEP 518)")
    backend = table.get("build-backend")
    if not isinstance(backend, str) or not backend:
        raise WheelkitError(f"{root / 'pyproject.toml'}: [build-system] names no build-backend; wheelkit calls the "
                            "backend directly (PEP 517)")
    if table.get("backend-path"):
        raise WheelkitError(f"{root / 'pyproject.toml'}: an in-tree backend (backend-path) is not supported")
    for text in table["requires"]:
        try:
            Requirement(str(text))
        except InvalidRequirement as error:
            raise WheelkitError(f"{root / 'pyproject.toml'}: [build-system] requires {text!r}, which is not a "
                                f"requirement (PEP 508): {error}") from None
    return BuildSystem(tuple(str(text) for text in table["requires"]), backend)
