# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Time `nox -s test_wheels` on a wheelhouse's wheels: one after another (--jobs 1) against in parallel (one per core),
a single wheel five times (median), and what each check costs. See benchmarks/README.md, "Wheel tests".

    python benchmarks/test_wheels.py                              # wheelhouse/ of this checkout
    python benchmarks/test_wheels.py --checkout /tmp/h17 --baseline /tmp/h17-old --single 3.12
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_LINE = re.compile(r"^(PASSED|SKIPPED|FAILED)\s+(\S+)\s+(.+?)\s+(\d+\.\d+) s  (.*)$", re.MULTILINE)
BACKGROUND = re.compile(r"(\d+\.\d+) s in the background")  # work a check started with the job, besides its wait
SUMMARY_ROW = re.compile(r"^(\S+)\s+(\S+\.whl)\s+\d+\s+(\d+)\s+\d+\s+(\d+\.\d) s\s+(\d+\.\d) s\s+(ok|FAILED)\s*$",
                         re.MULTILINE)


def test_wheels(checkout: Path, *arguments: str) -> tuple[float, str]:
    """One `nox -s test_wheels` (its environment reused: only the test is timed) and its output."""
    command = ["nox", "--no-install", "--reuse-existing-virtualenvs", "-s", "test_wheels", "--", *arguments]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {checkout} (exit {done.returncode}):\n{done.stdout[-3000:]}"
                 f"{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def summary(output: str) -> list[tuple[str, float, float]]:
    """(python, time, time without the self-test) per wheel, from the summary table."""
    return [(m[1], float(m[4]), float(m[5])) for m in SUMMARY_ROW.finditer(output)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose test_wheels is timed")
    parser.add_argument("--wheelhouse", type=Path, help="the wheels (default: the checkout's wheelhouse/)")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. the commit before) to time serially")
    parser.add_argument("--single", default="3.12", help="the Python of the single wheel (3.12)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the single wheel (5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    wheelhouse = str((args.wheelhouse or args.checkout / "wheelhouse").resolve())
    load_before = os.getloadavg()[0]
    test_wheels(args.checkout, "--wheelhouse", wheelhouse, "3.12")  # warm: uv's cache, the nox environment

    runs: dict[str, float] = {}
    if args.baseline:
        test_wheels(args.baseline, "--wheelhouse", wheelhouse, "3.12")
        runs["before (serial)"], _ = test_wheels(args.baseline, "--wheelhouse", wheelhouse)
    runs["serial (--jobs 1)"], serial_output = test_wheels(args.checkout, "--wheelhouse", wheelhouse, "--jobs", "1")
    runs["parallel (default)"], parallel_output = test_wheels(args.checkout, "--wheelhouse", wheelhouse)
    wheels = len(summary(parallel_output))

    singles = [test_wheels(args.checkout, args.single, wheelhouse) for _ in range(args.repeat)]
    rows = [summary(output)[0] for _, output in singles]
    single = {"wall": statistics.median(s for s, _ in singles), "time": statistics.median(r[1] for r in rows),
              "without self-test": statistics.median(r[2] for r in rows)}

    costs: dict[str, list[float]] = defaultdict(list)
    for _, _, name, seconds, detail in CHECK_LINE.findall(serial_output):
        costs[name].append(float(seconds) + sum(float(s) for s in BACKGROUND.findall(detail)))
    checks = {name: statistics.mean(values) for name, values in costs.items()}
    load_after = os.getloadavg()[0]

    print(f"{wheels} wheels, {os.cpu_count()} cores, load average {load_before:.1f} before, {load_after:.1f} after")
    reference = runs.get("before (serial)", runs["serial (--jobs 1)"])
    for name, seconds in runs.items():
        print(f"  {name:22s} {seconds:6.1f} s  {seconds / reference:5.2f}x")
    print(f"  single wheel ({args.single}), median of {args.repeat}: {single['wall']:.1f} s wall, job "
          f"{single['time']:.1f} s, without self-test {single['without self-test']:.1f} s (goal <= 5 s)")
    print("  each check's cost (its time plus its work in the background), mean over the wheels of the serial run:")
    for name, seconds in sorted(checks.items(), key=lambda item: -item[1]):
        print(f"    {name:24s} {seconds:5.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "load_before": load_before, "load_after": load_after,
                                         "wheels": wheels, "runs": runs, "single": single, "checks": checks}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
