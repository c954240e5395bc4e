"""wheelkit.site.rewrite: a wheel's metadata rewritten (local version label, requirements, tags) into a new wheel
that is whole and agrees with itself, refusing what would not fit; (slow) the result installs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.site.rewrite import (
    Rewrite,
    check_install,
    check_wheel,
    rewrite_requirements,
    rewrite_wheel,
    suggest_tag,
    with_local_label,
)
from wheelkit.site.wheelhouse import add_wheels
from wheelkit.wheelfile import WheelContents, parse_tags, read_all, write_wheel

SITE = "hpc"


def test_local_labels_are_added_as_the_last_local_segment():
    assert with_local_label("1.2.0", "hpc") == "1.2.0+hpc"
    assert with_local_label("0.0.1.dev14+gd4b2353", "HPC") == "0.0.1.dev14+gd4b2353.hpc"
    assert with_local_label("1.2.0+hpc", "hpc") == "1.2.0+hpc"
    with pytest.raises(WheelkitError, match="one PEP 440 local segment"):
        with_local_label("1.2.0", "my.site")


def test_a_local_version_rewrite_renames_the_file_and_dist_info_and_rehashes_record(incoming, tmp_path, site_wheels):
    source = site_wheels.synthetic(incoming, version="1.0", extra={
        "demo-1.0.data/scripts/demo-tool": b"#!python\nprint('hi')\n",
        "demo-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo = demo:main\n",
    })
    original = source.read_bytes()
    out = rewrite_wheel(source, tmp_path / "out", Rewrite(local_version="hpc"))
    assert out.name == "demo-1.0+hpc-py3-none-any.whl"
    assert source.read_bytes() == original
    with check_wheel(out) as wheel:  # RECORD, Name, Version and tags all agree
        assert wheel.dist_info == "demo-1.0+hpc.dist-info"
        assert wheel.metadata_version() == "1.0+hpc"
        assert wheel.requires_dist() == ["numpy>=1.21"]
        assert "demo-1.0+hpc.data/scripts/demo-tool" in wheel.names
        assert not [n for n in wheel.names if n.startswith("demo-1.0.")]
        assert wheel.read_text("demo-1.0+hpc.dist-info/METADATA").endswith("\nA demo package.\n")
        assert wheel.entry_points() == {"demo": "demo:main"}


def test_requirements_are_dropped_and_relaxed_keeping_extras_and_markers():
    lines = ["numpy>=1.21", "nvidia-cublas-cu12>=12.1; sys_platform == 'linux'", "nvidia_cuda_runtime_cu12==12.1",
             "scipy[sparse] (>=1.8) ; extra == 'full'"]
    assert rewrite_requirements(lines, ["nvidia-*"], ["numpy", "SciPy>=1.5"]) == [
        "numpy", "scipy[sparse]>=1.5; extra == 'full'"
    ]
    with pytest.raises(WheelkitError, match=r"no requirement matches 'mpi4py'; the wheel requires: numpy>=1\.21"):
        rewrite_requirements(lines, ["mpi4py"], [])
    with pytest.raises(WheelkitError, match="both dropped"):
        rewrite_requirements(lines, ["numpy"], ["numpy"])


def test_a_requirements_rewrite_changes_only_requires_dist(incoming, tmp_path, site_wheels):
    source = site_wheels.synthetic(incoming, version="2.0+hpc", requires=("numpy>=1.21", "nvidia-nccl-cu12>=2.18", "mpi4py"))
    out = rewrite_wheel(source, tmp_path, Rewrite(drop=("nvidia-*",), relax=("numpy>=1.19",)))
    with check_wheel(out) as wheel:
        assert wheel.requires_dist() == ["numpy>=1.19", "mpi4py"]
        assert wheel.metadata()["requires_python"] == ">=3.9"
    with pytest.raises(WheelkitError, match="it would replace the original; give --out-dir"):
        rewrite_wheel(source, None, Rewrite(drop=("mpi4py",)))


def test_retagging_compiled_code_gives_a_wheel_the_wheelhouse_accepts(house, incoming, tmp_path, site_wheels):
    source = site_wheels.synthetic(incoming, compiled=True)
    assert suggest_tag(WheelContents(source)) == "cp311-cp311-linux_x86_64"
    out = rewrite_wheel(source, tmp_path, Rewrite(tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"))
    assert out.name == "demo-1.0+hpc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with check_wheel(out) as wheel:
        assert wheel.wheel_tags() == parse_tags("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
        assert "Root-Is-Purelib: false" in wheel.read_text("demo-1.0+hpc.dist-info/WHEEL")
    assert str(add_wheels(house, [out], site=SITE).added[0].folder) == "linux-x86_64/generic"


def test_retagging_refuses_tags_that_do_not_fit_the_compiled_code(incoming, tmp_path, site_wheels):
    source = site_wheels.synthetic(incoming, compiled=True)
    with pytest.raises(WheelkitError, match="cannot be tagged py3-none-any; use a platform tag"):
        rewrite_wheel(site_wheels.binary(tmp_path), incoming, Rewrite(tag="py3-none-any"))
    with pytest.raises(WheelkitError, match="does not fit its extension modules"):
        rewrite_wheel(source, tmp_path, Rewrite(tag="cp312-cp312-linux_x86_64"))
    with pytest.raises(WheelkitError, match="is not a wheel tag"):
        rewrite_wheel(source, tmp_path, Rewrite(tag="cp311-linux_x86_64"))
    assert not list(tmp_path.glob("demo-*-cp312-*.whl"))


def test_rewriting_refuses_broken_input_and_empty_changes(incoming, tmp_path, site_wheels, tamper):
    good = site_wheels.synthetic(incoming)
    tampered = tamper(good, tmp_path / good.name, lambda n, d: d + b"#" if n.endswith("__init__.py") else d)
    with pytest.raises(WheelkitError, match="RECORD does not match"):
        rewrite_wheel(tampered, tmp_path / "out", Rewrite(local_version="x"))
    with pytest.raises(WheelkitError, match="nothing to rewrite"):
        rewrite_wheel(good, tmp_path / "out", Rewrite())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_rewriting_keeps_executable_bits_and_every_other_byte(incoming, tmp_path, site_wheels):
    files = read_all(site_wheels.synthetic(incoming, version="1.0", extra={"demo/tool.sh": b"#!/bin/sh\n"}))
    source = write_wheel(tmp_path / "demo-1.0-py3-none-any.whl", files, executable=["demo/tool.sh"])
    out = rewrite_wheel(source, tmp_path / "out", Rewrite(local_version="hpc"))
    with WheelContents(out) as wheel:
        assert wheel.mode("demo/tool.sh") & 0o111
        assert not wheel.mode("demo/__init__.py") & 0o111
        for name, data in files.items():
            if not name.startswith("demo-1.0.dist-info/"):
                assert wheel.read(name) == data


@pytest.mark.slow
def test_rewritten_wheels_install_with_their_new_version(incoming, tmp_path, site_wheels):
    pure = rewrite_wheel(site_wheels.synthetic(incoming, version="1.0"), tmp_path / "out", Rewrite(local_version="hpc",
                                                                                      drop=("numpy",)))
    assert check_install(pure, Path(sys.executable), workdir=tmp_path / "pure") == "1.0+hpc"
    retagged = rewrite_wheel(site_wheels.synthetic(incoming, compiled=True, name="native"), tmp_path / "out",
                             Rewrite(tag="cp311-cp311-linux_x86_64"))
    if sys.version_info[:2] == (3, 11):
        assert check_install(retagged, Path(sys.executable), workdir=tmp_path / "native") == "1.0+hpc"
