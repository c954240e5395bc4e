"""[tool.wheelkit] in pyproject.toml, the one configuration of the wheel matrix (which Pythons, variants, repair
excludes, deployment targets, release platforms, CI runners); WHEELKIT_* variables override it, a job's command line
both, and every value remembers where it came from (shown by --help, --plan and `python -m wheelkit matrix`)."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .errors import WheelkitError, raise_on_usage_errors
from .pyproject import load

T = TypeVar("T")

# The CPythons wheelkit knows how to build and test: 3.9 up to 3.15 (the newest CPython whose wheels have been built
# and tested, in the Debian sid image). A newer one is added here once its wheels pass test_wheels.
OLDEST_SUPPORTED = (3, 9)
NEWEST_SUPPORTED = (3, 15)
# Free-threaded CPython is supported from 3.14 on (PEP 779): 3.13t was experimental, as cibuildwheel holds too. 3.14t
# is the one built and tested in CI (manylinux's /opt/python/cp314t-cp314t, setup-python's 3.14t); 3.15t joins here
# when CI has it.
FREE_THREADED_FROM = (3, 14)
NEWEST_FREE_THREADED = (3, 14)

# A release platform family -> (platform of the CI matrix, architecture).
FAMILIES: Mapping[str, tuple[str, str]] = {
    "manylinux_x86_64": ("linux", "x86_64"), "manylinux_aarch64": ("linux", "aarch64"),
    "musllinux_x86_64": ("linux", "x86_64"), "macosx_x86_64": ("macos", "x86_64"), "macosx_arm64": ("macos", "arm64"),
}

DEFAULTS: Mapping[str, Any] = {
    "free-threaded": True,
    "variants": ["default"],
    "repair-excludes": {},
    "macos-deployment-targets": {"x86_64": "10.15", "arm64": "11.0"},
    "release-platforms": ["manylinux_x86_64", "manylinux_aarch64", "macosx_x86_64", "macosx_arm64"],
    "pull-request-platforms": ["manylinux_x86_64", "macosx_arm64"],
    "runners": {"manylinux_x86_64": "ubuntu-24.04", "manylinux_aarch64": "ubuntu-24.04-arm",
                "macosx_x86_64": "macos-15-intel", "macosx_arm64": "macos-15"},
}

# key in [tool.wheelkit] -> the variable that overrides it (lists: words separated by spaces or commas)
ENVIRONMENT: Mapping[str, str] = {
    "pythons": "WHEELKIT_PYTHONS",
    "newest-python": "WHEELKIT_NEWEST_PYTHON",
    "free-threaded": "WHEELKIT_FREE_THREADED",
    "variants": "WHEELKIT_VARIANTS",
    "release-platforms": "WHEELKIT_RELEASE_PLATFORMS",
}
KEYS = (*ENVIRONMENT, "repair-excludes", "macos-deployment-targets", "runners", "pull-request-platforms")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A value and where it came from."""

    value: T
    source: str


def dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def parse_python(text: str) -> tuple[int, int, bool]:
    """'3.14t' -> (3, 14, True): a CPython minor version, free-threaded with a t."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(t?)\s*", text)
    if match is None:
        raise WheelkitError(f"'{text}' is not a CPython version like 3.12 or 3.14t (free-threaded)")
    return int(match[1]), int(match[2]), bool(match[3])


def python_sort_key(text: str) -> tuple[int, int, bool]:
    return parse_python(text)


def supported(text: str) -> bool:
    """Whether wheelkit builds wheels of this CPython (3.14t: free-threaded)."""
    major, minor, threaded = parse_python(text)
    version = (major, minor)
    return OLDEST_SUPPORTED <= version <= NEWEST_SUPPORTED and (
        not threaded or FREE_THREADED_FROM <= version <= NEWEST_FREE_THREADED)


def pythons_for(requires_python: str, newest: tuple[int, int], free_threaded: bool) -> tuple[str, ...]:
    """Every supported CPython that requires-python admits, up to newest, with the free-threaded builds (3.14t) after
    the others when they are in."""
    try:
        specifier = SpecifierSet(requires_python)
    except InvalidSpecifier:
        raise WheelkitError(f"requires-python = {requires_python!r} is not a version specifier (PEP 440)") from None
    minors = [(3, m) for m in range(OLDEST_SUPPORTED[1], min(newest, NEWEST_SUPPORTED)[1] + 1)
              if specifier.contains(f"3.{m}", prereleases=True)]
    threaded = [f"3.{m}t" for _, m in minors if free_threaded and FREE_THREADED_FROM <= (3, m) <= NEWEST_FREE_THREADED]
    return (*(f"3.{m}" for _, m in minors), *threaded)


@dataclass(frozen=True)
class Config:
    """The wheel matrix's configuration, each value with its source."""

    pythons: Setting[tuple[str, ...]]  # dotted, 3.14t for free-threaded: what no selector and '3*' build
    newest: Setting[tuple[int, int]]
    free_threaded: Setting[bool]
    variants: Setting[tuple[str, ...]]
    repair_excludes: Setting[Mapping[str, tuple[str, ...]]]  # variant -> patterns
    deployment_targets: Setting[Mapping[str, str]]  # macOS architecture -> oldest macOS
    release_platforms: Setting[tuple[str, ...]]  # platform families a release must cover
    pull_request_platforms: Setting[tuple[str, ...]]  # the small CI matrix of a pull request
    runners: Setting[Mapping[str, str]]  # platform family -> GitHub runner label

    def settings(self) -> list[tuple[str, str, str]]:
        """(key, value, source) of every setting, for --help, --plan and the matrix."""
        rows: list[tuple[str, object, str]] = [
            ("pythons", " ".join(self.pythons.value), self.pythons.source),
            ("newest-python", dotted(self.newest.value), self.newest.source),
            ("free-threaded", str(self.free_threaded.value).lower(), self.free_threaded.source),
            ("variants", " ".join(self.variants.value), self.variants.source),
            ("repair-excludes", json.dumps(dict(self.repair_excludes.value)), self.repair_excludes.source),
            ("macos-deployment-targets", json.dumps(dict(self.deployment_targets.value)),
             self.deployment_targets.source),
            ("release-platforms", " ".join(self.release_platforms.value), self.release_platforms.source),
            ("pull-request-platforms", " ".join(self.pull_request_platforms.value), self.pull_request_platforms.source),
            ("runners", json.dumps(dict(self.runners.value)), self.runners.source),
        ]
        return [(key, str(value), source) for key, value, source in rows]

    def describe(self) -> str:
        """One line per setting: key = value (source)."""
        return "\n".join(f"  {key:26s} {value}  ({source})" for key, value, source in self.settings())

    def with_pythons(self, pythons: Sequence[str], source: str = "command line") -> Config:
        return replace(self, pythons=Setting(_checked_pythons(pythons, source), source))

    def with_release_platforms(self, platforms: Sequence[str], source: str = "command line") -> Config:
        return replace(self, release_platforms=Setting(_checked_platforms(platforms, self.runners.value, source),
                                                       source))

    def matrix(self, event: str = "") -> list[dict[str, object]]:
        """The CI matrix: one job per release platform (a pull_request event: per pull-request platform), with its
        runner and the Pythons it builds, e.g. {"platform": "linux-x86_64", "family": "manylinux_x86_64", "runner":
        "ubuntu-24.04", "arch": "x86_64", "pythons": ["3.9", ..., "3.14t"]}."""
        families = self.pull_request_platforms.value if event == "pull_request" else self.release_platforms.value
        jobs: list[dict[str, object]] = []
        for family in families:
            platform, arch = FAMILIES[family]
            jobs.append({"platform": f"{platform}-{arch}", "family": family, "runner": self.runners.value[family],
                         "arch": arch, "pythons": list(self.pythons.value)})
        return jobs

    def classifiers(self) -> list[str]:
        """The Python classifiers the pythons mean (the free-threaded builds are said by the Free Threading one)."""
        return [f"Programming Language :: Python :: {version}" for version in self.pythons.value
                if not version.endswith("t")]


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", text) if word]


def _checked_pythons(pythons: Sequence[str], source: str) -> tuple[str, ...]:
    wrong = [p for p in pythons if not supported(p)]
    if wrong:
        raise WheelkitError(
            f"{source}: {', '.join(wrong)} not supported: wheelkit builds CPython "
            f"{dotted(OLDEST_SUPPORTED)}-{dotted(NEWEST_SUPPORTED)} and the free-threaded "
            f"{dotted(FREE_THREADED_FROM)}t-{dotted(NEWEST_FREE_THREADED)}t")
    return tuple(sorted(dict.fromkeys(p.strip() for p in pythons), key=lambda p: (parse_python(p)[2],
                                                                                   python_sort_key(p))))


def _checked_platforms(platforms: Sequence[str], runners: Mapping[str, str], source: str) -> tuple[str, ...]:
    unknown = [p for p in platforms if p not in FAMILIES]
    if unknown:
        raise WheelkitError(f"{source}: unknown release platform(s) {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    without = [p for p in platforms if p not in runners]
    if without:
        raise WheelkitError(f"{source}: no CI runner for {', '.join(without)}: add it to [tool.wheelkit] runners")
    return tuple(platforms)


def _boolean(text: str, source: str) -> bool:
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise WheelkitError(f"{source}={text!r}: use 1 or 0 (true or false)")


def load_config(root: Path, environ: Mapping[str, str] | None = None) -> Config:
    """[tool.wheelkit] of the checkout at root with the WHEELKIT_* variables of environ (default: this process's)
    applied; every value checked."""
    env = os.environ if environ is None else environ
    pyproject = load(root)
    table = pyproject.get("tool", {}).get("wheelkit", {})
    where = "pyproject.toml [tool.wheelkit]"
    if not isinstance(table, dict):
        raise WheelkitError(f"{root / 'pyproject.toml'}: [tool.wheelkit] must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise WheelkitError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")

    def pick(key: str, convert: Callable[[Any, str], T]) -> Setting[T]:
        """The environment's value, else the table's, else the default."""
        variable = ENVIRONMENT.get(key)
        if variable and env.get(variable, "").strip():
            return Setting(convert(env[variable], variable), f"environment {variable}")
        if key in table:
            return Setting(convert(table[key], f"{where} {key}"), f"{where} {key}")
        return Setting(convert(DEFAULTS[key], "wheelkit's default"), "wheelkit's default")

    def words(value: Any, source: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(_words(value))
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise WheelkitError(f"{source}: expected a list of strings, got {value!r}")

    def mapping(value: Any, source: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise WheelkitError(f"{source}: expected a table, got {value!r}")
        return value

    def boolean(value: Any, source: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _boolean(value, source)
        raise WheelkitError(f"{source}: expected true or false, got {value!r}")

    def newest_version(value: Any, source: str) -> tuple[int, int]:
        major, minor, threaded = parse_python(str(value))
        if threaded or not OLDEST_SUPPORTED <= (major, minor) <= NEWEST_SUPPORTED:
            raise WheelkitError(f"{source}: newest-python {value} is not a CPython wheelkit builds "
                                f"({dotted(OLDEST_SUPPORTED)}-{dotted(NEWEST_SUPPORTED)})")
        return major, minor

    free_threaded = pick("free-threaded", boolean)
    newest = (pick("newest-python", newest_version) if "newest-python" in table or env.get("WHEELKIT_NEWEST_PYTHON")
              else Setting(NEWEST_SUPPORTED, "wheelkit's newest supported CPython"))
    requires = str(pyproject.get("project", {}).get("requires-python", ">=3.9"))
    if env.get("WHEELKIT_PYTHONS", "").strip() or "pythons" in table:
        chosen = pick("pythons", words)
        pythons = Setting(_checked_pythons(chosen.value, chosen.source), chosen.source)
    else:
        derived = pythons_for(requires, newest.value, free_threaded.value)
        pythons = Setting(derived, f"requires-python {requires} up to {dotted(newest.value)} ({newest.source}), "
                          f"free-threaded {str(free_threaded.value).lower()} ({free_threaded.source})")
    excludes_raw = pick("repair-excludes", mapping)
    excludes: Setting[Mapping[str, tuple[str, ...]]] = Setting({str(k): words(v, excludes_raw.source) for k, v in excludes_raw.value.items()},
                       excludes_raw.source)
    targets_raw = pick("macos-deployment-targets", mapping)
    for arch, version in targets_raw.value.items():
        if not isinstance(version, str) or not re.fullmatch(r"\d{2}(\.\d+)?", version):
            raise WheelkitError(f"{targets_raw.source}: {arch} = {version!r} is not a macOS version like 10.15")
    targets: Setting[Mapping[str, str]] = Setting({str(k): str(v) for k, v in targets_raw.value.items()}, targets_raw.source)
    runners_raw = pick("runners", mapping)
    runners: Setting[Mapping[str, str]] = Setting({str(k): str(v) for k, v in runners_raw.value.items()}, runners_raw.source)
    platforms_raw = pick("release-platforms", words)
    platforms = Setting(_checked_platforms(platforms_raw.value, runners.value, platforms_raw.source),
                        platforms_raw.source)
    small_raw = pick("pull-request-platforms", words)
    small = Setting(_checked_platforms(small_raw.value, runners.value, small_raw.source), small_raw.source)
    return Config(pythons=pythons, newest=newest, free_threaded=free_threaded, variants=pick("variants", words),
                  repair_excludes=excludes, deployment_targets=targets, release_platforms=platforms,
                  pull_request_platforms=small, runners=runners)


def find_root(start: Path | None = None) -> Path:
    """The checkout: the nearest folder up from start (default: the working folder) with a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    raise WheelkitError(f"no pyproject.toml in {here} or above: run wheelkit in a checkout of cablesim")


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit matrix [--event E] [--describe]`: the CI matrix as JSON on stdout (one line), or the
    settings with their sources."""
    parser = argparse.ArgumentParser(prog="python -m wheelkit matrix",
                                     description="The CI wheel matrix from [tool.wheelkit], as JSON.")
    parser.add_argument("--event", default="", help="the GitHub event (pull_request: the pull-request platforms)")
    parser.add_argument("--describe", action="store_true", help="list every setting and where it came from instead")
    raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    config = load_config(find_root())
    emit(config.describe() if args.describe else json.dumps(config.matrix(args.event)))
    return 0
