"""Making a virtual environment and installing into it: with uv when there is one (0.1 s per environment, where
`python -m venv` spends 4 s of CPU in ensurepip), else with venv and pip. Commands as data, so that a plan can show
them and a test can check them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

PathLike = Union[str, Path]


@dataclass(frozen=True)
class VirtualEnv:
    """A virtual environment at root (made or to be made)."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def create_command(self, base: PathLike, *, uv: str | None, seed: bool = False) -> list[str]:
        """Make the environment from the interpreter base; seed: with pip in it (uv leaves it out by default)."""
        if uv:
            return [uv, "venv", "--quiet", "--python", str(base), *(["--seed"] if seed else []), str(self.root)]
        return [str(base), "-m", "venv", str(self.root)]

    def install_command(self, arguments: Sequence[PathLike], *, uv: str | None, quiet: bool = True) -> list[str]:
        """Install into the environment: arguments are what pip takes (requirements, wheels, --no-deps, ...)."""
        return install_command(self.python, arguments, uv=uv, quiet=quiet)


def install_command(python: PathLike, arguments: Sequence[PathLike], *, uv: str | None, quiet: bool = True
                    ) -> list[str]:
    """Install into the environment of an interpreter (a virtual one, or not)."""
    options = ["--quiet"] if quiet else []
    if uv:
        return [uv, "pip", "install", *options, "--python", str(python), *map(str, arguments)]
    return [str(python), "-m", "pip", "install", *options, "--disable-pip-version-check", *map(str, arguments)]
