"""noxfile.py's `nox.needs_version` is the oldest nox that runs it: that nox, installed from PyPI into an environment
of its own, lists the sessions; the release before it does not (so the bound is not lower than it must be). The
script block's bound is the same (an older nox would install that one and rerun)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The nox release just before the oldest that works (it lacks nox.options.download_python).
OLDER_THAN_NEEDED = "2025.5.1"


def needs_version() -> str:
    match = re.search(r"^nox\.needs_version = \">=([\d.]+)\"", (ROOT / "noxfile.py").read_text(), re.MULTILINE)
    assert match, "noxfile.py must set nox.needs_version = \">=X\""
    assert f'# dependencies = ["nox>={match.group(1)}"]' in (ROOT / "noxfile.py").read_text()
    return match.group(1)


def nox_list(version: str, tmp_path: Path, noxfile: Path = ROOT / "noxfile.py") -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    venv = tmp_path / f"nox-{version}"
    if not venv.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"nox=={version}"],
                       check=True)
    # --script-mode none: an older nox would otherwise install the one the noxfile's script block names and rerun
    return subprocess.run([str(venv / "bin" / "nox"), "--script-mode", "none", "-l", "-f", str(noxfile)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


@pytest.mark.slow
def test_the_oldest_nox_allowed_runs_the_noxfile_and_the_one_before_does_not(tmp_path):
    oldest = nox_list(needs_version(), tmp_path)
    assert oldest.returncode == 0, oldest.stderr[-2000:]
    assert "build_linux" in oldest.stdout and "test_wheels" in oldest.stdout
    refused = nox_list(OLDER_THAN_NEEDED, tmp_path)
    assert refused.returncode != 0 and f"requires Nox >={needs_version()}" in refused.stderr
    # Without the bound, the release before would fail on what the noxfile uses: the bound is not too high.
    unbound = tmp_path / "noxfile.py"
    unbound.write_text(re.sub(r"^nox\.needs_version = .*$", "", (ROOT / "noxfile.py").read_text(), flags=re.MULTILINE))
    older = nox_list(OLDER_THAN_NEEDED, tmp_path, unbound)
    assert older.returncode != 0 and "download_python" in older.stderr, older.stderr[-2000:]
