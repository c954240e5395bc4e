"""The image.* options a variable can give (CABLESIM_IMAGE_TAG, _FILE, _BASE, _CCACHE_DIR): a command written in a
workflow (`invoke image.build --arch x86_64`, `invoke image.run --arch x86_64 -- ...`) runs unchanged against another
image, as tests/test_workflow_run.py runs wheels.yml's against the stand-in; an option given still wins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wheelkit.image import OPTION_VARIABLES, option_value

REPO = Path(__file__).resolve().parents[2]


def test_the_option_wins_then_the_variable_then_the_tasks_default():
    environ = {"CABLESIM_IMAGE_TAG": "from-env"}
    assert option_value("tag", "given", environ) == "given"
    assert option_value("tag", "", environ) == "from-env"
    assert option_value("base", "", environ) == ""
    assert set(OPTION_VARIABLES) == {"tag", "file", "base", "ccache_dir"}
    with pytest.raises(KeyError):
        option_value("arch", "", environ)  # only the options that have a variable


def test_the_workflows_commands_build_and_run_the_image_the_variables_name(tmp_path):
    pytest.importorskip("invoke")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copy2(REPO / "tasks.py", repo / "tasks.py")
    shutil.copytree(REPO / "packaging", repo / "packaging", ignore=shutil.ignore_patterns("__pycache__"))
    fake, log = tmp_path / "bin", tmp_path / "calls"
    fake.mkdir()
    (fake / "podman").write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    (fake / "podman").chmod(0o755)
    ccache = tmp_path / "ccache"
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", *OPTION_VARIABLES.values())}
    env.update(PATH=f"{fake}:{os.environ['PATH']}", CABLESIM_CONTAINER_ENGINE="podman",
               SETUPTOOLS_SCM_PRETEND_VERSION="9.9.9", CABLESIM_IMAGE_TAG="stand-in",
               CABLESIM_IMAGE_FILE="packaging/test-image/Containerfile",
               CABLESIM_IMAGE_BASE="localhost/cablesim-base:bullseye", CABLESIM_IMAGE_CCACHE_DIR=str(ccache))

    def invoke(*args: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(repo), *args], env=env,
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        return log.read_text().splitlines()[-1].split()

    build = invoke("image.build", "--arch", "x86_64")
    assert build[build.index("--file") + 1] == str(repo / "packaging" / "test-image" / "Containerfile")
    assert build[build.index("--tag") + 1] == "cablesim-build:stand-in"
    assert "BASE_IMAGE=localhost/cablesim-base:bullseye" in build
    run = invoke("image.run", "--arch", "x86_64", "--", "nox", "-s", "build_linux", "--")
    assert run[-5:] == ["cablesim-build:stand-in", "nox", "-s", "build_linux", "--"]
    assert f"{ccache}:/ccache" in run and ccache.is_dir()
    # An option given on the command line still wins over its variable.
    build = invoke("image.build", "--tag", "mine", "--base", "other:1", "--file", "packaging/Dockerfile")
    assert "cablesim-build:mine" in build and "BASE_IMAGE=other:1" in build
    assert build[build.index("--file") + 1] == str(repo / "packaging" / "Dockerfile")
