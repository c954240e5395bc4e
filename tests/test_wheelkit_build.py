"""wheelkit's Builder: atomic output and cleanup on failure, MPI and tag checks, keep-going, the summary.

The external commands (cmake, pip wheel, auditwheel) are replaced by fakes that write what the real ones write,
so these tests check wheelkit's own logic in milliseconds; the real builds run in the build_linux session."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from wheelkit import WheelkitError, build  # noqa: E402
from wheelkit.interpreters import Interpreter  # noqa: E402
from wheelkit.plan import make_plan  # noqa: E402
from wheelkit.repair import check_excludes_matched, check_no_mpi_bundled, vendored_libraries  # noqa: E402
from wheelkit.report import summary_table  # noqa: E402

PYTHONS = tuple(Interpreter((3, minor, 0), Path(sys.executable)) for minor in (9, 10, 11))
PLAT = "manylinux_2_28_x86_64"


def make_wheel(path: Path, libs: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cablesim/__init__.py", "")
        for lib in libs:
            archive.writestr(f"cablesim.libs/{lib}", b"\x7fELF")


class FakeTools:
    """Stands in for run_logged: records commands and behaves per Python as configured."""

    def __init__(self, fail_wheel: tuple[str, ...] = (), fail_repair: tuple[str, ...] = (),
                 libs: tuple[str, ...] = ("libgomp-a34b3233.so.1.0.0",), wrong_tag: tuple[str, ...] = ()):
        self.fail_wheel, self.fail_repair, self.libs, self.wrong_tag = fail_wheel, fail_repair, libs, wrong_tag
        self.commands: list[list[str]] = []

    def __call__(self, command, log_path, env=None, what=""):
        self.commands.append(list(command))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if "wheel" in command and "pip" in command:
            out = Path(command[command.index("--wheel-dir") + 1])
            tag = next(part for part in out.parts if part.startswith("cp")).split("-")[0]
            if tag in self.fail_wheel:
                raise WheelkitError(f"pip wheel failed (exit 1); last lines of {log_path}:\nerror: boom")
            make_wheel(out / f"cablesim-1.0-{tag}-{tag}-linux_x86_64.whl")
        elif "repair" in command:
            raw = Path(command[-1])
            tag = raw.name.split("-")[2]
            if tag in self.fail_repair:
                raise WheelkitError("auditwheel repair failed (exit 1)")
            out = Path(command[command.index("--wheel-dir") + 1])
            plat = "linux_x86_64" if tag in self.wrong_tag else command[command.index("--plat") + 1]
            make_wheel(out / f"cablesim-1.0-{tag}-{tag}-{plat}.whl", self.libs)


@pytest.fixture
def plan(tmp_path):
    return make_plan(PYTHONS, (), root=tmp_path, version="1.0", jobs=2, environ={"AUDITWHEEL_PLAT": PLAT})


def run_builder(plan, monkeypatch, tools, **options):
    monkeypatch.setattr(build, "run_logged", tools)
    builder = build.Builder(plan, **options)
    monkeypatch.setattr(builder, "ensure_environment", lambda cell, log_path: None)
    return builder.run()


def test_all_wheels_land_in_the_wheelhouse(plan, monkeypatch):
    results = run_builder(plan, monkeypatch, FakeTools())
    assert [r.status for r in results] == ["built"] * 3
    assert sorted(p.name for p in plan.wheelhouse.iterdir()) == sorted(c.output_name for c in plan.cells)
    assert results[0].vendored == ["libgomp-a34b3233.so.1.0.0"]
    assert not any(c.staging_dir.exists() for c in plan.cells)  # nothing left half-way
    table = summary_table(results)
    assert "3 of 3 wheel(s) built" in table and "libgomp-a34b3233.so.1.0.0" in table


def test_core_is_compiled_once_for_all_pythons(plan, monkeypatch):
    tools = FakeTools()
    run_builder(plan, monkeypatch, tools)
    core_builds = [c for c in tools.commands if c[:2] == ["cmake", "--build"]]
    assert len(core_builds) == 1
    assert sum("--no-build-isolation" in c for c in tools.commands) == 3


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
    assert sorted(p.name for p in plan.wheelhouse.iterdir()) == [c.output_name for c in plan.cells[1:]]


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


def test_run_logged_reports_the_log_tail(tmp_path):
    log_path = tmp_path / "logs" / "x.log"
    with pytest.raises(WheelkitError, match=r"step failed \(exit 3\); last lines of .*x.log:\n.*\nsomething broke"):
        build.run_logged([sys.executable, "-c", "print('something broke'); raise SystemExit(3)"], log_path, what="step")
    with pytest.raises(WheelkitError, match="no-such-tool not found"):
        build.run_logged(["no-such-tool"], log_path)
