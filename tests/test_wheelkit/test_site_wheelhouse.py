"""wheelkit.site.wheelhouse: placement by OS layer and -march level, and every refusal (each leaves the wheelhouse byte
for byte as it was)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.site.pages import build_index
from wheelkit.site.wheelhouse import add_wheels, expand_wheels, platform_os_machine, resolve_site

SITE = "hpc"
CP311_TAG = "cp311-cp311-manylinux_2_34_x86_64"


@pytest.fixture
def refused(tree):
    """refused(root, wheels, match, **options): assert that adding the wheels is refused with a message matching
    `match`, changing nothing; returns the message."""

    def check(root: Path, wheels: list[Path], match: str, **options: str) -> str:
        before = tree(root)
        with pytest.raises(WheelkitError, match=match) as caught:
            add_wheels(root, wheels, site=options.pop("site", SITE), **options)
        assert tree(root) == before, "a refused add changed the wheelhouse"
        assert "nothing was added" in str(caught.value)
        return str(caught.value)

    return check


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("manylinux_2_34_x86_64", ("linux", "x86_64")),
        ("manylinux2014_aarch64", ("linux", "aarch64")),
        ("linux_x86_64", ("linux", "x86_64")),
        ("musllinux_1_2_x86_64", ("linux-musl", "x86_64")),
        ("macosx_11_0_arm64", ("macos", "arm64")),
        ("win_amd64", ("windows", "amd64")),
    ],
)
def test_platform_tags_give_the_os_family_and_machine(platform, expected):
    assert platform_os_machine(platform) == expected


def test_wheels_are_placed_by_os_layer_and_march_marker(house, incoming, site_wheels):
    pure = site_wheels.synthetic(incoming, name="purelib")
    plain = site_wheels.binary(incoming, name="plain")
    v3 = site_wheels.binary(incoming, name="fast", march="x86-64-v3")
    v4 = site_wheels.binary(incoming, name="faster", march="x86-64-v4")
    baseline = site_wheels.binary(incoming, name="base", march="")
    arm = site_wheels.synthetic(incoming, name="armlib", tag="cp311-cp311-manylinux_2_28_aarch64", compiled=True)
    musl = site_wheels.synthetic(incoming, name="musllib", tag="cp311-cp311-musllinux_1_2_x86_64", compiled=True)
    result = add_wheels(house, [pure, plain, v3, v4, baseline, arm, musl], site=SITE)
    placed = {p.source.name.split("-")[0]: str(p.folder) for p in result.added}
    assert placed == {
        "purelib": "generic",
        "plain": "linux-x86_64/generic",
        "fast": "linux-x86_64/x86-64-v3",
        "faster": "linux-x86_64/x86-64-v4",
        "base": "linux-x86_64/generic",
        "armlib": "linux-aarch64/generic",
        "musllib": "linux-musl-x86_64/generic",
    }
    for placement in result.added:
        assert (house / placement.relative).read_bytes() == placement.source.read_bytes()
    assert not list(house.rglob("*.part")), "a temporary file was left behind"


def test_the_site_os_layer_and_an_explicit_arch_level_override_the_defaults(house, incoming, site_wheels):
    v3 = site_wheels.binary(incoming, name="fast", march="x86-64-v3")
    pure = site_wheels.synthetic(incoming, name="purelib")
    result = add_wheels(house, [v3, pure], site=SITE, os_layer="rhel8", level="x86-64-v4")
    assert sorted(str(p.relative) for p in result.added) == [
        "generic/purelib-1.0+hpc-py3-none-any.whl",  # pure Python: always the top-level generic folder
        f"rhel8/x86-64-v4/fast-1.0+hpc-{CP311_TAG}.whl",
    ]
    assert "--arch-level x86-64-v4" in result.added[0].reason + result.added[1].reason


def test_adding_the_same_bytes_again_changes_nothing(house, incoming, site_wheels, tree):
    wheel = site_wheels.binary(incoming)
    add_wheels(house, [wheel], site=SITE)
    before = tree(house)
    again = add_wheels(house, [wheel, wheel], site=SITE)
    assert (again.added, [p.source for p in again.present]) == ([], [wheel])
    assert tree(house) == before


def test_folders_globs_and_files_are_expanded_in_order_without_repeats(incoming, site_wheels):
    first = site_wheels.synthetic(incoming, name="alpha")
    second = site_wheels.synthetic(incoming, name="beta")
    assert expand_wheels([str(incoming)]) == [first, second]
    assert expand_wheels([str(second), str(incoming / "*.whl")]) == [second, first]
    with pytest.raises(WheelkitError, match="no file matches"):
        expand_wheels([str(incoming / "nothing-*.whl")])


def test_the_site_comes_from_the_option_or_the_environment_and_must_be_one_label():
    assert resolve_site("", {"CABLESIM_WHEELHOUSE_SITE": "HPC"}) == "hpc"
    with pytest.raises(WheelkitError, match="give --site NAME"):
        resolve_site("", {})
    with pytest.raises(WheelkitError, match="letters and digits only"):
        resolve_site("my-site", {})


# --- refusals: each leaves the wheelhouse as it was ---------------------------------------------------------------


def test_a_wheel_without_the_site_label_is_refused_with_the_rewrite_command(house, incoming, site_wheels, refused):
    add_wheels(house, [site_wheels.synthetic(incoming, name="already")], site=SITE)  # a non-empty wheelhouse
    wheel = site_wheels.synthetic(incoming, version="1.0+g1234abc")
    message = refused(house, [wheel], r"lacks the local version label '\+hpc'")
    assert f"invoke wheelhouse.rewrite {wheel} --local-version hpc" in message


def test_a_duplicate_name_with_different_bytes_is_refused(house, incoming, tmp_path, site_wheels, refused):
    add_wheels(house, [site_wheels.binary(incoming)], site=SITE)
    other = tmp_path / "rebuilt"
    other.mkdir()
    rebuilt = site_wheels.binary(other, extra={"demo/extra.py": b"changed = True\n"})
    refused(house, [rebuilt], "already exists with different bytes")


def test_two_different_wheels_of_one_name_in_a_batch_are_refused(house, incoming, tmp_path, site_wheels, refused):
    other = tmp_path / "other"
    other.mkdir()
    refused(house, [site_wheels.binary(incoming), site_wheels.binary(other, extra={"demo/x.py": b""})], "are both .* but differ")


def test_a_binary_wheel_tagged_py3_none_any_is_refused_with_a_tag_to_use(house, incoming, site_wheels, refused):
    wheel = site_wheels.synthetic(incoming, compiled=True)
    message = refused(house, [wheel], "is tagged py3-none-any but contains compiled code")
    assert f"invoke wheelhouse.rewrite {wheel} --tag cp311-cp311-linux_x86_64" in message


def test_a_corrupt_zip_is_refused(house, incoming, refused):
    wheel = incoming / "demo-1.0+hpc-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 this is not a zip")
    refused(house, [wheel], r"cannot open .* as a wheel \(zip\)")


def test_a_tampered_record_is_refused(house, incoming, tmp_path, site_wheels, tamper, refused):
    good = site_wheels.binary(incoming)
    tampered = tamper(good, tmp_path / good.name, lambda n, d: b"VALUE = 666\n" if n == "demo/__init__.py" else d)
    refused(house, [tampered], "demo/__init__.py: content does not match its RECORD hash")


def test_a_wheel_whose_file_name_disagrees_with_its_metadata_is_refused(house, incoming, tmp_path, site_wheels, refused):
    renamed = shutil.copy(site_wheels.binary(incoming), tmp_path / f"other-1.0+hpc-{CP311_TAG}.whl")
    refused(house, [Path(renamed)], "the file name and the metadata disagree")
    retagged = shutil.copy(site_wheels.binary(incoming), tmp_path / "demo-1.0+hpc-cp312-cp312-manylinux_2_34_x86_64.whl")
    message = refused(house, [Path(retagged)], "its WHEEL file declares cp311-cp311-manylinux_2_34_x86_64, its file "
                      "name cp312-cp312-manylinux_2_34_x86_64")
    assert "change its version or tags with `invoke wheelhouse.rewrite`, never by renaming the file" in message
    wrong_name = site_wheels.synthetic(tmp_path, extra={"demo-1.0+hpc.dist-info/METADATA": b"Name: other\nVersion: 1.0+hpc\n"})
    refused(house, [wrong_name], "its METADATA names 'other', its file name 'demo'")


@pytest.mark.parametrize(
    ("march", "match"),
    [
        ("native", "-march=native"),
        ("skylake-avx512", "not an x86-64 level folder"),
        (b"{not json", "is not valid JSON"),
        (b'{"march": 3}', 'a string "march"'),
    ],
)
def test_an_unusable_march_marker_is_refused(house, incoming, march, match, site_wheels, refused):
    refused(house, [site_wheels.binary(incoming, march=march)], match)


def test_one_bad_wheel_refuses_the_whole_batch_and_names_every_problem(house, incoming, site_wheels, refused):
    add_wheels(house, [site_wheels.synthetic(incoming, name="already")], site=SITE)
    build_index(house)  # the index pages are part of what must not change
    good = site_wheels.binary(incoming, name="good")
    unlabelled = site_wheels.binary(incoming, name="unlabelled", version="2.0")
    pure_binary = site_wheels.synthetic(incoming, name="sneaky", compiled=True)
    message = refused(house, [good, unlabelled, pure_binary], "2 problem")
    assert "unlabelled-2.0" in message and "sneaky-1.0+hpc" in message
    assert not (house / "linux-x86_64").exists()


def test_a_failure_while_placing_undoes_the_wheels_already_placed(house, incoming, monkeypatch, site_wheels, tree):
    from wheelkit.site import wheelhouse

    add_wheels(house, [site_wheels.synthetic(incoming, name="already")], site=SITE)
    before = tree(house)
    real_publish = wheelhouse._publish
    calls = []

    def failing(temporary: Path, final: Path) -> None:
        calls.append(final)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_publish(temporary, final)

    monkeypatch.setattr(wheelhouse, "_publish", failing)
    with pytest.raises(OSError, match="No space left"):
        add_wheels(house, [site_wheels.binary(incoming, name="one"), site_wheels.binary(incoming, name="two", march="x86-64-v3")], site=SITE)
    assert len(calls) == 2
    assert tree(house) == before


# --- rewriting metadata --------------------------------------------------------------------------------------------


# --- the simple index ---------------------------------------------------------------------------------------------


# --- installs (slow) ----------------------------------------------------------------------------------------------


# --- the invoke tasks ---------------------------------------------------------------------------------------------




@pytest.mark.parametrize(("level", "advice"), [
    ("native", "give the level of the cluster's nodes instead, e.g. --arch-level x86-64-v3 (or generic)"),
    ("skylake", "give one of those, or generic"),
])
def test_a_bad_arch_level_is_reported_once_for_all_wheels_with_advice_that_is_not_the_option_itself(
        tmp_path, level, advice, site_wheels):
    wheels = [site_wheels.binary(tmp_path / "incoming", name=name) for name in ("one", "two", "three")]
    with pytest.raises(WheelkitError) as caught:
        add_wheels(tmp_path / "house", wheels, site="hpc", level=level)
    message = str(caught.value)
    assert message.count(f"--arch-level {level}") == 1, message
    assert advice in message and f"\n  - 3 wheels: --arch-level {level} " in message
    assert "place it with --arch-level" not in message and "rebuild" not in message
    assert message.startswith(f"nothing was added to {tmp_path / 'house'} (1 problem):")
