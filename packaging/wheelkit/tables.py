"""Tables for reports (build plans, summaries, wheel tests): rich when it is installed, plain text otherwise."""

from __future__ import annotations

from collections.abc import Sequence


def render_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A titled table: rich's when it is installed, plain aligned text otherwise."""
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
        table.add_column(header, overflow="fold")  # names and paths must stay whole
    for row in rows:
        table.add_row(*row)
    console = Console(width=160, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()
