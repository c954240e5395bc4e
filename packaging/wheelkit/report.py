"""Tables for the plan and the summary: rich when it is installed, plain text otherwise."""

from __future__ import annotations

from typing import Sequence

from .build import CellResult
from .plan import Plan


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        return "\n".join(lines)
    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    console = Console(width=160, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def plan_table(plan: Plan) -> str:
    rows = [
        (c.python.dotted, c.variant, c.platform_tag, c.wheel_tag, c.output_name, str(c.python.path))
        for c in plan.cells
    ]
    title = f"Build plan: {len(plan.cells)} wheel(s), {plan.jobs} in parallel, into {plan.wheelhouse}"
    return _table(title, ("python", "variant", "platform", "expected tag", "output", "interpreter"), rows)


def summary_table(results: Sequence[CellResult]) -> str:
    rows = []
    for r in results:
        tag = r.cell.wheel_tag if r.status == "built" else "-"
        size = f"{r.size / 1e6:.2f} MB" if r.size else "-"
        vendored = ", ".join(r.vendored) or "none"
        rows.append((r.cell.python.dotted, r.cell.variant, tag, size, vendored, f"{r.seconds:.1f} s", r.status))
    built = sum(r.status == "built" for r in results)
    title = f"Summary: {built} of {len(results)} wheel(s) built"
    return _table(title, ("python", "variant", "tag", "size", "vendored libraries", "time", "status"), rows)
