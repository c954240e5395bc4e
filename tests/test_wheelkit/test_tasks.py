"""tasks.py, the invoke tasks, end to end: invoke's parsing down to wheelkit (the wheelhouse) and to the container
engine's command (the image, with a fake engine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wheelkit.site.pages import FIND_LINKS_PAGE

REPO = Path(__file__).resolve().parents[2]
SITE = "hpc"


def _invoke(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *arguments], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **env}, check=False)


def test_the_invoke_tasks_add_refuse_and_index(house, incoming, site_wheels):
    pytest.importorskip("invoke")
    listing = _invoke("--list")
    assert listing.returncode == 0, listing.stderr
    assert {"wheelhouse.add", "wheelhouse.rewrite", "wheelhouse.index"} <= set(listing.stdout.split())
    unlabelled = site_wheels.synthetic(incoming, name="raw", version="1.0")
    refusal = _invoke("wheelhouse.add", str(unlabelled), "--root", str(house), "--site", SITE)
    assert refusal.returncode == 1
    assert "lacks the local version label '+hpc'" in refusal.stderr and not house.exists()
    rewritten = _invoke("wheelhouse.rewrite", str(unlabelled), "--local-version", SITE, "--out-dir", str(incoming),
                        "--drop", "numpy", "--no-check")
    assert rewritten.returncode == 0, rewritten.stderr
    other = site_wheels.synthetic(incoming, name="other")
    added = _invoke("wheelhouse.add", str(incoming / "raw-1.0+hpc-py3-none-any.whl"), "--root", str(house), "--",
                    str(other), CABLESIM_WHEELHOUSE_SITE=SITE)
    assert added.returncode == 0, added.stderr
    assert "added    generic/raw-1.0+hpc-py3-none-any.whl" in added.stdout
    assert "added    generic/other-1.0+hpc-py3-none-any.whl" in added.stdout
    assert f"generic: pip install --no-index --find-links {house}/simple/generic/{FIND_LINKS_PAGE}" in added.stdout
    assert (house / "simple/generic/raw/index.html").is_file()


def test_invoke_lists_and_runs_the_image_tasks(tmp_path):
    pytest.importorskip("invoke")
    repo = tmp_path / "repo"  # tasks.py and wheelkit alone: the tasks create state folders in their checkout
    (repo / ".git").mkdir(parents=True)
    shutil.copy2(REPO / "tasks.py", repo / "tasks.py")
    shutil.copytree(REPO / "packaging", repo / "packaging", ignore=shutil.ignore_patterns("__pycache__"))
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls"
    (fake / "podman").write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    (fake / "podman").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", CABLESIM_CONTAINER_ENGINE="podman",
               SETUPTOOLS_SCM_PRETEND_VERSION="9.9.9")
    env.pop("SSL_CERT_FILE", None)

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(repo), *args], env=env,
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)

    listing = invoke("--list")
    assert listing.returncode == 0, listing.stderr
    for name in ("image.build", "image.push", "image.shell", "image.run", "image.base"):
        assert name in listing.stdout
    result = invoke("image.run", "--tag", "fake-tag", "--", "nox", "-s", "build_linux", "--", "--plan")
    assert result.returncode == 0, result.stderr
    call = log.read_text().split()
    assert call[:2] == ["run", "--rm"]
    assert call[-6:] == ["cablesim-build:fake-tag", "nox", "-s", "build_linux", "--", "--plan"]
    assert f"{repo}:/cablesim" in call and (repo / "build" / "image-fake-tag" / "nox").is_dir()
    assert "SETUPTOOLS_SCM_PRETEND_VERSION=9.9.9" in call
    assert invoke("image.build", "--arch", "aarch64").returncode == 0
    assert "BASE_IMAGE=quay.io/pypa/manylinux_2_28_aarch64" in log.read_text().splitlines()[-1]
    refused = invoke("image.push")
    assert refused.returncode == 1 and "names no registry" in refused.stderr
