"""What a check gives: passed (with what it saw), failed (with why), or skipped (with the reason); one report per
wheel."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

SELFTEST_CHECK = "self-test"


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:  # the word, in every Python (3.12 formats a str mixin enum by its name)
        return self.value


PASSED, FAILED, SKIPPED = Status.PASSED, Status.FAILED, Status.SKIPPED


@dataclass(frozen=True)
class Skipped:
    """What a check returns when the wheel or the machine lacks what it needs."""

    reason: str


Outcome = Union[str, Skipped]  # a passed check's detail, or why it was skipped


@dataclass
class CheckResult:
    name: str
    status: Status
    seconds: float
    detail: str = ""
    reproduce: str = ""


@dataclass
class WheelReport:
    python: str  # the interpreter, as shown
    label: str  # the wheel's file name, or the spec
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    wheel: Path | None = None
    kept: Path | None = None  # the work folder, kept when something failed
    kept_unpacked: Path | None = None  # the folder a zip of artifacts was unpacked into, kept with a failed wheel
    reproduce: str = ""  # the command that re-runs this job
    log: Path | None = None  # the job's log: every command with its output

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def seconds_without_selftest(self) -> float:
        """The time of the job less the package's own test suite (the figure the goal of 10 s is about)."""
        return self.seconds - sum(r.seconds for r in self.results if r.name == SELFTEST_CHECK)
