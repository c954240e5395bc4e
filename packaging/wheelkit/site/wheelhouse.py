"""The offline wheelhouse (`invoke wheelhouse.add`): wheels placed by OS layer and -march level, all or none, each
carrying the site's local version label (docs/wheelhouse.md)."""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import WheelkitError
from ..files import sha256
from ..wheelfile import WheelContents
from .rewrite import check_label, check_wheel, compiled_files, is_pure, local_segments, suggest_tag

log = logging.getLogger(__name__)

ROOT_ENV = "CABLESIM_WHEELHOUSE"
SITE_ENV = "CABLESIM_WHEELHOUSE_SITE"
OS_LAYER_ENV = "CABLESIM_WHEELHOUSE_OS_LAYER"
MARKER_FILE = "cablesim-build.json"  # <name>-<version>.dist-info/cablesim-build.json: {"march": "x86-64-v3"}
GENERIC = "generic"
SIMPLE = "simple"
# x86-64 micro-architecture levels (psABI), lowest first: a node of one level runs the wheels of the levels before it.
X86_64_LEVELS = ("x86-64-v2", "x86-64-v3", "x86-64-v4")
_BASELINES = {"", "generic", "x86-64", "x86-64-v1", "armv8-a"}
_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_PLATFORM = re.compile(
    r"^(?P<family>manylinux_\d+_\d+|manylinux1|manylinux2010|manylinux2014|musllinux_\d+_\d+|linux|macosx_\d+_\d+|win)"
    r"_(?P<machine>.+)$"
)
_FAMILIES = {"manylinux": "linux", "linux": "linux", "musllinux": "linux-musl", "macosx": "macos", "win": "windows"}


# --- where a wheel goes ------------------------------------------------------------------------------------------


def platform_os_machine(platform: str) -> tuple[str, str]:
    """(OS family, machine) of a platform tag: manylinux_2_34_x86_64 -> (linux, x86_64); win32 -> (windows, x86)."""
    if platform == "win32":
        return "windows", "x86"
    match = _PLATFORM.match(platform)
    if match is None:
        return platform, ""
    family = re.sub(r"[_\d]+$", "", match["family"])
    return _FAMILIES.get(family, family), match["machine"]


def check_folder_name(name: str, what: str) -> str:
    if not _FOLDER.match(name) or (what == "OS layer" and name in (GENERIC, SIMPLE)):
        raise WheelkitError(
            f"{what} {name!r} cannot be a wheelhouse folder name: use letters, digits, '.', '_' and '-' "
            f"({GENERIC!r} and {SIMPLE!r} are taken), e.g. rhel8"
        )
    return name


def arch_level(march: str, machine: str, source: str, *, option: bool = False) -> str:
    """The level folder for a binary wheel of `machine` built with -march=`march` (source: where the value came
    from, for the message; option: it is --arch-level's value, so the advice cannot be to give that option).
    Baselines are `generic`; x86-64 wheels take the psABI levels; others any folder name."""
    value = march.strip()
    if value.lower() in _BASELINES:
        return GENERIC
    if value == "native":
        if option:
            raise WheelkitError(
                f"{source} names the build machine's CPU, not a level of a cluster's nodes: give the level of the "
                "cluster's nodes instead, e.g. --arch-level x86-64-v3 (or generic)"
            )
        raise WheelkitError(
            f"{source} says -march=native: such a build runs only on CPUs like the build machine's, not on a "
            "cluster's nodes; rebuild with CABLESIM_MARCH=x86-64-v3 (or x86-64-v4), or place it with --arch-level"
        )
    if machine in ("x86_64", "amd64"):
        if value not in X86_64_LEVELS:
            if option:
                raise WheelkitError(
                    f"{source} is not an x86-64 level folder ({', '.join(X86_64_LEVELS)}): give one of those, or "
                    "generic"
                )
            raise WheelkitError(
                f"{source} says -march={value}, which is not an x86-64 level folder ({', '.join(X86_64_LEVELS)}): "
                "rebuild with one of those, or place the wheel explicitly with --arch-level x86-64-v3"
            )
        return value
    if value in X86_64_LEVELS:
        what = f"{source} is an x86-64 level" if option else f"{source} says -march={value}"
        raise WheelkitError(f"{what}, but the wheel is for {machine or 'an unknown machine'}")
    return check_folder_name(value, "architecture level")


def read_march(wheel: WheelContents) -> str:
    """The -march value the build recorded in the wheel's marker file ('' when there is none: a generic build)."""
    name = f"{wheel.dist_info}/{MARKER_FILE}"
    if name not in wheel.names:
        return ""
    try:
        info = json.loads(wheel.read_text(name))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WheelkitError(f"{wheel.path.name}: {name} is not valid JSON ({error}); rebuild the wheel") from None
    if not isinstance(info, dict) or not isinstance(info.get("march", ""), str):
        raise WheelkitError(
            f'{wheel.path.name}: {name} must be a JSON object with a string "march", e.g. {{"march": "x86-64-v3"}}; '
            "rebuild the wheel"
        )
    march: str = info.get("march", "")
    return march


@dataclass(frozen=True)
class Placement:
    """Where one wheel goes in the wheelhouse, and why."""

    source: Path
    folder: PurePosixPath  # relative to the wheelhouse root, e.g. linux-x86_64/x86-64-v3
    reason: str
    sha256: str

    @property
    def relative(self) -> PurePosixPath:
        return self.folder / self.source.name


def place(path: Path, *, site: str, os_layer: str = "", level: str = "") -> Placement:
    """Check one wheel and decide its folder; raises WheelkitError saying what is wrong and what to do."""
    path = Path(path)
    if not path.is_file():
        raise WheelkitError(f"{path}: no such wheel file")
    with check_wheel(path) as wheel:
        name = wheel.name
        if site not in local_segments(name.version):
            raise WheelkitError(
                f"{path.name}: version {name.version} lacks the local version label '+{site}' the wheelhouse requires "
                f"for every wheel it serves; run `invoke wheelhouse.rewrite {path} --local-version {site}` and add the "
                "wheel it writes"
            )
        compiled = compiled_files(wheel)
        if is_pure(name.tags):
            if compiled:
                raise WheelkitError(
                    f"{path.name} is tagged {name.tag_text} but contains compiled code ({compiled[0]}): pip would "
                    f"install it on any platform and Python; re-tag it with `invoke wheelhouse.rewrite {path} --tag "
                    f"{suggest_tag(wheel)}` and add the wheel it writes"
                )
            return Placement(path, PurePosixPath(GENERIC), "pure Python", sha256(path))
        systems = {platform_os_machine(tag.platform) for tag in name.tags if tag.platform != "any"}
        layers = {f"{family}-{machine}" if machine else family for family, machine in systems}
        if len(layers) != 1:
            raise WheelkitError(
                f"{path.name} is tagged for several systems ({', '.join(sorted(layers))}); the wheelhouse keeps one "
                "OS layer per wheel: build one wheel per system"
            )
        machine = next(iter(systems))[1]
        layer = check_folder_name(os_layer, "OS layer") if os_layer else layers.pop()
        if level:
            folder_level = arch_level(level, machine, f"--arch-level {level}", option=True)
            reason = f"--arch-level {level}"
        else:
            march = read_march(wheel)
            folder_level = arch_level(march, machine, f"{path.name}'s {MARKER_FILE}")
            reason = f"built with -march={march}" if march else f"no {MARKER_FILE}: a generic build"
    return Placement(path, PurePosixPath(layer, folder_level), reason, sha256(path))


# --- adding wheels -----------------------------------------------------------------------------------------------


@dataclass
class AddResult:
    """What an add did: the wheels it placed and those already there with the same bytes."""

    added: list[Placement] = field(default_factory=list)
    present: list[Placement] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"added    {p.relative}  ({p.reason})" for p in self.added]
        lines += [f"present  {p.relative}  (the same bytes are already there)" for p in self.present]
        return "\n".join(lines)


def expand_wheels(arguments: Iterable[str]) -> list[Path]:
    """Wheel paths from files, folders (their *.whl, not recursive) and glob patterns, in order, without repeats."""
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            matches = sorted(path.glob("*.whl"))
            if not matches:
                raise WheelkitError(f"{argument}: the folder holds no *.whl files")
        elif any(ch in argument for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(argument))
            if not matches:
                raise WheelkitError(f"{argument}: no file matches the pattern")
        else:
            matches = [path]
        found += [m for m in matches if m not in found]
    return found


def resolve_root(root: str, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    value = root or env.get(ROOT_ENV, "")
    if not value:
        raise WheelkitError(f"which wheelhouse? give --root DIR (or set {ROOT_ENV})")
    return Path(value)


def resolve_os_layer(os_layer: str, environ: Mapping[str, str] | None = None) -> str:
    """The site's OS-layer name ('' means: derive it from each wheel's platform tag)."""
    env = os.environ if environ is None else environ
    value = os_layer or env.get(OS_LAYER_ENV, "")
    return check_folder_name(value, "OS layer") if value else ""


def resolve_site(site: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    value = site or env.get(SITE_ENV, "")
    if not value:
        raise WheelkitError(
            f"which site's wheelhouse is this? give --site NAME (or set {SITE_ENV}): every wheel must carry the local "
            "version label +NAME"
        )
    return check_label(value)


def add_wheels(root: Path, wheels: Sequence[Path], *, site: str, os_layer: str = "", level: str = "") -> AddResult:
    """Place wheels in the wheelhouse at root, all or none.

    Refuses (changing nothing) when any wheel fails: a corrupt zip, a RECORD that does not match, a file name that
    disagrees with METADATA or WHEEL, a missing '+<site>' label, compiled code tagged as pure Python, an unknown
    -march marker, or a file of that name already in its folder (or in the batch) with different bytes. A wheel
    already there with the same bytes is left alone and reported as present.
    """
    root = Path(root)
    site = check_label(site)
    if not wheels:
        raise WheelkitError("no wheels given: name wheel files, folders of wheels or a glob pattern")
    problems: list[str] = []
    placements: list[Placement] = []
    for wheel in wheels:
        try:
            placements.append(place(wheel, site=site, os_layer=os_layer, level=level))
        except WheelkitError as error:
            problems.append(str(error))
    result = AddResult()
    chosen: dict[PurePosixPath, Placement] = {}
    for placement in placements:
        earlier = chosen.get(placement.relative)
        if earlier is not None:
            if earlier.sha256 != placement.sha256:
                problems.append(
                    f"{placement.source} and {earlier.source} are both {placement.relative} but differ: one file name, "
                    "one content; give the rebuilt wheel a new version"
                )
            continue
        chosen[placement.relative] = placement
        existing = root / placement.relative
        if existing.exists():
            if sha256(existing) == placement.sha256:
                result.present.append(placement)
            else:
                problems.append(
                    f"{existing} already exists with different bytes than {placement.source}: a wheel's name must "
                    "always mean the same file (pip caches by name; lock files pin hashes); give the new build a new "
                    "version (e.g. `invoke wheelhouse.rewrite WHEEL --local-version ...`), or remove the old file by "
                    "hand if it is broken"
                )
            continue
        result.added.append(placement)
    if problems:
        # One problem of several wheels (a bad --arch-level) is said once.
        counted = {problem: problems.count(problem) for problem in problems}
        count = f"{len(counted)} problem(s)" if len(counted) > 1 else "1 problem"
        lines = [f"{times} wheels: {problem}" if times > 1 else problem for problem, times in counted.items()]
        raise WheelkitError(f"nothing was added to {root} ({count}):\n  - " + "\n  - ".join(lines))
    _publish_all(root, result.added)
    for placement in result.added:
        log.info("added %s (%s)", placement.relative, placement.reason)
    for placement in result.present:
        log.info("already present: %s", placement.relative)
    return result


def _publish_all(root: Path, placements: Sequence[Placement]) -> None:
    """Copy each wheel to a hidden temporary file in its folder, then give each its name; undo all on failure."""
    created: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    published: list[Path] = []
    try:
        for placement in placements:
            folder = root / placement.folder
            missing = [p for p in [folder, *folder.parents] if not p.exists()]
            for directory in reversed(missing):
                directory.mkdir()
                created.append(directory)
            final = root / placement.relative
            temporary = folder / f".{final.name}.{os.getpid()}.part"
            staged.append((temporary, final))
            shutil.copyfile(placement.source, temporary)
            if sha256(temporary) != placement.sha256:
                raise WheelkitError(f"{placement.source} changed while it was being added; add it again")
        for temporary, final in staged:
            _publish(temporary, final)
            published.append(final)
    except BaseException:
        for final in published:
            final.unlink(missing_ok=True)
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                pass
        raise


def _publish(temporary: Path, final: Path) -> None:
    """Give the temporary file its final name without ever replacing a file another add placed meanwhile."""
    raced = f"{final} appeared while this add ran (another add?): nothing was added; add again"
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise WheelkitError(raced) from None
    except OSError:  # a file system without hard links
        if final.exists():
            raise WheelkitError(raced) from None
        os.replace(temporary, final)
        return
    temporary.unlink()
