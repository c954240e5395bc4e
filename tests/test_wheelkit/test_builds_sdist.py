"""wheelkit.builds.sdist: the sdist's version is pinned, or git's from a clean checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.builds.sdist import sdist_environment


def test_the_sdist_is_pinned_or_refused_from_a_tree_that_is_no_commit(tmp_path):

    assert sdist_environment(["--version", "9.0a"], tmp_path, {}) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "9.0a0"}
    assert sdist_environment([], tmp_path, {"SETUPTOOLS_SCM_PRETEND_VERSION": "2.0"}) == {
        "SETUPTOOLS_SCM_PRETEND_VERSION": "2.0"}
    with pytest.raises(WheelkitError, match="refusing to build the sdist: .* is not a git checkout"):
        sdist_environment([], tmp_path, {})
    with pytest.raises(WheelkitError, match="not a PEP 440 version"):
        sdist_environment(["--version", "nine"], tmp_path, {})
    with pytest.raises(WheelkitError, match="unrecognized arguments: --fast"):
        sdist_environment(["--fast"], tmp_path, {})


def test_the_sdist_job_moves_the_archive_into_the_wheelhouse_only_when_the_build_worked(tmp_path, monkeypatch):
    from wheelkit.builds import sdist

    monkeypatch.chdir(tmp_path)
    built: list[dict[str, str]] = []

    def build(command, *, env=None, cwd=None):
        built.append(dict(env or {}))
        outdir = Path(command[command.index("--outdir") + 1])
        outdir.mkdir(parents=True)
        (outdir / "cablesim-9.0a0.tar.gz").write_bytes(b"an sdist")
        return 0 if len(built) == 1 else 1

    monkeypatch.setattr(sdist, "run_shown", build)
    lines: list[str] = []
    assert sdist.main(["--version", "9.0a"], lines.append) == 0
    assert built[0]["SETUPTOOLS_SCM_PRETEND_VERSION"] == "9.0a0"
    assert lines == [f"sdist: {tmp_path / 'wheelhouse' / 'cablesim-9.0a0.tar.gz'}"]
    (tmp_path / "wheelhouse" / "cablesim-9.0a0.tar.gz").unlink()
    with pytest.raises(WheelkitError, match=r"building the sdist failed \(exit 1\)"):
        sdist.main(["--version", "9.0a"], lines.append)
    assert not list((tmp_path / "wheelhouse").iterdir())
