"""Tables for the plan and the summary: rich when it is installed, plain text otherwise."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Optional, Sequence

from .build import CellResult
from .plan import Plan
from .tables import render_table


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
        tag = r.cell.wheel_tag if r.status == "built" else "-"
        size = f"{r.size / 1e6:.2f} MB" if r.size else "-"
        vendored = ", ".join(r.vendored) or "none"
        rows.append((r.cell.python.dotted, r.cell.variant.label, tag, size, vendored, f"{r.seconds:.1f} s", r.status))
    built = sum(r.status == "built" for r in results)
    title = f"Summary: {built} of {len(results)} wheel(s) built"
    return render_table(title, ("python", "variant", "tag", "size", "vendored libraries", "time", "status"), rows)


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

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException], trace: Optional[TracebackType]) -> None:
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
