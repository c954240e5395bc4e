"""The tables of `nox -s test_wheels`: one line per wheel, and what failed with how to reproduce it."""

from __future__ import annotations

from collections.abc import Sequence

from ..tables import render_table
from .results import FAILED, PASSED, SKIPPED, WheelReport


def summary_table(reports: Sequence[WheelReport]) -> str:
    rows = [
        (r.python, r.label, str(r.count(PASSED)), str(r.count(FAILED)), str(r.count(SKIPPED)), f"{r.seconds:.1f} s",
         f"{r.seconds_without_selftest:.1f} s", "FAILED" if r.failed else "ok")
        for r in reports
    ]
    good = sum(not r.failed for r in reports)
    return render_table(f"Wheel tests: {good} of {len(reports)} wheel(s) passed", (
        "python", "wheel", "passed", "failed", "skipped", "time", "without self-test", "result"), rows)


def failure_summary(reports: Sequence[WheelReport]) -> str:
    """What failed, why, and how to reproduce it ('' when nothing failed)."""
    lines = []
    for report in reports:
        for result in report.failed:
            lines.append(f"{report.python} {report.label}: {result.name} FAILED\n    "
                         + result.detail.replace("\n", "\n    "))
            if result.reproduce:
                lines.append(f"    reproduce the check: {result.reproduce}")
        if report.failed:
            if report.log:
                lines.append(f"    the job's log: {report.log}")
            if report.reproduce:
                lines.append(f"    reproduce the job: {report.reproduce}")
            if report.kept:
                lines.append(f"    kept for inspection: {report.kept}")
            if report.kept_unpacked:
                lines.append(f"    the unpacked artifacts, kept too: {report.kept_unpacked}")
    return "\n".join(lines)
