"""wheelkit: interpreter discovery, selectors, the build plan and its knobs (no building here)."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.builds.plan import expected_platform, make_plan
from wheelkit.builds.script import plan_commands
from wheelkit.builds.selection import select
from wheelkit.builds.targets import MACOS
from wheelkit.interpreters import Interpreter
from wheelkit.wheelfile import filename_name

pytestmark = pytest.mark.usefixtures("pyproject")  # the plans read its [build-system]

FOUND = tuple(Interpreter((3, minor, 1), Path(f"/opt/python/cp3{minor}-cp3{minor}/bin/python")) for minor in range(9, 14))


def dotted(selection) -> list[str]:
    return [i.dotted for i in selection.pythons]


@pytest.mark.parametrize(
    "selectors,expected",
    [
        ([], ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        (["39"], ["3.9"]),
        (["3.12"], ["3.12"]),
        (["cp311"], ["3.11"]),
        (["3*"], ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        (["3.1*"], ["3.10", "3.11", "3.12", "3.13"]),
        (["313", "39", "39"], ["3.9", "3.13"]),
        (["*"], ["3.9", "3.10", "3.11", "3.12", "3.13"]),
    ],
)
def test_selectors(selectors, expected):
    assert dotted(select(selectors, FOUND)) == expected


def test_selector_matching_nothing_lists_what_was_found():
    with pytest.raises(WheelkitError, match=r"no Python matches '39'; found: 3.10 \(/opt/python/cp310-cp310/bin/python\), 3.11"):
        select(["39"], FOUND[1:])


@pytest.mark.parametrize("bad", ["python", "3.x", "foo", "3", "4.1"])
def test_malformed_selector(bad):
    with pytest.raises(WheelkitError, match=f"'{bad}' is not a Python selector: use forms like 39, 3.12"):
        select([bad], FOUND)


@pytest.mark.parametrize("selector,version", [("cp27", "2.7"), ("2.7", "2.7"), ("27", "2.7"), ("3.8", "3.8"),
                                              ("cp38", "3.8"), ("3.16", "3.16"), ("2*", "2.*"), ("3.13t", "3.13t"),
                                              ("cp313t", "3.13t"), ("3.15t", "3.15t")])
def test_a_selector_of_an_unsupported_python_says_so_and_names_the_supported_ones(selector, version):
    with pytest.raises(WheelkitError, match=rf"^'{re.escape(selector)}' selects CPython {re.escape(version)}, which "
                       r"cablesim does not build wheels for: the supported versions are 3.9-3.15 and 3.14t "
                       r"\(free-threaded\)$"):
        select([selector], FOUND)


def _interpreter(minor: int, threaded: bool = False) -> Interpreter:
    """What a manylinux image's CPython reports (cp314t-cp314t: free-threaded)."""
    abi = f"cp3{minor}{'t' if threaded else ''}"
    return Interpreter((3, minor, 0), Path(f"/opt/python/cp3{minor}-{abi}/bin/python"), free_threaded=threaded)


NEWEST = (*FOUND, _interpreter(14), _interpreter(14, True), _interpreter(15))
CONFIGURED = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.14t")


@pytest.mark.parametrize(
    "selectors,pythons,expected",
    [
        ([], CONFIGURED, [*CONFIGURED]),
        (["3*"], CONFIGURED, [*CONFIGURED]),  # '3*' includes the free-threaded build, as in cibuildwheel
        (["3*"], CONFIGURED[:-1], [*CONFIGURED[:-1]]),  # free-threaded = false: out of '3*'
        (["3.14t"], CONFIGURED[:-1], ["3.14t"]),  # named: built even when not configured
        (["cp314t"], CONFIGURED, ["3.14t"]),
        (["314t"], CONFIGURED, ["3.14t"]),
        (["3.14"], CONFIGURED, ["3.14"]),  # the GIL build only
        (["cp315", "3.14t", "3.14"], CONFIGURED, ["3.14", "3.15", "3.14t"]),
        (["3.1*"], ("3.12", "3.13"), ["3.12", "3.13"]),  # globs stay within the configured pythons
    ],
)
def test_selectors_of_the_newest_and_free_threaded_pythons(selectors, pythons, expected):
    assert dotted(select(selectors, NEWEST, pythons)) == expected


def test_variants_by_default_come_from_the_configuration_and_variant_words_replace_them():
    assert select([], FOUND, variants_by_default=("default", "coreneuron")).variants == ("default", "coreneuron")
    assert select([], FOUND, variants_by_default=("default",)).variants == ()
    assert select(["coreneuron"], FOUND, variants_by_default=("default", "coreneuron")).variants == ("coreneuron",)


def test_a_free_threaded_cell_carries_its_abi_in_tag_key_folders_and_repair(tmp_path):
    plan = make_plan([_interpreter(14), _interpreter(14, True)], (), root=tmp_path, version="1.0",
                     environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    gil, threaded = plan.cells
    assert threaded.output_name == "cablesim-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl"
    assert gil.output_name == "cablesim-1.0-cp314-cp314-manylinux_2_28_x86_64.whl"
    assert (threaded.key, gil.key) == ("cp314t-default", "cp314-default")
    for folder in ("env_dir", "build_dir", "staging_dir", "log_path"):
        assert getattr(threaded, folder) != getattr(gil, folder) and "cp314t" in str(getattr(threaded, folder))
    assert threaded.core_dir == gil.core_dir  # the core has no Python in it
    repairs = [c for c in plan_commands(plan) if "auditwheel repair" in c]
    assert len(repairs) == 2 and sum("cp314t" in c for c in repairs) == 1


@pytest.mark.parametrize("variant", ["mpi", "MPI"])
def test_mpi_is_always_on_so_the_word_builds_the_default_wheel(variant, tmp_path):
    selection = select(["39", variant], FOUND)
    assert selection.variants == () and [p.dotted for p in selection.pythons] == ["3.9"]
    (cell,) = make_plan(selection.pythons, selection.variants, root=tmp_path, version="1",
                        environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"}).cells
    assert "-DCABLESIM_MPI=ON" in cell.core_command()
    assert cell.variant.repair_excludes == ()  # headers-only shims: no MPI library to leave out


def test_macos_wheels_carry_the_mpi_shims_and_mpt_headers_add_a_shim(tmp_path):
    (mac,) = make_plan(FOUND[:1], (), root=tmp_path, version="1", environ={}, target=MACOS).cells
    assert "-DCABLESIM_MPI=ON" in mac.core_command() and mac.variant.repair_excludes == ()
    assert "CABLESIM_MPI_EXTRA_SHIMS" not in mac.wheel_command()[-1]  # MPT is Linux only
    env = {"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64", "CABLESIM_MPT_INCLUDE_DIR": "/opt/mpt/include"}
    (linux,) = make_plan(FOUND[:1], ("coreneuron",), root=tmp_path, version="1", environ=env).cells
    settings = json.loads(linux.wheel_command()[-1])
    assert settings["cmake.define.CABLESIM_MPI_EXTRA_SHIMS"] == "mpt=/opt/mpt/include"
    assert settings["cmake.define.CABLESIM_CORENEURON"] == "ON"


def test_coreneuron_variant_has_its_own_core_folders_and_wheelhouse_folder(tmp_path):
    selection = select(["39", "coreneuron", "3.10"], FOUND)
    assert selection.variants == ("coreneuron",)
    plan = make_plan(selection.pythons, selection.variants, root=tmp_path, version="1",
                     environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    cell = plan.cells[0]
    assert cell.key == "cp39-coreneuron" and cell.core_dir.name == "coreneuron-Release"
    assert "-DCABLESIM_CORENEURON=ON" in cell.core_command()
    assert json.loads(cell.wheel_command()[-1])["cmake.define.CABLESIM_CORENEURON"] == "ON"
    assert plan.output_dir(cell) == tmp_path / "wheelhouse" / "coreneuron"
    assert len(plan.core_cells) == 1


def test_march_knob_makes_an_arch_optimised_coreneuron_variant(tmp_path):
    env = {"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64", "CABLESIM_MARCH": "x86-64-v3"}
    plan = make_plan(FOUND[:1], ("coreneuron",), root=tmp_path, version="1", environ=env)
    (cell,) = plan.cells
    assert cell.key == "cp39-coreneuron-x86-64-v3" and cell.core_dir.name == "coreneuron-x86-64-v3-Release"
    assert "-DCABLESIM_MARCH=x86-64-v3" in cell.core_command()
    assert plan.output_dir(cell).name == "coreneuron-x86-64-v3"
    both = make_plan(FOUND[:1], ("coreneuron", "default"), root=tmp_path, version="1", environ=env).cells
    assert "CABLESIM_MARCH" not in " ".join(both[1].core_command())  # only the coreneuron sources take -march
    with pytest.raises(WheelkitError, match="CABLESIM_MARCH='native;rm' is not an -march level"):
        make_plan(FOUND[:1], ("coreneuron",), root=tmp_path, version="1", environ={"CABLESIM_MARCH": "native;rm"})


@pytest.mark.parametrize("variants", [(), ("default",)])
def test_march_without_the_coreneuron_variant_is_refused_saying_to_add_it(tmp_path, variants):
    env = {"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64", "CABLESIM_MARCH": "x86-64-v3"}
    with pytest.raises(WheelkitError, match=r"CABLESIM_MARCH=x86-64-v3 compiles the coreneuron engine only, and no "
                       r"coreneuron wheel is selected: add the variant word \(nox -s build_linux -- coreneuron\) or "
                       r"unset CABLESIM_MARCH"):
        make_plan(FOUND[:1], variants, root=tmp_path, version="1", environ=env)


def test_no_interpreter_found():
    with pytest.raises(WheelkitError, match="no CPython interpreter found"):
        select([], ())


def test_plan_names_tags_and_commands(tmp_path):
    plan = make_plan(FOUND[:2], (), root=tmp_path, version="1.2.0", jobs=2, environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    assert [c.output_name for c in plan.cells] == [
        "cablesim-1.2.0-cp39-cp39-manylinux_2_28_x86_64.whl",
        "cablesim-1.2.0-cp310-cp310-manylinux_2_28_x86_64.whl",
    ]
    commands = plan_commands(plan)
    assert shlex.split(commands[0])[-len(plan.cells[0].core_command()):] == plan.cells[0].core_command()
    assert "CMAKE_BUILD_PARALLEL_LEVEL=" in commands[0].split("cmake -S")[0]  # what the build sets
    wheel_commands = [c for c in commands if "import build_wheel" in c]
    assert len(wheel_commands) == 2
    assert all(c.startswith(f"cd {tmp_path} && ") and "CABLESIM_PREBUILT_CORE_DIR" in c for c in wheel_commands)
    assert all(f'"build-dir": "{tmp_path}/build/wheels/' in c for c in wheel_commands)
    assert sum("auditwheel repair --plat manylinux_2_28_x86_64" in c for c in commands) == 2


def test_knobs_reach_every_cell(tmp_path):
    env = {"CABLESIM_CMAKE_ARGS": "-DFOO=1 '-DBAR=a b'", "CABLESIM_BUILD_TYPE": "RelWithDebInfo", "AUDITWHEEL_PLAT": "x"}
    plan = make_plan(FOUND, (), root=tmp_path, version="1", environ=env)
    for cell in plan.cells:
        settings = json.loads(cell.wheel_command()[-1])
        assert settings["cmake.args"] == ["-DFOO=1", "-DBAR=a b"]
        assert settings["cmake.build-type"] == "RelWithDebInfo"
        assert settings["cmake.define.CABLESIM_PREBUILT_CORE_DIR"] == str(cell.core_dir)
        assert "-DFOO=1" in cell.core_command() and cell.core_dir.name == "default-RelWithDebInfo"
    assert len(plan.core_cells) == 1  # one core for every Python


def test_bad_build_type_and_jobs(tmp_path):
    with pytest.raises(WheelkitError, match="CABLESIM_BUILD_TYPE='Fast' is not a CMake build type"):
        make_plan(FOUND, (), root=tmp_path, version="1", environ={"CABLESIM_BUILD_TYPE": "Fast"})
    with pytest.raises(WheelkitError, match="--jobs must be at least 1, got 0"):
        make_plan(FOUND, (), root=tmp_path, version="1", jobs=0)


def test_default_jobs_follow_the_cores(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert make_plan(FOUND, (), root=tmp_path, version="1", environ={}).jobs == min(len(FOUND), 3)  # cores + 1
    assert make_plan(FOUND[:1], (), root=tmp_path, version="1", environ={}).jobs == 1


def test_expected_platform():
    assert expected_platform("aarch64", {"AUDITWHEEL_PLAT": "manylinux_2_28_aarch64"}) == "manylinux_2_28_aarch64"
    host = expected_platform("x86_64", {})
    assert host.startswith("manylinux_2_") and host.endswith("_x86_64")
    assert int(host.split("_")[2]) <= 38  # gcc/glibc >= 2.38 hosts give at best manylinux_2_38


def test_wheel_file_names_use_the_normalized_distribution(tmp_path):
    assert filename_name("Cable-Sim.nightly") == "cable_sim_nightly"
    plan = make_plan(FOUND[:1], (), root=tmp_path, version="1", distribution="Cable-Sim.nightly",
                     environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    assert plan.cells[0].output_name.startswith("cable_sim_nightly-1-")


def test_plan_commands_are_pasteable_shell_with_nothing_left_to_fill_in(tmp_path, monkeypatch):
    import subprocess

    from wheelkit.builds.plan import VARIANTS, Variant

    monkeypatch.setitem(VARIANTS, "gpu", Variant("gpu", (("CABLESIM_GPU", "ON"),), ("libcuda.so.*",)))
    root = tmp_path / "my checkout"  # a space: every path must be quoted
    root.mkdir()
    (root / "pyproject.toml").write_text((tmp_path / "pyproject.toml").read_text())
    python = Interpreter((3, 11, 0), Path(sys.executable))
    plan = make_plan((python,), ("gpu",), root=root, version="1", environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    (cell,) = plan.cells
    tools = tmp_path / "tools bin"
    lines = plan_commands(plan, tools_bin=tools)
    script = "\n".join(lines)
    assert "<" not in script and "each compiled library" not in script
    assert subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False).stderr == ""
    repair = next(line for line in lines if "auditwheel" in line)
    assert "--exclude 'libcuda.so.*'" in repair
    assert repair.endswith(f"'{root}/build/staging/cp311-gpu/split/'*.whl")  # the one wheel that step wrote
    assert f"'{tools}/auditwheel' repair" in repair and f"PATH='{tools}:'\"$PATH\" " in repair
    build = next(line for line in lines if "import build_wheel" in line)
    assert shlex.split(build)[:2] == ["cd", str(root)]
    assert shlex.split(build)[-len(cell.wheel_command()):] == cell.wheel_command()  # quoted, not rewritten
    assert f"'{root}/build/staging/cp311-gpu/unpacked/'*" in script  # the one folder wheel unpack made
    loop = lines[lines.index(next(line for line in lines if line.endswith("do"))):]
    assert loop[1:4] == [
        f"mkdir -p '{root}/build/staging/cp311-gpu/debug/'\"$(dirname \"$lib\")\"",
        f"objcopy --only-keep-debug \"$lib\" '{root}/build/staging/cp311-gpu/debug/'\"$lib\".debug",
        f"objcopy --strip-all '--add-gnu-debuglink={root}/build/staging/cp311-gpu/debug/'\"$lib\".debug \"$lib\"",
    ] and loop[4] == "done"


def test_the_plan_marks_a_build_environment_that_will_be_reused(tmp_path):
    plan = make_plan(FOUND[:2], (), root=tmp_path, version="1", environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    ready, fresh = plan.cells
    ready.env_python.parent.mkdir(parents=True)
    ready.env_python.touch()
    ready.build_env.record()
    lines = plan_commands(plan)
    assert f"# reused: the build environment {ready.env_dir} (its [build-system] requirements are installed)" in lines
    made = [line for line in lines if " venv " in line]
    assert len(made) == 1 and str(fresh.env_dir) in made[0] and str(ready.env_dir) not in "".join(made)
    asked = [line for line in lines if "get_requires_for_build_wheel" in line]
    assert len(asked) == 2 and all(line.startswith(f"cd {tmp_path} && ") for line in asked)  # both, every run
    assert shlex.split(asked[0])[-len(ready.build_env.ask_command(ready.config_settings())):] == \
        ready.build_env.ask_command(ready.config_settings())


@pytest.mark.parametrize("name", ["_core.cpython-311-x86_64-linux-gnu.so", "libcablesim_mpi_mpich.so", "libgomp.so.1",
                                  "_core.cpython-312-darwin.so", "libomp.dylib", "__init__.py", "cablesim-build.json"])
def test_the_plans_library_loop_finds_what_the_build_splits(name):
    import fnmatch

    from wheelkit.builds.plan import LIBRARY_NAMES
    from wheelkit.builds.targets import LINUX

    for target in (LINUX, MACOS):
        assert any(fnmatch.fnmatch(name, p) for p in LIBRARY_NAMES[target.name]) == target.is_library(name)


def test_the_plan_shows_which_build_folders_will_be_configured_afresh(tmp_path, monkeypatch):
    import os

    from wheelkit.builds.configure import CONFIGURE_RECORD, configure_record

    plan = make_plan(FOUND[:1], (), root=tmp_path, version="1", environ={"AUDITWHEEL_PLAT": "manylinux_2_28_x86_64"})
    (cell,) = plan.cells
    monkeypatch.delenv("CXXFLAGS", raising=False)
    current = cell.core_configure_inputs({**os.environ, **plan.compile_variables(cell, core=True)})
    cell.core_dir.mkdir(parents=True)
    (cell.core_dir / CONFIGURE_RECORD).write_text(configure_record(current))
    assert not any(line.startswith("rm -rf") and str(cell.core_dir) in line for line in plan_commands(plan))
    monkeypatch.setenv("CXXFLAGS", "-O3")
    assert f"rm -rf {cell.core_dir}  # configured with other inputs: CXXFLAGS" in plan_commands(plan)
