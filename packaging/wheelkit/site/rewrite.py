"""A wheel's metadata rewritten into a new wheel (a site's local version label, dropped or relaxed requirements, new
tags): only .dist-info changes, with a fresh RECORD, checked as the input was (docs/wheelhouse.md)."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from ..errors import WheelkitError
from ..interpreters import discover
from ..native import elf_machine, extension_abi_mismatches
from ..process import run
from ..venv import VirtualEnv
from ..wheelfile import (
    WheelContents,
    disagreements,
    moved_member,
    parse_tags,
    parse_wheel_name,
    read_all,
    verify_record,
    write_wheel,
)

log = logging.getLogger(__name__)

# PEP 440: a local version label is alphanumeric segments separated by dots; one segment names a site.
_LABEL = re.compile(r"^[A-Za-z0-9]+$")
# A Requires-Dist line's parts as written (packaging checks it first): a rewrite keeps the extras and the marker text.
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*"
    r"(?P<marker>;.*)?$"
)
# A --drop/--relax argument: a name pattern (fnmatch: nvidia-*), for --relax optionally a new specifier.
_PATTERN = re.compile(r"^\s*(?P<name>[A-Za-z0-9._*?-]+?)\s*(?P<spec>(?:[<>=!~(@].*)?)\s*$")
_COMPILED = re.compile(r"\.(so|pyd|dylib|dll)(\.\d+)*$")
_EXTENSION = re.compile(r"\.cpython-(?P<version>3\d+)[a-z]*-(?P<machine>[a-z0-9_]+)-linux-gnu\.so$")


@dataclass(frozen=True)
class Rewrite:
    """What to change; the empty default changes nothing (and is refused)."""

    local_version: str = ""  # a site label added to the local version: 1.2.0 -> 1.2.0+hpc, 1.2.0+g1ab -> 1.2.0+g1ab.hpc
    drop: tuple[str, ...] = ()  # Requires-Dist names (fnmatch patterns) to remove: ("nvidia-*",)
    relax: tuple[str, ...] = ()  # "numpy" (no version limit) or "numpy>=1.19" (this limit instead)
    tag: str = ""  # new compressed tag, e.g. cp311-cp311-manylinux_2_34_x86_64

    def __bool__(self) -> bool:
        return bool(self.local_version or self.drop or self.relax or self.tag)


# --- versions, tags and requirements ------------------------------------------------------------------------------


def check_label(label: str) -> str:
    """A site label as PEP 440 normalises it (lower case); refuses anything that is not one local segment."""
    if not _LABEL.match(label):
        raise WheelkitError(
            f"local version label {label!r} is not one PEP 440 local segment: use letters and digits only, e.g. 'hpc'"
        )
    return label.lower()


def local_segments(version: str) -> list[str]:
    """The local version's segments, normalised (PEP 440: lower case, '-' and '_' read as '.')."""
    _, _, local = version.partition("+")
    return [segment for segment in re.split(r"[._-]", local.lower()) if segment]


def with_local_label(version: str, label: str) -> str:
    """The version with the site label as its last local segment (unchanged if it already has that segment)."""
    label = check_label(label)
    if label in local_segments(version):
        return version
    public, _, local = version.partition("+")
    return f"{public}+{local}.{label}" if local else f"{public}+{label}"


def is_pure(tags: frozenset[Tag]) -> bool:
    """Whether every tag is platform 'any' (a wheel that claims to run anywhere)."""
    return all(tag.platform == "any" for tag in tags)


def compiled_files(wheel: WheelContents) -> list[str]:
    """Members that are compiled code: ELF files and anything named like a shared library."""
    return sorted(set(wheel.elf_files()) | {n for n in wheel.names if _COMPILED.search(n)})


def suggest_tag(wheel: WheelContents) -> str:
    """A tag for a binary wheel that is tagged as pure: from its extension modules' names and ELF machine.

    The platform is the plain `linux_<machine>` (no manylinux promise can be made without auditwheel); a placeholder
    is given where nothing says which Python the code is for.
    """
    versions = set()
    machine = ""
    for name in wheel.names:
        match = _EXTENSION.search(name)
        if match:
            versions.add(match["version"])
            machine = machine or match["machine"]
    if not machine:
        machine = next((m for m in (elf_machine(wheel.read(name)) for name in wheel.elf_files()) if m), "")
    platform = f"linux_{machine}" if machine else "linux_<machine>"
    if len(versions) == 1:
        python = f"cp{versions.pop()}"
        return f"{python}-{python}-{platform}"
    return f"cp3XY-cp3XY-{platform}"


def _name_key(line: str) -> str:
    """The canonical name (PEP 503) a Requires-Dist line requires."""
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement as error:
        raise WheelkitError(f"cannot read the requirement {line!r} (PEP 508: {error}); fix the wheel's METADATA at its "
                            "source") from None


def _pattern(argument: str, option: str) -> tuple[str, str]:
    match = _PATTERN.match(argument)
    if match is None or (option == "--drop" and match["spec"]):
        example = "'nvidia-*' or 'numpy'" if option == "--drop" else "'numpy' or 'numpy>=1.19'"
        raise WheelkitError(f"{option} {argument!r}: expected a distribution name or pattern, e.g. {example}")
    spec = match["spec"].strip()
    if spec.startswith("(") and spec.endswith(")"):
        spec = spec[1:-1].strip()
    return canonicalize_name(match["name"]), spec


def rewrite_requirements(lines: Sequence[str], drop: Sequence[str], relax: Sequence[str]) -> list[str]:
    """Requires-Dist values with the dropped ones removed and the relaxed ones' version limits replaced.

    Every pattern must match a requirement (a typo would otherwise change nothing); extras and markers are kept.
    """
    drops = [_pattern(p, "--drop")[0] for p in drop]
    relaxes = [_pattern(p, "--relax") for p in relax]
    used: set[str] = set()
    result: list[str] = []
    for line in lines:
        key = _name_key(line)
        match = _REQUIREMENT.match(line)
        assert match is not None  # any valid PEP 508 line matches
        dropped = [p for p in drops if fnmatch.fnmatchcase(key, p)]
        relaxed = [(p, spec) for p, spec in relaxes if fnmatch.fnmatchcase(key, p)]
        if dropped and relaxed:
            raise WheelkitError(f"requirement {line!r} is both dropped ({dropped[0]}) and relaxed ({relaxed[0][0]})")
        used.update(dropped, (p for p, _ in relaxed))
        if dropped:
            continue
        if relaxed:
            marker = match["marker"] or ""
            spec = relaxed[0][1]
            line = f"{match['name']}{match['extras'] or ''}{spec}{marker}"
        result.append(line)
    unused = [p for p in (*drops, *(p for p, _ in relaxes)) if p not in used]
    if unused:
        present = ", ".join(lines) or "nothing"
        raise WheelkitError(
            f"no requirement matches {', '.join(repr(p) for p in unused)}; the wheel requires: {present}"
        )
    return result


# --- the .dist-info files ------------------------------------------------------------------------------------------


def _header_fields(text: str) -> tuple[list[list[str]], str]:
    """A METADATA/WHEEL text as header fields (each its lines, continuations included) and the body after them."""
    head, separator, body = text.partition("\n\n")
    fields: list[list[str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1].append(line)
        elif line:
            fields.append([line])
    return fields, separator + body if separator else "\n"


def _field_name(field: list[str]) -> str:
    return field[0].split(":", 1)[0].strip().lower()


def _join(fields: list[list[str]], body: str) -> str:
    return "\n".join(line for field in fields for line in field) + ("\n" + body if body != "\n" else "\n")


def _replace_fields(fields: Sequence[list[str]], replacements: Mapping[str, list[list[str]]]) -> list[list[str]]:
    """The header's fields with every field named in replacements (by lower-case name) replaced: its new fields go
    where the first of its name was, the others of that name are dropped."""
    out: list[list[str]] = []
    placed: set[str] = set()
    for field in fields:
        name = _field_name(field)
        if name not in replacements:
            out.append(field)
        elif name not in placed:
            out += replacements[name]
            placed.add(name)
    return out


def rewrite_metadata(text: str, version: str, requirements: Sequence[str] | None) -> str:
    """METADATA with a new Version and, if given, new Requires-Dist lines in place of the old ones."""
    fields, body = _header_fields(text)
    replacements = {"version": [[f"Version: {version}"]]}
    if requirements is not None:
        replacements["requires-dist"] = [[f"Requires-Dist: {r}"] for r in requirements]
    return _join(_replace_fields(fields, replacements), body)


def rewrite_wheel_file(text: str, tags: frozenset[Tag]) -> str:
    """WHEEL with one Tag line per tag where the old ones were; Root-Is-Purelib false for a platform tag."""
    fields, body = _header_fields(text)
    tag_fields = [[f"Tag: {tag}"] for tag in sorted(tags, key=str)]
    replacements = {"tag": tag_fields}
    if not is_pure(tags):
        replacements["root-is-purelib"] = [["Root-Is-Purelib: false"]]
    out = _replace_fields(fields, replacements)
    if not any(_field_name(field) == "tag" for field in fields):
        out += tag_fields
    return _join(out, body)


# --- checking a wheel ------------------------------------------------------------------------------------------


def check_wheel(path: Path) -> WheelContents:
    """Open a wheel and check it is whole and self-consistent: zip, RECORD, METADATA Name and Version and WHEEL tags
    agree with the file name. Returns it open (close it, or use it in a with block)."""
    wheel = WheelContents(path)
    try:
        verify_record(wheel)
        problems = disagreements(wheel)
        if problems:
            raise WheelkitError(
                f"{wheel.path.name}: {'; '.join(problems)}: rebuild the wheel, or change its version or tags with "
                "`invoke wheelhouse.rewrite`, never by renaming the file"
            )
    except BaseException:
        wheel.close()
        raise
    return wheel


# --- the rewrite ------------------------------------------------------------------------------------------------


def rewrite_wheel(source: Path, out_dir: Path | None, change: Rewrite) -> Path:
    """Write a rewritten copy of source into out_dir (default: source's folder) and return its path.

    Refuses an empty change, an input that fails check_wheel, a compiled wheel re-tagged as pure or for another
    CPython, and a result that would replace the source file itself. The output is written atomically.
    """
    if not change:
        raise WheelkitError("nothing to rewrite: give --local-version, --drop, --relax and/or --tag")
    source = Path(source)
    with check_wheel(source) as wheel:
        name = wheel.name
        version = with_local_label(name.version, change.local_version) if change.local_version else name.version
        tags = parse_tags(change.tag) if change.tag else name.tags
        if change.tag and is_pure(tags) and (compiled := compiled_files(wheel)):
            raise WheelkitError(
                f"{source.name} contains compiled code ({compiled[0]}): it cannot be tagged {change.tag}; "
                f"use a platform tag such as {suggest_tag(wheel)}"
            )
        requirements = None
        if change.drop or change.relax:
            requirements = rewrite_requirements(wheel.requires_dist(), change.drop, change.relax)
        old_dist_info = wheel.dist_info
        executable = {n for n in wheel.names if wheel.mode(n) & 0o111}
        metadata = wheel.read_text(f"{old_dist_info}/METADATA")
        wheel_text = wheel.read_text(f"{old_dist_info}/WHEEL")
    files = read_all(source)
    build = f"-{name.build}" if name.build else ""
    filename = f"{name.distribution}-{version}{build}-{change.tag.strip() if change.tag else name.tag_text}.whl"
    new_stem = f"{name.distribution}-{version}"
    renamed: dict[str, bytes] = {}
    renamed_executable: set[str] = set()
    for member, data in files.items():
        target = moved_member(member, old_dist_info, new_stem)
        if member == f"{old_dist_info}/METADATA":
            data = rewrite_metadata(metadata, version, requirements).encode("utf-8")
        elif member == f"{old_dist_info}/WHEEL" and change.tag:
            data = rewrite_wheel_file(wheel_text, tags).encode("utf-8")
        renamed[target] = data
        if member in executable:
            renamed_executable.add(target)
    destination = Path(out_dir) if out_dir is not None else source.parent
    target_path = destination / filename
    if target_path.resolve() == source.resolve():
        raise WheelkitError(
            f"the rewritten wheel has the same name as {source}: it would replace the original; give --out-dir"
        )
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rewrite-", dir=destination) as work:
        staged = write_wheel(Path(work) / filename, renamed, executable=renamed_executable)
        with check_wheel(staged) as result:
            if change.tag and (wrong := extension_abi_mismatches(result)):
                raise WheelkitError(
                    f"{source.name}: tag {change.tag} does not fit its extension modules ({', '.join(wrong)}); "
                    f"use a tag for the CPython they were built for, e.g. {suggest_tag(result)}"
                )
        os.replace(staged, target_path)
    log.info("rewrote %s -> %s", source.name, target_path)
    return target_path


# --- proving a wheel installs -------------------------------------------------------------------------------------


def check_install(wheel: Path, python: Path, *, find_links: Sequence[Path] = (), workdir: Path | None = None) -> str:
    """Install a wheel into a fresh venv of `python` without any index and return the version the environment
    reports for it (importlib.metadata). Without find_links its dependencies are not installed (--no-deps)."""
    wheel = Path(wheel).resolve()
    distribution = parse_wheel_name(wheel.name).distribution
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PIP_CONFIG_FILE": os.devnull, "PYTHONNOUSERSITE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    own = workdir is None
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="wheelkit-install-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = VirtualEnv(work / "venv")
    uv = shutil.which("uv")
    links = [arg for folder in find_links for arg in ("--find-links", str(folder))]
    deps = [] if find_links else ["--no-deps"]
    try:
        code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
        commands = [venv.create_command(python, uv=uv), venv.install_command(["--no-index", *links, *deps, wheel], uv=uv),
                    [str(venv.python), "-I", "-c", code]]
        completed = None
        for command in commands:
            completed = run(command, env=env, cwd=work)
            if completed.returncode != 0:
                raise WheelkitError(
                    f"installing {wheel.name} failed: {' '.join(command)} (exit {completed.returncode}):\n"
                    f"{(completed.stderr or completed.stdout).strip()[-2000:]}"
                )
        assert completed is not None
        installed = completed.stdout.strip()
        if installed.lower() != parse_wheel_name(wheel.name).version.lower():
            raise WheelkitError(f"{wheel.name} installed as version {installed}, not the file name's version")
        return installed
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def python_for(wheel: Path) -> Path:
    """An interpreter on this machine that installs the wheel (this one for a pure-Python wheel)."""
    name = parse_wheel_name(Path(wheel).name)
    if is_pure(name.tags):
        return Path(sys.executable)
    for interpreter in discover():
        if interpreter.installs(name.tags):
            return interpreter.path
    raise WheelkitError(
        f"no Python on this machine installs {name.filename} ({name.tag_text}): pass --python PATH, or --no-check to "
        "skip the install check"
    )
