"""The persistent build environments, one per Python: pyproject.toml's [build-system] requirements installed once,
then what the backend asks for besides (get_requires_for_build_wheel), both recorded in a stamp; the environment is
made afresh when [build-system] changes and topped up when the backend asks for more.

The backend's hook is called by a one-line command, not pyproject_hooks: the plan shows exactly what runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pyproject import BuildSystem
from ..venv import VirtualEnv

STAMP = "cablesim-build-requirements.json"  # {"build-system": [...], "backend": [...]}
ASKED = "backend-requirements.json"  # what the backend answered, written by ask_command
# What the environments are made with.
ENVIRONMENT_VARIABLES: Mapping[str, str] = {"UV_PYTHON_DOWNLOADS": "never"}


@dataclass(frozen=True)
class BuildEnvironment:
    """The build environment of one Python at root, made from the interpreter base."""

    root: Path
    base: Path
    system: BuildSystem

    @property
    def venv(self) -> VirtualEnv:
        return VirtualEnv(self.root)

    @property
    def python(self) -> Path:
        return self.venv.python

    @property
    def stamp(self) -> Path:
        return self.root / STAMP

    @property
    def answer(self) -> Path:
        return self.root / ASKED

    def recorded(self) -> dict[str, list[str]] | None:
        """What the stamp records as installed (None: no environment, or one from before the stamp)."""
        try:
            record: Any = json.loads(self.stamp.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(record, dict) or not all(isinstance(record.get(k), list) for k in ("build-system", "backend")):
            return None
        return {key: [str(item) for item in record[key]] for key in ("build-system", "backend")}

    def ready(self) -> bool:
        """Whether it exists with exactly [build-system]'s requirements: then it is reused (and topped up)."""
        record = self.recorded()
        return self.python.exists() and record is not None and record["build-system"] == list(self.system.requires)

    def create_commands(self, uv: str | None) -> list[list[str]]:
        """Make the environment and install [build-system]'s requirements."""
        return [self.venv.create_command(self.base, uv=uv),
                self.venv.install_command(self.system.requires, uv=uv, quiet=False)]

    def ask_command(self, config_settings: Mapping[str, object]) -> list[str]:
        """Ask the backend what else a wheel build with these settings needs (PEP 517's optional hook; none: [])."""
        module, _, attribute = self.system.backend.partition(":")
        backend = f"from {module} import {attribute} as backend" if attribute else f"import {module} as backend"
        code = (f'import json, sys; {backend}; hook = getattr(backend, "get_requires_for_build_wheel", None); '
                'open(sys.argv[1], "w").write(json.dumps(hook(json.loads(sys.argv[2])) if hook else []))')
        return [str(self.python), "-c", code, str(self.answer), json.dumps(dict(config_settings), sort_keys=True)]

    def asked(self) -> list[str]:
        """What the backend answered to ask_command."""
        answer: Any = json.loads(self.answer.read_text(encoding="utf-8"))
        return [str(item) for item in answer]

    def missing(self, asked: Sequence[str]) -> list[str]:
        """What the backend asks for that the environment was not given yet."""
        record = self.recorded()
        given = set(record["backend"]) if record else set()
        return [requirement for requirement in asked if requirement not in given]

    def install_command(self, requirements: Sequence[str], uv: str | None) -> list[str]:
        return self.venv.install_command(requirements, uv=uv, quiet=False)

    def record(self, backend: Sequence[str] = ()) -> None:
        """Write the stamp: [build-system]'s requirements and everything the backend was given."""
        previous = self.recorded()
        given = sorted({*(previous["backend"] if previous else ()), *backend})
        self.stamp.write_text(json.dumps({"build-system": list(self.system.requires), "backend": given}, indent=1)
                              + "\n", encoding="utf-8")
