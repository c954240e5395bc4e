"""wheelkit.config: [tool.wheelkit], the one source of "which Pythons" (the plan, the release check, the classifiers
and the CI matrix), its WHEELKIT_* overrides and where each value came from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.config import load_config, pythons_for
from wheelkit.pyproject import load
from wheelkit.release.checks import classified_pythons

ROOT = Path(__file__).resolve().parents[2]
ALL = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.14t")


def checkout(tmp_path: Path, table: str = "", requires: str = ">=3.9") -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\nrequires-python = "{requires}"\n\n'
                                             f"[tool.wheelkit]\n{table}")
    return tmp_path


def test_the_checkouts_pythons_are_3_9_to_3_15_and_the_free_threaded_3_14t():
    config = load_config(ROOT, {})
    assert config.pythons.value == ALL
    assert config.pythons.source.startswith("requires-python >=3.9 up to 3.15")


def test_the_classifiers_agree_with_the_configured_pythons():
    """What PyPI shows, what the release check expects (classifiers) and what is built ([tool.wheelkit]) agree."""
    classifiers = load(ROOT)["project"]["classifiers"]
    config = load_config(ROOT, {})
    listed = [c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")]
    assert listed == config.classifiers()
    assert tuple(sorted(classified_pythons(classifiers), key=lambda v: (v.endswith("t"), v))) == \
        tuple(sorted(config.pythons.value, key=lambda v: (v.endswith("t"), v)))
    assert load(ROOT)["project"]["requires-python"] == ">=3.9"


@pytest.mark.parametrize("requires,newest,threaded,expected", [
    (">=3.9", (3, 15), True, ALL),
    (">=3.9", (3, 15), False, ALL[:-1]),
    (">=3.11,<3.15", (3, 15), True, ("3.11", "3.12", "3.13", "3.14", "3.14t")),
    (">=3.9", (3, 13), True, ("3.9", "3.10", "3.11", "3.12", "3.13")),
    ("~=3.12", (3, 15), False, ("3.12", "3.13", "3.14", "3.15")),
])
def test_pythons_come_from_requires_python_up_to_the_newest(requires, newest, threaded, expected):
    assert pythons_for(requires, newest, threaded) == expected


def test_the_environment_overrides_the_table_and_says_so(tmp_path):
    root = checkout(tmp_path, 'pythons = ["3.12", "3.13"]\nfree-threaded = false\n')
    config = load_config(root, {})
    assert config.pythons.value == ("3.12", "3.13") and config.pythons.source == "pyproject.toml [tool.wheelkit] pythons"
    config = load_config(root, {"WHEELKIT_PYTHONS": "3.14t, 3.14", "WHEELKIT_FREE_THREADED": "1"})
    assert config.pythons.value == ("3.14", "3.14t") and config.pythons.source == "environment WHEELKIT_PYTHONS"
    assert config.free_threaded.value and config.free_threaded.source == "environment WHEELKIT_FREE_THREADED"
    assert config.with_pythons(["3.9"]).pythons == type(config.pythons)(("3.9",), "command line")
    assert "pythons                    3.14 3.14t  (environment WHEELKIT_PYTHONS)" in config.describe()


@pytest.mark.parametrize("table,environ,message", [
    ('pythons = ["3.8"]\n', {}, r"pyproject.toml \[tool.wheelkit\] pythons: 3.8 not supported"),
    ("", {"WHEELKIT_PYTHONS": "3.13t"}, "WHEELKIT_PYTHONS: 3.13t not supported"),
    ('newest-python = "3.16"\n', {}, "newest-python 3.16 is not a CPython wheelkit builds"),
    ("", {"WHEELKIT_FREE_THREADED": "maybe"}, "WHEELKIT_FREE_THREADED='maybe': use 1 or 0"),
    ('release-platforms = ["win_amd64"]\n', {}, "unknown release platform"),
    ("colour = 1\n", {}, "unknown key"),
])
def test_bad_values_are_refused_naming_where_they_came_from(tmp_path, table, environ, message):
    with pytest.raises(WheelkitError, match=message):
        load_config(checkout(tmp_path, table), environ)


def test_defaults_without_a_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.10"\n')
    config = load_config(tmp_path, {})
    assert config.pythons.value == ALL[1:] and config.variants.source == "wheelkit's default"


def test_the_ci_matrix_is_json_from_the_configuration(tmp_path):
    result = subprocess.run([sys.executable, "-m", "wheelkit", "matrix"], cwd=ROOT, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "packaging"), "PATH": "/usr/bin:/bin"}, check=True)
    jobs = json.loads(result.stdout)
    assert [(j["platform"], j["runner"], j["arch"]) for j in jobs] == [
        ("linux-x86_64", "ubuntu-24.04", "x86_64"), ("linux-aarch64", "ubuntu-24.04-arm", "aarch64"),
        ("macos-x86_64", "macos-15-intel", "x86_64"), ("macos-arm64", "macos-15", "arm64")]
    assert all(tuple(j["pythons"]) == ALL for j in jobs)
    small = load_config(ROOT, {}).matrix("pull_request")
    assert [j["platform"] for j in small] == ["linux-x86_64", "macos-arm64"]
    families = {j["family"] for j in jobs}
    assert families == set(load_config(ROOT, {}).release_platforms.value)  # CI builds what a release must have


def test_every_override_is_a_knob_the_build_image_passes_into_its_containers():
    from wheelkit.config import ENVIRONMENT
    from wheelkit.image import PASSED_THROUGH

    assert set(ENVIRONMENT.values()) <= set(PASSED_THROUGH)


def test_the_jobs_that_only_ask_which_pythons_are_supported_import_without_a_toml_reader(import_without):
    """test_wheels' environment has no tomli on a Python without tomllib: interpreters asks config, never TOML."""
    result = import_without(("tomli", "tomllib"),
                            ("wheelkit.interpreters", "wheelkit.check.cli", "wheelkit.release.checks"))
    assert result.returncode == 0, result.stderr
