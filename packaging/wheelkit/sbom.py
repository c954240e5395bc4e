"""An SBOM in every wheel (PEP 770: .dist-info/sboms/, CycloneDX 1.6 JSON): the vendored libraries and where they came
from, what was compiled in, the MPI ABIs; deterministic. add_sbom writes it, check_sbom is test_wheels' check.

Hand-written: cyclonedx-python-lib adds clocks and random serial numbers, which would break byte-identical rebuilds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Callable
from urllib.parse import quote

from packaging.utils import canonicalize_name

from . import process
from .errors import WheelkitError
from .native import is_vendored
from .wheelfile import parse_wheel_name, read_all, write_wheel

SPEC_VERSION = "1.6"
PROPERTY_PATH = "cablesim:wheel-path"  # where a vendored library lies in the wheel
PROPERTY_ORIGIN = "cablesim:origin"  # the file on the build machine it was copied from
SBOM_NAMESPACE = uuid.UUID("7f1c3b0e-8a8e-4f4e-9a43-3b1f2e5d6c01")  # cablesim's: serial numbers are uuid5 in it


@dataclass(frozen=True)
class Origin:
    """Where a vendored library came from on the build machine."""

    path: str = ""
    package: str = ""  # the distribution package (Debian: libgomp1; RPM: libgomp)
    version: str = ""  # that package's version
    purl_type: str = ""  # deb | rpm | "" (unknown)
    namespace: str = ""  # the distribution whose package it is (os-release's ID: debian, ubuntu, almalinux)


@dataclass(frozen=True)
class BuildFacts:
    """What the build knows beyond the wheel's files."""

    compiler: tuple[str, str] = ("", "")  # (name, version), e.g. ("GNU", "12.2.0")
    compiled_in: tuple[tuple[str, str], ...] = ()  # PyPI packages compiled into the binaries: (name, version)
    mpi_abis: tuple[tuple[str, str, str], ...] = ()  # (implementation, library sonames, headers' version)
    origins: Mapping[str, Origin] = field(default_factory=dict)  # vendored file name (soname-like) -> origin


def _run(command: Sequence[str]) -> str:
    done = process.run(command, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else ""


def os_release_id(path: Path = Path("/etc/os-release")) -> str:
    """The build machine's distribution as os-release names it (debian, ubuntu, almalinux), '' when unknown."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line[3:].strip().strip("\"'") for line in lines if line.startswith("ID=")), "")


def purl(kind: str, name: str, version: str, namespace: str = "") -> str:
    """A package URL (purl spec): pkg:type[/namespace]/name@version, the version percent-encoded (a '+' is %2B)."""
    where = f"{quote(namespace, safe='')}/" if namespace else ""
    return f"pkg:{kind}/{where}{quote(name, safe='')}@{quote(version, safe='')}"


def library_origin(soname: str, run: Callable[[Sequence[str]], str] = _run,
                   which: Callable[[str], str | None] = shutil.which,
                   vendor: Callable[[], str] = os_release_id) -> Origin:
    """The build machine's file for a library soname (ldconfig's cache) and the package that owns it (dpkg or rpm)."""
    path = ""
    for line in run(["ldconfig", "-p"]).splitlines():
        name, _, location = line.strip().partition(" => ")
        if name.split(" (")[0] == soname and location:
            path = location.strip()
            break
    if not path:
        return Origin()
    real = os.path.realpath(path)
    if which("dpkg-query"):
        owner = run(["dpkg-query", "-S", real]) or run(["dpkg-query", "-S", path])
        package = owner.split(":", 1)[0].strip() if owner else ""
        if package:
            version = run(["dpkg-query", "-W", "-f=${Version}", package])
            return Origin(real, package, version, "deb", vendor())
    if which("rpm"):
        owner = run(["rpm", "-qf", "--qf", "%{NAME} %{VERSION}-%{RELEASE}", real])
        if owner and " " in owner:
            package, version = owner.split(" ", 1)
            return Origin(real, package, version, "rpm", vendor())
    return Origin(real)


def _soname_key(member: str) -> str:
    """auditwheel's vendored name libgomp-a34b3233.so.1.0.0 -> libgomp.so.1 (the soname asked of ldconfig)."""
    base = PurePosixPath(member).name
    stem, _, rest = base.partition(".so")
    stem = stem.rsplit("-", 1)[0] if "-" in stem and len(stem.rsplit("-", 1)[1]) == 8 else stem
    major = rest.lstrip(".").split(".")[0] if rest else ""
    return f"{stem}.so.{major}" if major else f"{stem}.so"


def vendored_origins(files: Sequence[str], run: Callable[[Sequence[str]], str] = _run,
                     which: Callable[[str], str | None] = shutil.which,
                     vendor: Callable[[], str] = os_release_id) -> dict[str, Origin]:
    return {member: library_origin(_soname_key(member), run, which, vendor) for member in files}


def make_sbom(files: Mapping[str, bytes], distribution: str, version: str, facts: BuildFacts,
              epoch: str | None = None) -> dict[str, Any]:
    """The CycloneDX document for a wheel's files."""
    own_ref = purl("pypi", canonicalize_name(distribution), version)
    components: list[dict[str, Any]] = []
    for member in sorted(name for name in files if is_vendored(name)):
        origin = facts.origins.get(member, Origin())
        library = PurePosixPath(member).name
        name = origin.package or library.split("-")[0].split(".so")[0]
        component: dict[str, Any] = {
            "type": "library", "bom-ref": f"vendored:{member}", "name": name,
            "hashes": [{"alg": "SHA-256", "content": hashlib.sha256(files[member]).hexdigest()}],
            "properties": [{"name": PROPERTY_PATH, "value": member}],
        }
        if origin.version:
            component["version"] = origin.version
        if origin.purl_type and origin.package:
            component["purl"] = purl(origin.purl_type, origin.package, origin.version, origin.namespace)
        if origin.path:
            component["properties"].append({"name": PROPERTY_ORIGIN, "value": origin.path})
        components.append(component)
    for name, package_version in sorted(facts.compiled_in):
        components.append({"type": "library", "bom-ref": purl("pypi", name, package_version), "name": name,
                           "version": package_version, "purl": purl("pypi", name, package_version),
                           "description": "compiled into the wheel's binaries at build time"})
    if facts.compiler[0]:
        components.append({"type": "application", "bom-ref": f"compiler:{facts.compiler[0]}",
                           "name": facts.compiler[0], "version": facts.compiler[1],
                           "description": "the C++ compiler the binaries were built with"})
    for implementation, sonames, headers in sorted(facts.mpi_abis):
        components.append({"type": "library", "bom-ref": f"mpi-abi:{implementation}", "name": f"{implementation} ABI",
                           "version": headers, "scope": "optional",
                           "description": f"not shipped: loaded at run time from the user's MPI ({sonames}); the "
                                          f"shim compiled against {implementation} {headers}'s headers"})
    serial = uuid.uuid5(SBOM_NAMESPACE, json.dumps([distribution, version, components], sort_keys=True))
    metadata: dict[str, Any] = {
        "component": {"type": "library", "bom-ref": own_ref, "name": distribution, "version": version,
                      "purl": own_ref},
        "tools": {"components": [{"type": "application", "name": "wheelkit"}]},
    }
    if epoch:
        metadata["timestamp"] = datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "serialNumber": f"urn:uuid:{serial}", "version": 1,
        "metadata": metadata, "components": components,
        "dependencies": [{"ref": own_ref, "dependsOn": [c["bom-ref"] for c in components
                                                        if c.get("scope") != "optional"]}],
    }


def sbom_member(wheel_name: str) -> str:
    name = parse_wheel_name(wheel_name)
    return f"{name.distribution}-{name.version}.dist-info/sboms/{name.distribution.lower()}.cdx.json"


def renamed_sbom(data: bytes, wheel_name: str) -> bytes:
    """A wheel's SBOM once the wheel is written again as another distribution (rename_wheel: a nightly): its own
    component (name, purl, reference and the serial number derived from them) is that wheel's."""
    name = parse_wheel_name(wheel_name)
    document = json.loads(data)
    own = document["metadata"]["component"]
    old_ref, new_ref = own.get("bom-ref"), purl("pypi", canonicalize_name(name.distribution), name.version)
    own.update({"name": name.distribution, "bom-ref": new_ref, "purl": new_ref})
    for dependency in document.get("dependencies", []):
        if dependency.get("ref") == old_ref:
            dependency["ref"] = new_ref
    components = document.get("components", [])
    serial = uuid.uuid5(SBOM_NAMESPACE, json.dumps([name.distribution, name.version, components], sort_keys=True))
    document["serialNumber"] = f"urn:uuid:{serial}"
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def add_sbom(wheel: Path, facts: BuildFacts, epoch: str | None = None) -> Path:
    """Rewrite the wheel with its SBOM (and a RECORD that lists it), keeping every other file and whether it is
    executable; deterministic (write_wheel: sorted, times from the epoch, fixed modes)."""
    name = parse_wheel_name(wheel.name)
    files = read_all(wheel)
    with zipfile.ZipFile(wheel) as archive:
        executable = [i.filename for i in archive.infolist() if (i.external_attr >> 16) & 0o111]
    epoch = epoch if epoch is not None else os.environ.get("SOURCE_DATE_EPOCH")
    document = make_sbom(files, name.distribution, name.version, facts, epoch)
    files[sbom_member(wheel.name)] = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    return write_wheel(wheel, files, executable=executable, epoch=int(epoch) if epoch else None)


def check_sbom(files: Mapping[str, bytes], wheel_name: str) -> str:
    """test_wheels' check: the SBOM is there, is CycloneDX JSON naming this wheel, and lists exactly the vendored
    files the wheel holds, with their sha256."""
    member = sbom_member(wheel_name)
    if member not in files:
        raise WheelkitError(f"{wheel_name} has no SBOM ({member}, PEP 770): build it with `nox -s build_linux`")
    try:
        document = json.loads(files[member])
    except (ValueError, UnicodeDecodeError) as error:
        raise WheelkitError(f"{member} is not JSON: {error}") from None
    name = parse_wheel_name(wheel_name)
    problems = []
    if document.get("bomFormat") != "CycloneDX" or not str(document.get("specVersion", "")).startswith("1."):
        problems.append("not a CycloneDX 1.x document")
    own = document.get("metadata", {}).get("component", {})
    if (own.get("name", "").lower(), own.get("version")) != (name.distribution.lower(), name.version):
        problems.append(f"its component is {own.get('name')} {own.get('version')}, not {name.distribution} "
                        f"{name.version}")
    listed: dict[str, str] = {}
    for component in document.get("components", []):
        for prop in component.get("properties", []):
            if prop.get("name") == PROPERTY_PATH:
                digest = next((h.get("content", "") for h in component.get("hashes", []) if h.get("alg") == "SHA-256"),
                              "")
                listed[prop.get("value", "")] = digest
    vendored = {n: hashlib.sha256(data).hexdigest() for n, data in files.items() if is_vendored(n)}
    for missing in sorted(set(vendored) - set(listed)):
        problems.append(f"vendored {missing} is not in the SBOM")
    for extra in sorted(set(listed) - set(vendored)):
        problems.append(f"the SBOM lists {extra}, which the wheel does not hold")
    for shared in sorted(set(vendored) & set(listed)):
        if vendored[shared] != listed[shared]:
            problems.append(f"{shared}: its sha256 is not the one the SBOM gives")
    if problems:
        raise WheelkitError(f"{member}: " + "; ".join(problems))
    return f"{member}: {len(document.get('components', []))} components, {len(vendored)} vendored file(s) listed"
