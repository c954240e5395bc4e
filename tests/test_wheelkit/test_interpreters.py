"""wheelkit.interpreters: finding CPython interpreters (the manylinux layout, PATH, python.org, pyenv) and asking each
what it is."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.interpreters import candidate_paths, discover, probe, resolve


def test_manylinux_layout_wins_and_has_the_free_threaded_and_newest_pythons(tmp_path):
    for name in ("cp39-cp39", "cp313-cp313", "cp313-cp313t", "cp314-cp314", "cp314-cp314t", "cp315-cp315"):
        binary = tmp_path / name / "bin" / "python"
        binary.parent.mkdir(parents=True)
        binary.symlink_to(sys.executable)
    paths = candidate_paths(manylinux_root=tmp_path, pyenv_root=tmp_path / "none", path_env="")
    assert [p.parent.parent.name for p in paths] == ["cp313-cp313", "cp313-cp313t", "cp314-cp314", "cp314-cp314t",
                                                     "cp315-cp315", "cp39-cp39"]


def test_host_discovery_finds_free_threaded_and_newest_pythons_on_path_in_frameworks_and_pyenv(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3.14", "python3.14t", "python3.15"):
        (bin_dir / name).symlink_to(sys.executable)
    threaded = tmp_path / "Library" / "PythonT.framework" / "Versions" / "3.14" / "bin" / "python3.14t"
    threaded.parent.mkdir(parents=True)
    threaded.symlink_to(sys.executable)
    pyenv = tmp_path / "pyenv" / "versions" / "3.14.0t" / "bin"
    pyenv.mkdir(parents=True)
    (pyenv / "python3.14t").symlink_to(sys.executable)
    (pyenv / "python3").symlink_to(sys.executable)
    paths = candidate_paths(manylinux_root=tmp_path / "absent", pyenv_root=tmp_path / "pyenv", path_env=str(bin_dir),
                            framework_root=tmp_path / "Library" / "Python.framework" / "Versions")
    assert paths == [bin_dir / "python3.14", bin_dir / "python3.15", bin_dir / "python3.14t", threaded,
                     pyenv / "python3.14t"]


def test_host_discovery_finds_pyenv_versions(tmp_path):
    version_dir = tmp_path / "versions" / "3.11.0" / "bin"
    version_dir.mkdir(parents=True)
    (version_dir / "python3").symlink_to(sys.executable)
    paths = candidate_paths(manylinux_root=tmp_path / "absent", pyenv_root=tmp_path, path_env="")
    assert paths == [version_dir / "python3"]


def test_host_discovery_finds_macos_framework_pythons_before_pyenv(tmp_path):
    framework = tmp_path / "Versions" / "3.12" / "bin" / "python3.12"
    framework.parent.mkdir(parents=True)
    framework.symlink_to(sys.executable)
    pyenv = tmp_path / "versions" / "3.10.0" / "bin" / "python3"
    pyenv.parent.mkdir(parents=True)
    pyenv.symlink_to(sys.executable)
    paths = candidate_paths(manylinux_root=tmp_path / "absent", pyenv_root=tmp_path, path_env="",
                            framework_root=tmp_path / "Versions")
    assert paths == [framework, pyenv]


def test_discover_probes_and_keeps_one_per_minor(tmp_path):
    link = tmp_path / "python-link"
    link.symlink_to(sys.executable)
    not_python = tmp_path / "not-python"
    not_python.write_text("#!/bin/sh\nexit 3\n")
    not_python.chmod(0o755)
    found = discover([Path(sys.executable), link, not_python])
    assert [i.minor for i in found] == [sys.version_info[:2]]
    in_venv = sys.prefix != sys.base_prefix  # then the interpreter it was made from counts
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert found[0].path == (base if in_venv else Path(sys.executable))
    assert probe(not_python) is None


def test_resolve_an_interpreter_by_path_and_name():
    me = resolve(sys.executable)
    assert me.minor == sys.version_info[:2]
    assert resolve(f"{sys.version_info[0]}.{sys.version_info[1]}", [me]) is me
    with pytest.raises(WheelkitError, match="no Python interpreter 'python2.2'"):
        resolve("python2.2")


def test_a_virtual_environment_counts_as_its_base_interpreter(tmp_path):

    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    found = probe(tmp_path / "venv" / "bin" / "python")
    assert found is not None and found.minor == sys.version_info[:2]
    assert "venv" not in str(found.path) and found.path.exists()
    base = subprocess.run([str(found.path), "-c", "import sys; print(sys.prefix == sys.base_prefix)"],
                          capture_output=True, text=True, check=True)
    assert base.stdout.strip() == "True"


def test_an_interpreter_is_asked_for_its_own_tags_and_marker_environment():
    from packaging.markers import default_environment
    from packaging.tags import sys_tags

    found = probe(Path(sys.executable))
    assert found is not None and found.tags == tuple(sys_tags())
    assert found.markers() == default_environment()


def test_an_interpreter_older_than_this_packaging_gets_the_tags_packaging_computes_for_it(tmp_path):
    """A CPython that cannot run this packaging (packaging 26 needs 3.10): its facts, tags computed here."""
    import platform

    from packaging.tags import Tag

    found = probe(_fake(tmp_path, "python3.9", [3, 9, 18], False))
    assert found is not None and found.version == (3, 9, 18) and not found.free_threaded
    assert Tag("cp39", "cp39", f"linux_{platform.machine()}") in found.tags
    assert Tag("py3", "none", "any") in found.tags and not any(tag.interpreter == "cp311" for tag in found.tags)
    assert found.markers()["python_version"] == "3.9" and found.markers()["python_full_version"] == "3.9.18"


def _fake(tmp_path: Path, name: str, version: list[int], free_threaded: bool) -> Path:
    """An interpreter that reports what a CPython of this version reports (none is installed here)."""
    import json
    import platform

    facts = {"version": version, "implementation": "cpython", "executable": f"/x/{name}", "soabi": "",
             "free_threaded": free_threaded, "debug": False, "machine": platform.machine(), "in_venv": False,
             "base_prefix": "/x", "tags": None, "environment": None}
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho '{json.dumps(facts)}'\n")
    path.chmod(0o755)
    return path


def test_discovery_keeps_cp314_cp314t_and_cp315_apart_and_leaves_3_13t_out(tmp_path):
    paths = [_fake(tmp_path, "python3.14t", [3, 14, 0], True), _fake(tmp_path, "python3.14", [3, 14, 0], False),
             _fake(tmp_path, "python3.15", [3, 15, 0], False), _fake(tmp_path, "python3.13t", [3, 13, 1], True),
             _fake(tmp_path, "python3.16", [3, 16, 0], False)]
    found = discover(paths)
    assert [(i.dotted, i.abi, i.tag) for i in found] == [("3.14", "cp314", "cp314"), ("3.15", "cp315", "cp315"),
                                                         ("3.14t", "cp314t", "cp314")]
    assert resolve("cp314t", found) is found[2] and resolve("3.14t", found) is found[2]
    assert resolve("314", found) is found[0] and resolve("python3.14t", found) is found[2]


def test_a_free_threaded_interpreter_is_known_as_such_and_built_for(tmp_path):
    import platform

    from packaging.tags import Tag

    threaded = _fake(tmp_path, "python3.14t", [3, 14, 0], True)
    found = probe(threaded)
    assert found is not None and found.free_threaded and found.dotted == "3.14t"
    assert Tag("cp314", "cp314t", f"linux_{platform.machine()}") in found.tags
    assert not any(tag.abi == "cp314" for tag in found.tags)  # a GIL wheel does not fit it
    assert discover([threaded]) == [found] and found.abi == "cp314t"
