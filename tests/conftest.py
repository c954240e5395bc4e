"""Shared model builders. Reference values come from NEURON 9.0.2 (fixed step, dt 0.025 ms, v_init -65 mV,
celsius 6.3), measured with NEURON itself; tests/test_against_neuron.py re-measures them when NEURON is installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

import cablesim


def build_hh_soma() -> tuple[cablesim.Model, cablesim.Section]:
    """NEURON's classic single compartment: L = diam = 18.8 um, Ra 123, hh, IClamp(0.5) 5 ms / 1 ms / 0.1 nA."""
    model = cablesim.Model()
    soma = model.Section("soma", L=18.8, diam=18.8, nseg=1, Ra=123, cm=1).insert("hh")
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.1)
    return model, soma


def build_passive_cable(nseg: int = 101) -> tuple[cablesim.Model, cablesim.Section]:
    """1000 um x 1 um passive cable (g 1e-4 S/cm2, e -65 mV, Ra 100), 0.01 nA DC into x = 0 from t = 0."""
    model = cablesim.Model()
    cable = model.Section("cable", L=1000, diam=1, nseg=nseg, Ra=100, cm=1).insert("pas", g=1e-4, e=-65)
    model.IClamp(cable(0), delay=0, dur=1e9, amp=0.01)
    return model, cable


def build_ball_and_stick(model: cablesim.Model, name: str, dend_nseg: int = 11) -> tuple[cablesim.Section, ...]:
    """The NEURON ring tutorial's cell: hh soma, passive dendrite, an ExpSyn at dend(0.5)."""
    soma = model.Section(f"{name}.soma", L=12.6157, diam=12.6157, Ra=100).insert("hh")
    dend = model.Section(f"{name}.dend", L=200, diam=1, nseg=dend_nseg, Ra=100).insert("pas", g=0.001, e=-65)
    dend.connect(soma(1))
    return soma, dend


@pytest.fixture
def hh_soma() -> tuple[cablesim.Model, cablesim.Section]:
    return build_hh_soma()


@pytest.fixture
def passive_cable() -> tuple[cablesim.Model, cablesim.Section]:
    return build_passive_cable()


ROOT = Path(__file__).resolve().parents[1]


def run_checked(command: list[str], cwd: Path, env: Optional[dict[str, str]] = None) -> str:
    """Run a command that must succeed; its output (nox logs to stderr) is in the failure message."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def _git_names(options: list[str]) -> list[str]:
    listing = subprocess.run(["git", "ls-files", *options, "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return listing.stdout.split("\0")


def copy_of_this_checkout(destination: Path) -> Path:
    """A clone with the working tree's changes committed on top: clean, with a .git for setuptools-scm, and with
    the code under test (not only what was committed)."""
    run_checked(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(destination)], ROOT)
    changed = _git_names(["--modified", "--others", "--exclude-standard"])
    for name in filter(None, changed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    for name in filter(None, _git_names(["--deleted"])):
        (destination / name).unlink(missing_ok=True)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    run_checked([*git, "add", "--all"], destination)
    run_checked([*git, "commit", "--quiet", "--allow-empty", "-m", "the working tree under test"], destination)
    return destination


def require(condition: bool, reason: str, variable: str) -> None:
    """Skip a test whose prerequisite is missing, unless `variable`=1 (as .ci/run sets): then it is a failure."""
    if not condition:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{variable}=1 but {reason}")
        pytest.skip(reason)


# --- the container tests (test_image, test_readme, test_newest_pythons, test_workflow_run) ---------------------------
MIRROR = "http://deb.debian.org/debian"


def _wheelkit_importable() -> None:
    if str(ROOT / "packaging") not in sys.path:
        sys.path.insert(0, str(ROOT / "packaging"))


def cache_folder() -> Path:
    """Folders the slow tests keep between runs (ccache): $CABLESIM_TEST_CACHE, else ~/.cache/cablesim-tests."""
    return Path(os.environ.get("CABLESIM_TEST_CACHE", Path.home() / ".cache" / "cablesim-tests"))


def require_container_tools(variable: str) -> str:
    """What every podman test needs here (Linux, podman, root and debootstrap for the base images, invoke for the
    image tasks): podman's path, else skipped (or failed under `variable`=1)."""
    import importlib.util

    require(sys.platform.startswith("linux"), "needs Linux", variable)
    podman = shutil.which("podman")
    require(podman is not None, "podman is not installed (apt-get install podman runc)", variable)
    require(shutil.which("debootstrap") is not None and os.geteuid() == 0, "needs root and debootstrap", variable)
    require(importlib.util.find_spec("invoke") is not None, "invoke is not installed (the test group)", variable)
    assert podman is not None
    return podman


def podman_engine() -> Any:
    """wheelkit's podman Engine, with this host's limits (podman's own defaults can exceed them)."""
    _wheelkit_importable()
    from wheelkit.image import make_engine

    return make_engine("podman", shutil.which("podman") or "podman")


def image_exists(reference: str) -> bool:
    _wheelkit_importable()
    from wheelkit.image import exists_command

    return subprocess.run(exists_command(podman_engine(), reference), capture_output=True, check=False).returncode == 0


class Steps:
    """A slow test's commands, each timed and required to succeed (its output's tail in the failure message); a
    timeout keeps a hang from holding CI to its limit."""

    def __init__(self, cwd: Path, timeout: Optional[float] = None) -> None:
        self.cwd, self.timeout = cwd, timeout
        self.timings: dict[str, float] = {}

    def run(self, name: str, command: list[str], cwd: Optional[Path] = None, env: Optional[dict[str, str]] = None,
            timeout: Optional[float] = None) -> str:
        import time

        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=cwd or self.cwd, env=env, capture_output=True, text=True, check=False,
                                  stdin=subprocess.DEVNULL, timeout=timeout or self.timeout)
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{name}: `{' '.join(command)}` failed (exit {done.returncode}):\n" \
                                     f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return output

    def report(self, title: str) -> str:
        return f"{title}: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.timings.items())


def local_image(suite: str, containerfile: Path, prefix: str, steps: Steps) -> str:
    """The tag of a podman image built from `containerfile` on a debootstrap `suite` base (localhost/cablesim-base:
    SUITE), both built with `invoke image.*` when missing; the tag (PREFIX-SUITE-HASH) is keyed by the suite, the
    mirror and the Containerfile, so later runs, and other tests with the same Containerfile, reuse the image."""
    _wheelkit_importable()
    from wheelkit.image import image_reference

    base = f"localhost/cablesim-base:{suite}"
    key = hashlib.sha256(f"{suite} {MIRROR}\n".encode() + containerfile.read_bytes()).hexdigest()[:12]
    tag = f"{prefix}-{suite}-{key}"
    invoke = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]
    if not image_exists(base):
        steps.run("debootstrap", [*invoke, "image.base", "--suite", suite, "--mirror", MIRROR, "--engine", "podman"],
                  cwd=ROOT)
    if not image_exists(image_reference(tag)):
        steps.run("image", [*invoke, "image.build", "--tag", tag, "--file", str(containerfile), "--base", base,
                            "--engine", "podman"], cwd=ROOT)
    return tag


STAND_IN = ROOT / "packaging" / "test-image" / "Containerfile"  # the bullseye stand-in for the manylinux image


def stand_in_image(steps: Steps) -> str:
    """The tag of the bullseye stand-in for the manylinux image (built when missing): tests/test_image.py builds in
    it, and tests/test_workflow_run.py runs wheels.yml's build job in it."""
    return local_image("bullseye", STAND_IN, "test", steps)


def stand_in_ccache() -> Path:
    """The ccache folder of the builds in the stand-in image, kept between runs and shared by its tests."""
    return cache_folder() / "ccache-test-image"


def nox_command() -> list[str]:
    """nox: importable here, else on PATH (the README installs it with pip; the tests session runs under it)."""
    import importlib.util

    if importlib.util.find_spec("nox"):
        return [sys.executable, "-m", "nox"]
    found = shutil.which("nox")
    if found is None:
        pytest.fail("nox is neither importable nor on PATH: python3 -m pip install nox")
    return [found]


THIS_PYTHON_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


@pytest.fixture(scope="session")
def cablesim_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repaired cablesim wheel for the Python running the tests, built once per session by `nox -s build_linux`
    in a clone of the code under test (about 2 minutes on 2 cores). CABLESIM_TEST_WHEELS=FOLDER takes this
    Python's wheel from a folder instead (it must be there)."""
    given = os.environ.get("CABLESIM_TEST_WHEELS", "")
    if given:
        found = sorted(Path(given).glob(f"cablesim-*-{THIS_PYTHON_TAG}-{THIS_PYTHON_TAG}-*.whl"))
        assert found, f"CABLESIM_TEST_WHEELS={given} has no {THIS_PYTHON_TAG} cablesim wheel"
        return found[-1]
    if not sys.platform.startswith("linux"):
        pytest.skip("the real-wheel tests build with `nox -s build_linux`, on Linux")
    source = copy_of_this_checkout(tmp_path_factory.mktemp("wheel-build") / "checkout")
    dotted = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CABLESIM_TEST_WHEELS")}
    run_checked([*nox_command(), "-f", str(source / "noxfile.py"), "-s", "build_linux", "--", dotted], source, env)
    (wheel,) = (source / "wheelhouse").glob(f"cablesim-*-{THIS_PYTHON_TAG}-{THIS_PYTHON_TAG}-*.whl")
    return wheel


def installed_tool(name: str) -> str:
    """A program from the test extra (a linter): next to this Python, else on PATH; skips the test without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (the test group: pip install --group test)")
    return found
