"""The plan as a pasteable shell script: every command the build runs, in order (`--plan` prints it; the Builder runs
the same command lists)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from .configure import changed_configure_inputs
from .environment import ENVIRONMENT_VARIABLES
from .plan import LIBRARY_NAMES, Cell, Plan

# Words the plan's commands leave to the shell (unquoted) in arguments it otherwise quotes: what only the run knows.
ONE_WHEEL = "\0one-wheel"  # the one wheel a step wrote into a folder (the build checks there is exactly one)
ONE_FOLDER = "\0one-folder"  # the one folder `wheel unpack` made
EACH_LIBRARY = "\0library"  # a compiled library of the unpacked wheel: the loop's variable
LIBRARY_FOLDER = "\0library-folder"  # that library's folder
INHERITED_PATH = "\0path"
_LIVE = {ONE_WHEEL: "*.whl", ONE_FOLDER: "*", EACH_LIBRARY: '"$lib"', LIBRARY_FOLDER: '"$(dirname "$lib")"',
         INHERITED_PATH: '"$PATH"'}
_LIVE_WORDS = re.compile("(" + "|".join(map(re.escape, sorted(_LIVE, key=len, reverse=True))) + ")")


def shell_word(argument: str) -> str:
    """One argument as the shell must see it: shlex-quoted, with the live words above left to the shell."""
    parts = [part for part in _LIVE_WORDS.split(argument) if part]
    return "".join(_LIVE.get(part) or shlex.quote(part) for part in parts) or "''"


def shell_join(command: Sequence[str]) -> str:
    """A command as a maintainer pastes it (shlex.join, and the live words)."""
    return " ".join(shell_word(argument) for argument in command)


def _wipe_lines(folder: Path, inputs: Mapping[str, object]) -> list[str]:
    """The build folder's removal, when it was configured from other inputs (Builder: fresh_build_folder)."""
    changed = changed_configure_inputs(folder, inputs)
    reason = " ".join(changed.split())  # one line
    return [f"{shell_join(['rm', '-rf', str(folder)])}  # configured with other inputs: {reason}"] if changed else []


def _assignments(variables: Mapping[str, str]) -> str:
    return "".join(f"{name}={shell_word(value)} " for name, value in variables.items())


def plan_commands(plan: Plan, *, tools_bin: Path | None = None) -> list[str]:
    """Every command the build runs, in order, shell-quoted as a maintainer pastes them (tools_bin: where the
    repair tool and wheel are). What only the run knows is left to the shell: the one wheel a step wrote
    (*.whl) and each compiled library (a loop); what wheelkit does itself is a comment."""
    wheel_tool = str(tools_bin / "wheel") if tools_bin else "wheel"
    repair_tool = str(tools_bin / plan.target.repair_tool) if tools_bin else plan.target.repair_tool
    tools_path = {"PATH": f"{tools_bin}:{INHERITED_PATH}"} if tools_bin else {}
    lines: list[str] = []
    for cell in plan.core_cells:
        variables = plan.compile_variables(cell, core=True)
        lines += _wipe_lines(cell.core_dir, cell.core_configure_inputs({**os.environ, **variables}))
        lines += [_assignments(variables) + shell_join(command)
                  for command in (cell.core_command(), cell.core_build_command())]
    uv = shutil.which("uv")
    for cell in plan.cells:
        environment = cell.build_env
        if environment.ready():
            lines.append(f"# reused: the build environment {shell_word(str(cell.env_dir))} (its [build-system] "
                         "requirements are installed)")
        else:
            lines.append(shell_join(["rm", "-rf", str(cell.env_dir)]))
            lines += [_assignments(ENVIRONMENT_VARIABLES) + shell_join(c) for c in environment.create_commands(uv)]
        lines.append(f"cd {shell_word(str(cell.root))} && {_assignments(plan.compile_variables(cell))}"
                     + shell_join(environment.ask_command(cell.config_settings())))
        lines.append(f"# wheelkit: installs what {shell_word(str(environment.answer))} lists that the environment "
                     f"lacks, and records it with [build-system]'s in {shell_word(str(environment.stamp))}")
        lines.append(f"{shell_join(['rm', '-rf', str(cell.staging_dir)])} && "
                     f"{shell_join(['mkdir', '-p', str(cell.staging_dir / 'raw')])}")
        variables = plan.compile_variables(cell)
        lines += _wipe_lines(cell.build_dir, cell.bindings_configure_inputs({**os.environ, **variables}))
        lines.append(f"cd {shell_word(str(cell.root))} && {_assignments(variables)}"
                     + shell_join(cell.wheel_command()))
        to_repair = str(cell.staging_dir / "raw" / ONE_WHEEL)
        if cell.debug_info == "split":
            lines.append(shell_join(cell.unpack_command(wheel_tool, to_repair)))
            lines += _split_debug_lines(plan, cell)
            lines.append(shell_join(["mkdir", str(cell.staging_dir / "split")]))
            lines.append(shell_join(cell.pack_command(wheel_tool, str(cell.unpack_dir / ONE_FOLDER))))
            to_repair = str(cell.staging_dir / "split" / ONE_WHEEL)
        lines.append(_assignments({**dict(cell.environment), **tools_path}) + shell_join(plan.target.repair_command(
            repair_tool, to_repair, cell.platform_tag, str(cell.staging_dir / "repaired"), cell.python.machine,
            cell.variant.repair_excludes)))
        lines.append(f"# wheelkit: checks the repaired wheel, then moves it (and its debug archive) into "
                     f"{shell_word(str(plan.output_dir(cell)))}")
    return lines

def _split_debug_lines(plan: Plan, cell: Cell) -> list[str]:
    """The debug-information split as a loop over the unpacked wheel's compiled libraries (Builder.
    split_debug_information runs the same commands per library), then the archive wheelkit writes."""
    names = " -o ".join(f"-name {shlex.quote(pattern)}" for pattern in LIBRARY_NAMES[plan.target.name])
    debug_file = f"{cell.debug_dir}/{plan.target.debug_file(EACH_LIBRARY)}"
    return [
        (f"cd {shell_word(str(cell.unpack_dir / ONE_FOLDER))} && find . -type f \\( {names} \\) "
         "| while IFS= read -r lib; do"),
        shell_join(["mkdir", "-p", f"{cell.debug_dir}/{LIBRARY_FOLDER}"]),
        *(shell_join(c) for c in plan.target.split_debug_commands(EACH_LIBRARY, debug_file, cell.python.machine)),
        "done",
        (f"# wheelkit (tarfile): {shell_word(str(cell.debug_dir))}/* -> "
         f"{shell_word(str(cell.staging_dir / cell.debug_archive_name))}"),
    ]
