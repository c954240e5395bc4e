"""A nightly's wheel (rename_wheel: cablesim -> cablesim-nightly) keeps its SBOM, moved to the name and own
component of the new distribution, so that test_wheels' SBOM check passes on it: found by tests/test_workflow_run.py,
where every scheduled nightly failed that check."""

from __future__ import annotations

import json

from wheelkit.rename import rename_wheel
from wheelkit.sbom import BuildFacts, add_sbom, check_sbom, sbom_member
from wheelkit.wheelfile import read_all, write_wheel

NAME = "cablesim-1.0.dev20261201-cp311-cp311-manylinux_2_34_x86_64.whl"


def test_a_renamed_wheels_sbom_names_the_new_distribution(tmp_path):
    info = "cablesim-1.0.dev20261201.dist-info"
    files = {f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 1.0.dev20261201\n",
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_34_x86_64\n",
             "cablesim/__init__.py": b"", "cablesim.libs/libgomp-a34b3233.so.1.0.0": b"\x7fELF gomp"}
    wheel = add_sbom(write_wheel(tmp_path / NAME, files), BuildFacts(compiler=("GNU", "12.2.0")), epoch="1700000000")
    renamed = rename_wheel(wheel, "cablesim-nightly", tmp_path / "out")
    contents = read_all(renamed)
    assert check_sbom(contents, renamed.name).endswith("1 vendored file(s) listed")
    assert sbom_member(renamed.name) == "cablesim_nightly-1.0.dev20261201.dist-info/sboms/cablesim_nightly.cdx.json"
    assert not [name for name in contents if name.endswith("sboms/cablesim.cdx.json")]
    before = json.loads(read_all(wheel)[sbom_member(wheel.name)])
    after = json.loads(contents[sbom_member(renamed.name)])
    own = after["metadata"]["component"]
    assert own["purl"] == own["bom-ref"] == "pkg:pypi/cablesim-nightly@1.0.dev20261201"
    assert after["dependencies"][0]["ref"] == own["bom-ref"] and after["serialNumber"] != before["serialNumber"]
    assert after["components"] == before["components"]
