"""Tables for the plan and the summary: rich when it is installed, plain text otherwise."""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..tables import render_table
from .builder import CellResult, Status
from .plan import Plan

if TYPE_CHECKING:
    from typing_extensions import Self  # annotations only: never imported at run time


def plan_table(plan: Plan) -> str:
    rows = [
        (c.python.dotted, c.variant.label, c.platform_tag, c.wheel_tag,
         str(plan.output_dir(c).relative_to(plan.wheelhouse) / c.output_name), str(c.python.path))
        for c in plan.cells
    ]
    title = f"Build plan: {len(plan.cells)} wheel(s), {plan.jobs} in parallel, into {plan.wheelhouse}"
    return render_table(title, ("python", "variant", "platform", "expected tag", "output", "interpreter"), rows)


def summary_table(results: Sequence[CellResult]) -> str:
    rows = []
    for r in results:
        tag = r.cell.wheel_tag if r.ok else "-"
        size = f"{r.size / 1e6:.2f} MB" if r.size else "-"
        vendored = ", ".join(r.vendored) or "none"
        rows.append((r.cell.python.dotted, r.cell.variant.label, tag, size, vendored, f"{r.seconds:.1f} s", str(r.status)))
    built = sum(r.status == Status.BUILT for r in results)
    kept = sum(r.status == Status.UP_TO_DATE for r in results)
    title = f"Summary: {built} of {len(results)} wheel(s) built" + (f", {kept} up to date (kept)" if kept else "")
    return render_table(title, ("python", "variant", "tag", "size", "vendored libraries", "time", "status"), rows)


SUMMARY_TAIL_LINES = 8  # of a failing step's output in the final report (the live log line has more)
_ERROR_LINE = re.compile(r"error|failed|fatal", re.IGNORECASE)


def _key_lines(tail: Sequence[str]) -> list[str]:
    """The lines of a failing step's output that say what went wrong (CMake and ninja end with many others)."""
    errors = [line.strip() for line in tail if _ERROR_LINE.search(line)]
    return (errors or [line.strip() for line in tail])[-SUMMARY_TAIL_LINES:]


def failure_report(results: Sequence[CellResult]) -> str:
    """Why each wheel was not built: a failure shared by several (their core did not compile) is said once, with the
    failing step's last lines and the log that has them all."""
    groups: dict[tuple[str, str, tuple[str, ...], str], list[str]] = {}
    for r in results:
        if not r.ok:
            groups.setdefault((r.status, r.message, r.tail, str(r.log_path or "")), []).append(r.cell.key)
    lines: list[str] = []
    for (status, message, tail, log_path), keys in groups.items():
        headline, *rest = message.splitlines() or [""]
        lines.append(f"{', '.join(keys)}: {headline if status == Status.FAILED else f'{status}: {headline}'}")
        lines += [f"    {line}" for line in (*rest, *_key_lines(tail))]
        if status == Status.FAILED and log_path:
            lines.append(f"  log: {log_path}")
    return "\n".join(lines)


class RichProgress:
    """Live progress on a terminal: a bar of wheels done, and one line per wheel with its current step and time."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.fields[key]:<18}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.description}"),
        )
        self._overall = self._progress.add_task("", total=total, key="wheels built")
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._progress.stop()

    def _task(self, key: str) -> Any:
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task("", total=1, key=key)
        return self._tasks[key]

    def step(self, key: str, message: str, done: bool = False) -> None:
        self._progress.update(self._task(key), description=message, completed=1 if done else 0)

    def finished(self, result: CellResult) -> None:
        text = f"{result.status}: {result.wheel.name}" if result.wheel else f"{result.status}"
        self._progress.update(self._task(result.cell.key), description=text, completed=1)
        self._progress.advance(self._overall)
