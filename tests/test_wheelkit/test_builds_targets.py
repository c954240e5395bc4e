"""wheelkit's targets: the macOS plan (build_osx cannot run here, so its tags and commands are checked as data) and
the Linux/macOS details of repair, debug information and needed-library parsing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError, process
from wheelkit.builds.plan import make_plan
from wheelkit.builds.script import plan_commands
from wheelkit.builds.targets import LINUX, MACOS, host_target
from wheelkit.interpreters import Interpreter
from wheelkit.native import elf_needed, is_vendored

pytestmark = pytest.mark.usefixtures("pyproject")  # the plans read its [build-system]

MAC_PYTHONS = (
    Interpreter((3, 9, 13), Path("/Library/Frameworks/Python.framework/Versions/3.9/bin/python3.9"), "x86_64"),
    Interpreter((3, 12, 4), Path("/Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12"), "arm64"),
)


def test_macos_plan_tags_environments_and_commands(tmp_path):
    plan = make_plan(MAC_PYTHONS, (), root=tmp_path, version="2.0", environ={}, target=MACOS)
    assert [c.output_name for c in plan.cells] == [
        "cablesim-2.0-cp39-cp39-macosx_10_15_x86_64.whl",
        "cablesim-2.0-cp312-cp312-macosx_11_0_arm64.whl",
    ]
    assert dict(plan.cells[0].environment) == {"MACOSX_DEPLOYMENT_TARGET": "10.15", "ARCHFLAGS": "-arch x86_64"}
    assert dict(plan.cells[1].environment) == {"MACOSX_DEPLOYMENT_TARGET": "11.0", "ARCHFLAGS": "-arch arm64"}
    commands = plan_commands(plan)
    wheel_lines = [c for c in commands if "import build_wheel" in c]
    assert wheel_lines[0].startswith(f"cd {tmp_path} && ARCHFLAGS='-arch x86_64' MACOSX_DEPLOYMENT_TARGET=10.15 ")
    repairs = [c for c in commands if "delocate-wheel" in c]
    assert len(repairs) == 2 and "--require-archs x86_64" in repairs[0] and "--require-archs arm64" in repairs[1]
    assert repairs[1].startswith("ARCHFLAGS='-arch arm64' MACOSX_DEPLOYMENT_TARGET=11.0 delocate-wheel ")
    assert sum(c.startswith("dsymutil ") for c in commands) == 2
    assert sum(c.startswith("codesign ") for c in commands) == 1  # arm64 only
    assert not any("auditwheel" in c or "objcopy" in c for c in commands)


@pytest.mark.parametrize(("target", "machine", "tag"), [
    ("12.3", "arm64", "macosx_12_0_arm64"),
    ("10.13", "x86_64", "macosx_10_13_x86_64"),
    ("11", "x86_64", "macosx_11_0_x86_64"),
])
def test_deployment_target_is_overridable(target, machine, tag):
    assert MACOS.platform_tag(machine, {"MACOSX_DEPLOYMENT_TARGET": target}) == tag
    assert MACOS.build_environment(machine, {"MACOSX_DEPLOYMENT_TARGET": target})["MACOSX_DEPLOYMENT_TARGET"] == target


def test_bad_deployment_targets_are_refused():
    with pytest.raises(WheelkitError, match="MACOSX_DEPLOYMENT_TARGET='ventura' is not a macOS version"):
        MACOS.platform_tag("arm64", {"MACOSX_DEPLOYMENT_TARGET": "ventura"})
    with pytest.raises(WheelkitError, match="no default macOS deployment target for architecture 'ppc'"):
        MACOS.platform_tag("ppc", {})


def test_linux_tags_follow_the_image_policy_or_the_host_glibc():
    assert LINUX.platform_tag("aarch64", {"AUDITWHEEL_PLAT": "manylinux_2_28_aarch64"}) == "manylinux_2_28_aarch64"
    host = LINUX.platform_tag("x86_64", {})
    assert host.startswith("manylinux_2_") and int(host.split("_")[2]) <= 34


def test_linux_plan_splits_before_the_repair_with_pasteable_globs(tmp_path):
    pythons = (Interpreter((3, 11, 0), Path(sys.executable)),)
    plan = make_plan(pythons, (), root=tmp_path, version="1", environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    commands = plan_commands(plan)
    order = [next(i for i, c in enumerate(commands) if c.startswith(word))
             for word in ("wheel unpack", "objcopy --only-keep-debug", "objcopy --strip-all", "wheel pack",
                          "auditwheel repair")]
    assert order == sorted(order)
    assert commands[order[-1]].endswith(f"{tmp_path}/build/staging/cp311-default/split/*.whl")  # a glob, unquoted
    assert '"install.strip": "false"' in commands[order[0] - 1]


def test_a_linux_library_is_read_by_the_one_elf_reader_and_a_macos_one_by_otool(tmp_path, monkeypatch):
    import _ctypes

    library = Path(getattr(_ctypes, "__file__", "") or "/nonexistent")
    if not library.is_file() or library.read_bytes()[:4] != b"\x7fELF":
        pytest.skip("this Python's _ctypes is no ELF file")
    assert LINUX.needed(library) == elf_needed(library.read_bytes())
    asked: list[list[str]] = []
    monkeypatch.setattr(process, "run_captured", lambda command, what: asked.append(command) or (
        f"{command[-1]}:\n\t/usr/lib/libc++.1.dylib (compatibility version 1.0.0, current version 1700.255.0)\n"))
    assert MACOS.needed(tmp_path / "_core.so") == ["libc++.1.dylib"] and asked == [["otool", "-L",
                                                                                      str(tmp_path / "_core.so")]]
    otool = ("/tmp/cablesim/_core.cpython-312-darwin.so:\n"
             "\t/opt/homebrew/opt/libomp/lib/libomp.dylib (compatibility version 5.0.0, current version 5.0.0)\n"
             "\t/usr/lib/libc++.1.dylib (compatibility version 1.0.0, current version 1700.255.0)\n")
    assert MACOS.parse_needed(otool) == ["libomp.dylib", "libc++.1.dylib"]


def test_vendored_and_library_members():
    assert is_vendored("cablesim.libs/libgomp-a34b3233.so.1.0.0")
    assert not is_vendored("cablesim/_core.cpython-39-x86_64-linux-gnu.so")
    assert is_vendored("cablesim/.dylibs/libomp.dylib")
    assert LINUX.is_library("_core.cpython-39-x86_64-linux-gnu.so") and LINUX.is_library("libgomp.so.1")
    assert not LINUX.is_library("__init__.py") and MACOS.is_library("_core.cpython-312-darwin.so")


def test_host_target():
    assert host_target("linux") is LINUX and host_target("darwin") is MACOS
    with pytest.raises(WheelkitError, match="builds Linux and macOS wheels; this host is win32"):
        host_target("win32")


@pytest.mark.parametrize("host,newest_known,expected", [
    ((2, 31), (2, 41), (2, 31)),  # older hosts: their own glibc
    ((2, 36), (2, 41), (2, 34)),  # Debian 12: cablesim needs GLIBC_2.34 and GLIBCXX <= 3.4.29 there
    ((2, 38), (2, 41), (2, 38)),
    ((2, 43), (2, 41), (2, 41)),  # Debian sid: the newest policy auditwheel knows, never manylinux_2_34
    ((2, 43), None, (2, 43)),
])
def test_a_host_build_is_tagged_for_what_it_can_need(host, newest_known, expected):
    from wheelkit.builds.targets import host_manylinux_glibc

    assert host_manylinux_glibc(host, newest_known) == expected


def test_on_a_new_glibc_host_the_expected_tag_is_not_capped_at_manylinux_2_34(monkeypatch):
    monkeypatch.setattr("platform.libc_ver", lambda: ("glibc", "2.43"))
    monkeypatch.setattr("wheelkit.builds.targets.newest_manylinux_policy", lambda machine: (2, 41))
    assert LINUX.platform_tag("x86_64", {}) == "manylinux_2_41_x86_64"
    assert LINUX.platform_tag("x86_64", {"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"}) == "manylinux_2_28_x86_64"
    monkeypatch.setattr("platform.libc_ver", lambda: ("glibc", "2.36"))
    assert LINUX.platform_tag("x86_64", {}) == "manylinux_2_34_x86_64"


def test_the_newest_manylinux_policy_is_auditwheels():
    from wheelkit.builds.targets import newest_manylinux_policy

    newest = newest_manylinux_policy("x86_64")
    assert newest is not None and newest >= (2, 39)


def test_the_repair_asks_for_exactly_the_planned_tag():
    command = LINUX.repair_command("auditwheel", "w.whl", "manylinux_2_41_x86_64", "out", "x86_64", ["libgomp*"])
    assert command == ["auditwheel", "repair", "--plat", "manylinux_2_41_x86_64", "--only-plat", "--wheel-dir", "out",
                       "--exclude", "libgomp*", "w.whl"]


def test_the_configured_deployment_targets_reach_the_macos_plan(tmp_path):
    from wheelkit.config import load_config

    (tmp_path / "pyproject.toml").write_text(
        (tmp_path / "pyproject.toml").read_text().replace('x86_64 = "10.15", arm64 = "11.0"',
                                                          'x86_64 = "10.13", arm64 = "12.0"'))
    config = load_config(tmp_path, {})
    plan = make_plan(MAC_PYTHONS, (), root=tmp_path, version="2.0", environ={}, target=MACOS, config=config)
    assert [c.platform_tag for c in plan.cells] == ["macosx_10_13_x86_64", "macosx_12_0_arm64"]
    assert dict(plan.cells[1].environment)["MACOSX_DEPLOYMENT_TARGET"] == "12.0"
    plan = make_plan(MAC_PYTHONS[:1], (), root=tmp_path, version="2.0", environ={"MACOSX_DEPLOYMENT_TARGET": "11.0"},
                     target=MACOS, config=config)
    assert plan.cells[0].platform_tag == "macosx_11_0_x86_64"  # the variable wins over the table


def test_the_configured_repair_excludes_reach_their_variant(tmp_path):
    from wheelkit.config import load_config

    (tmp_path / "pyproject.toml").write_text((tmp_path / "pyproject.toml").read_text().replace(
        "repair-excludes = { default = [], coreneuron = [] }", 'repair-excludes = { coreneuron = ["libgomp.so.*"] }'))
    config = load_config(tmp_path, {})
    python = Interpreter((3, 12, 1), Path("/opt/python/cp312-cp312/bin/python"))
    plan = make_plan([python], ("default", "coreneuron"), root=tmp_path, version="1", config=config,
                     environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    assert [c.variant.repair_excludes for c in plan.cells] == [(), ("libgomp.so.*",)]
