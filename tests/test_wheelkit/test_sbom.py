"""wheelkit.sbom: the CycloneDX SBOM (PEP 770) every wheel carries: vendored libraries with their origin, what was
compiled in, the MPI ABIs; deterministic; and test_wheels' check, which must catch a missing, foreign or stale one."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.sbom import (
    BuildFacts,
    Origin,
    add_sbom,
    check_sbom,
    library_origin,
    os_release_id,
    purl,
    sbom_member,
    vendored_origins,
)
from wheelkit.wheelfile import WheelContents, read_all, verify_record, write_wheel

NAME = "cablesim-1.0-cp311-cp311-manylinux_2_34_x86_64.whl"
GOMP = "cablesim.libs/libgomp-a34b3233.so.1.0.0"
FACTS = BuildFacts(compiler=("GNU", "12.2.0"), compiled_in=(("pybind11", "3.0.1"),),
                   mpi_abis=(("MPICH", "libmpich.so.12, libmpi.so.12", "5.0.2"),
                             ("Open MPI", "libmpi.so.40", "5.0.11")),
                   origins={GOMP: Origin("/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0", "libgomp1", "12.2.0-14+deb12u1",
                                         "deb", "debian")})


def repaired_wheel(folder: Path, name: str = NAME) -> Path:
    info = "cablesim-1.0.dist-info"
    files = {f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 1.0\n",
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_34_x86_64\n",
             "cablesim/__init__.py": b"", "cablesim/_core.so": b"\x7fELF fake", GOMP: b"\x7fELF gomp",
             "cablesim-1.0.data/scripts/tool": b"#!/bin/sh\n"}
    return write_wheel(folder / name, files, executable=["cablesim-1.0.data/scripts/tool"])


def test_the_sbom_names_the_wheel_its_vendored_library_and_what_was_compiled_in(tmp_path):
    wheel = add_sbom(repaired_wheel(tmp_path), FACTS, epoch="1700000000")
    files = read_all(wheel)
    document = json.loads(files[sbom_member(wheel.name)])
    assert sbom_member(wheel.name) == "cablesim-1.0.dist-info/sboms/cablesim.cdx.json"
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert document["metadata"]["component"]["purl"] == "pkg:pypi/cablesim@1.0"
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    by_name = {c["name"]: c for c in document["components"]}
    gomp = by_name["libgomp1"]
    assert gomp["version"] == "12.2.0-14+deb12u1" and gomp["purl"] == "pkg:deb/debian/libgomp1@12.2.0-14%2Bdeb12u1"
    assert {"name": "cablesim:origin", "value": "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0"} in gomp["properties"]
    assert by_name["pybind11"]["purl"] == "pkg:pypi/pybind11@3.0.1" and by_name["GNU"]["version"] == "12.2.0"
    assert by_name["MPICH ABI"]["scope"] == "optional" and "not shipped" in by_name["MPICH ABI"]["description"]
    assert check_sbom(files, wheel.name).endswith("1 vendored file(s) listed")
    with WheelContents(wheel) as contents:  # RECORD lists the SBOM; the script kept its mode
        assert verify_record(contents) == len(files)
    with zipfile.ZipFile(wheel) as archive:
        assert archive.getinfo("cablesim-1.0.data/scripts/tool").external_attr >> 16 & 0o111


def test_the_same_wheel_gives_the_same_bytes(tmp_path):
    first = add_sbom(repaired_wheel(tmp_path / "a"), FACTS, epoch="1700000000").read_bytes()
    second = add_sbom(repaired_wheel(tmp_path / "b"), FACTS, epoch="1700000000").read_bytes()
    assert first == second


def test_the_check_catches_a_missing_foreign_or_stale_sbom(tmp_path):
    plain = repaired_wheel(tmp_path / "plain")
    with pytest.raises(WheelkitError, match=r"has no SBOM \(cablesim-1.0.dist-info/sboms/cablesim.cdx.json, PEP 770\)"):
        check_sbom(read_all(plain), plain.name)
    wheel = add_sbom(repaired_wheel(tmp_path / "good"), FACTS)
    files = read_all(wheel)
    stale = dict(files)
    stale[GOMP] = b"\x7fELF another gomp"
    stale["cablesim.libs/libquadmath-0123abcd.so.0.0.0"] = b"\x7fELF"
    with pytest.raises(WheelkitError) as raised:
        check_sbom(stale, wheel.name)
    assert "vendored cablesim.libs/libquadmath-0123abcd.so.0.0.0 is not in the SBOM" in str(raised.value)
    assert f"{GOMP}: its sha256 is not the one the SBOM gives" in str(raised.value)
    foreign = dict(files)
    document = json.loads(files[sbom_member(wheel.name)])
    document["metadata"]["component"]["version"] = "0.9"
    foreign[sbom_member(wheel.name)] = json.dumps(document).encode()
    with pytest.raises(WheelkitError, match="its component is cablesim 0.9, not cablesim 1.0"):
        check_sbom(foreign, wheel.name)


@pytest.mark.parametrize("database", ["deb", "rpm"])
def test_a_vendored_librarys_origin_comes_from_ldconfig_and_the_package_database(database):
    ldconfig = "\tlibgomp.so.1 (libc6,x86-64) => /nonexistent/lib/libgomp.so.1\n"
    answers = {"deb": {("dpkg-query", "-S"): "libgomp1:amd64: /nonexistent/lib/libgomp.so.1",
                       ("dpkg-query", "-W"): "12.2.0-14"},
               "rpm": {("rpm", "-qf"): "libgomp 8.5.0-22.el8"}}[database]

    def run(command):
        return ldconfig if command[0] == "ldconfig" else answers.get(tuple(command[:2]), "")

    def which(name):
        return f"/usr/bin/{name}" if name == {"deb": "dpkg-query", "rpm": "rpm"}[database] else None

    def vendor():
        return {"deb": "debian", "rpm": "almalinux"}[database]

    expected = {"deb": Origin("/nonexistent/lib/libgomp.so.1", "libgomp1", "12.2.0-14", "deb", "debian"),
                "rpm": Origin("/nonexistent/lib/libgomp.so.1", "libgomp", "8.5.0-22.el8", "rpm", "almalinux")}[database]
    assert library_origin("libgomp.so.1", run, which, vendor) == expected
    assert vendored_origins([GOMP], run, which, vendor) == {GOMP: expected}  # hashed name -> libgomp.so.1
    assert library_origin("libnothing.so.9", run, which, vendor) == Origin()


def test_package_urls_name_the_distribution_and_percent_encode_the_version(tmp_path):
    assert purl("pypi", "cablesim", "1.0.dev3+g1234") == "pkg:pypi/cablesim@1.0.dev3%2Bg1234"
    assert purl("deb", "libgomp1", "12.2.0-14+deb12u1", "debian") == "pkg:deb/debian/libgomp1@12.2.0-14%2Bdeb12u1"
    (tmp_path / "os-release").write_text('PRETTY_NAME="AlmaLinux 8"\nID="almalinux"\nID_LIKE="rhel centos fedora"\n')
    assert os_release_id(tmp_path / "os-release") == "almalinux"
    assert os_release_id(tmp_path / "nowhere") == ""
