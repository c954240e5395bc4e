"""wheelkit.release.steps: the release as typed steps, built and tested first, a release uploaded only by an
explicit second run; and the steps running themselves (nox sessions through the noxfile's own nox)."""

from __future__ import annotations

import pytest
from wheelkit import WheelkitError
from wheelkit.release.steps import Context, ReleaseOptions, nox_command, parse_release_args, release_steps
from wheelkit.version import BuildVersion


def test_release_steps_build_and_test_first_and_upload_a_release_only_in_a_second_step(tmp_path):
    release = BuildVersion("cablesim", "1.2.3", True, False)
    first = parse_release_args(["--type", "release", "--upload", "false", "39"])
    steps = release_steps(first, release, tmp_path)
    assert [s.name for s in steps] == ["build_linux", "sdist", "gather", "test_wheels", "manifest"]
    assert steps[0].posargs == ("--version", "1.2.3", "39")
    assert dict(steps[1].env) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.2.3"}
    second = parse_release_args(["--type", "release", "--upload", "true", "--repository", "pypi"])
    with pytest.raises(WheelkitError, match="no tested release 1.2.3 in .*run the first step"):
        release_steps(second, release, tmp_path)
    folder = tmp_path / "build" / "release" / "cablesim-1.2.3"
    folder.mkdir(parents=True)
    (folder / "tested.json").write_text("{}")
    (step,) = release_steps(second, release, tmp_path)
    assert (step.session, step.posargs) == ("upload", ("--repository", "pypi", str(folder)))
    nightly = BuildVersion("cablesim-nightly", "1.2.4.dev20261123", False, True)
    options = parse_release_args(["--type", "nightly", "--upload", "true", "--repository",
                                  "testpypi", "--allow-partial"])
    names = [s.name for s in release_steps(options, nightly, tmp_path)]
    assert names == ["build_linux", "sdist", "rename-sdist", "gather", "test_wheels", "manifest", "upload"]
    with pytest.raises(WheelkitError, match="--upload true needs --repository"):
        parse_release_args(["--type", "nightly", "--upload", "true"])
    with pytest.raises(WheelkitError, match="must be true or false"):
        parse_release_args(["--type", "nightly", "--upload", "maybe"])
    assert isinstance(first, ReleaseOptions)


def test_the_steps_run_the_sessions_with_the_noxfiles_nox_and_gather_and_record_what_was_tested(tmp_path, dists):
    """A nightly run with nox stood in for: each session step runs `NOX -s SESSION -- POSARGS` with its variables,
    and what the build and sdist sessions would have written is renamed, gathered and recorded."""
    release = BuildVersion("cablesim-nightly", "1.2.4.dev20261123", False, True)
    options = parse_release_args(["--type", "nightly", "--upload", "true", "--repository", "testpypi"])
    ran: list[tuple[list[str], dict[str, str]]] = []

    def nox(command, env):
        ran.append((list(command), dict(env)))
        if command[-2:] == ["-s", "sdist"]:  # what the sessions write into the wheelhouse
            dists.sdist(tmp_path / "wheelhouse", release.version)
        if "build_linux" in command:
            dists.wheel(tmp_path / "wheelhouse", release.version, name="cablesim_nightly")
        return 0

    lines: list[str] = []
    context = Context(tmp_path, options, release, ("nox", "--noxfile", "noxfile.py"), lines.append, nox)
    for step in release_steps(options, release, tmp_path):
        step.run(context)
    assert [command[4] for command, _ in ran] == ["build_linux", "sdist", "test_wheels", "upload"]
    assert ran[0][0] == ["nox", "--noxfile", "noxfile.py", "-s", "build_linux", "--", "--version", release.version,
                         "--nightly"]
    assert ran[1][1]["SETUPTOOLS_SCM_PRETEND_VERSION"] == release.version
    folder = tmp_path / "build" / "release" / "cablesim_nightly-1.2.4.dev20261123"
    assert sorted(p.name for p in folder.iterdir()) == [
        "cablesim_nightly-1.2.4.dev20261123-cp311-cp311-manylinux_2_17_x86_64.whl",
        "cablesim_nightly-1.2.4.dev20261123.tar.gz", "tested.json"]
    assert ran[2][0][-2:] == ["--wheelhouse", str(folder)]  # the gathered files are what is tested
    assert ran[3][0][5:] == ["--", "--repository", "testpypi", str(folder)]  # and what is uploaded
    assert lines == [f"# Gathering 2 file(s) into {folder}"]


def test_a_session_that_fails_stops_the_release_there(tmp_path):
    release = BuildVersion("cablesim", "1.2.3", True, False)
    options = parse_release_args(["--type", "release", "--upload", "false"])
    ran: list[str] = []

    def nox(command, env):
        ran.append(command[command.index("-s") + 1])
        return 2

    context = Context(tmp_path, options, release, ("nox",), lambda line: None, nox)
    with pytest.raises(WheelkitError, match=r"^nox -s build_linux failed \(exit 2\); the release stops there$"):
        for step in release_steps(options, release, tmp_path):
            step.run(context)
    assert ran == ["build_linux"]


def test_the_nox_that_runs_the_steps_is_the_noxfiles_own(tmp_path):
    assert nox_command(tmp_path, {"WHEELKIT_NOX": "/opt/nox/bin/python -m nox --noxfile '/a b/noxfile.py'"}) == (
        "/opt/nox/bin/python", "-m", "nox", "--noxfile", "/a b/noxfile.py")
    assert nox_command(tmp_path, {})[1:] == ("-m", "nox", "--noxfile", str(tmp_path / "noxfile.py"))
