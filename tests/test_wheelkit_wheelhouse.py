"""wheelkit.wheelhouse and wheelkit.rewrite: a wheelhouse for offline clusters.

Placement by OS layer and -march level, every refusal (each leaves the wheelhouse byte for byte as it was), metadata
rewrites that stay valid wheels, the PEP 503 index, and (slow) installs: a rewritten wheel into a fresh venv, and
cablesim with its NumPy from the wheelhouse alone with pip --no-index. Synthetic wheels are written with
wheelkit.wheelfile; real ones are cablesim's (CABLESIM_TEST_WHEELS, /tmp/wheels-ref or wheelhouse/), copied first.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "packaging"))

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.site.rewrite import (  # noqa: E402
    Rewrite,
    check_install,
    check_wheel,
    parse_tag_text,
    rewrite_requirements,
    rewrite_wheel,
    suggest_tag,
    with_local_label,
)
from wheelkit.wheelfile import WheelContents, read_all, write_wheel  # noqa: E402
from wheelkit.site.pages import FIND_LINKS_PAGE, build_index, views  # noqa: E402
from wheelkit.site.wheelhouse import (  # noqa: E402
    MARKER_FILE,
    add_wheels,
    expand_wheels,
    platform_os_machine,
    resolve_site,
)

SITE = "hpc"
CP311_TAG = "cp311-cp311-manylinux_2_34_x86_64"
ELF_X86_64 = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (62).to_bytes(2, "little") + b"\0" * 44


def synthetic(folder: Path, *, name: str = "demo", version: str = "1.0+hpc", tag: str = "py3-none-any",
              compiled: bool = False, march: object = None, requires: tuple[str, ...] = ("numpy>=1.21",),
              extra: dict[str, bytes] | None = None) -> Path:
    """A small wheel; compiled=True adds an x86-64 extension module for CPython 3.11."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.9\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires) + "\nA demo package.\n"
    pure = tag.endswith("-any")
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {'true' if pure else 'false'}\nTag: {tag}\n"
        ).encode(),
    }
    if compiled:
        files[f"{name}/_core.cpython-311-x86_64-linux-gnu.so"] = ELF_X86_64
    if march is not None:
        files[f"{info}/{MARKER_FILE}"] = json.dumps({"march": march}).encode() if isinstance(march, str) else march
    files.update(extra or {})
    return write_wheel(folder / f"{name}-{version}-{tag}.whl", files)


def binary(folder: Path, **options: object) -> Path:
    return synthetic(folder, tag=CP311_TAG, compiled=True, **options)  # type: ignore[arg-type]


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under root with its content's hash: equal trees are byte for byte the same."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in sorted(root.rglob("*"))
    }


def refused(root: Path, wheels: list[Path], match: str, **options: str) -> str:
    """Assert that adding the wheels is refused with a message matching `match` and changes nothing."""
    before = tree(root)
    with pytest.raises(WheelkitError, match=match) as caught:
        add_wheels(root, wheels, site=options.pop("site", SITE), **options)
    assert tree(root) == before, "a refused add changed the wheelhouse"
    assert "nothing was added" in str(caught.value)
    return str(caught.value)


def rezip(source: Path, target: Path, change) -> Path:
    """Copy a zip member by member, letting change(name, data) alter each one: RECORD stays as it was."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, change(info.filename, old.read(info)))
    return target


@pytest.fixture
def house(tmp_path: Path) -> Path:
    return tmp_path / "wheelhouse"


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


@pytest.fixture
def cablesim_real(tmp_path: Path, cablesim_wheel: Path) -> Path:
    """A copy of a real cablesim wheel for this Python (conftest builds it once per session; never touched)."""
    folder = tmp_path / "real"
    folder.mkdir()
    return Path(shutil.copy2(cablesim_wheel, folder))


# --- where wheels go -----------------------------------------------------------------------------------------------


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


def test_wheels_are_placed_by_os_layer_and_march_marker(house, incoming):
    pure = synthetic(incoming, name="purelib")
    plain = binary(incoming, name="plain")
    v3 = binary(incoming, name="fast", march="x86-64-v3")
    v4 = binary(incoming, name="faster", march="x86-64-v4")
    baseline = binary(incoming, name="base", march="")
    arm = synthetic(incoming, name="armlib", tag="cp311-cp311-manylinux_2_28_aarch64", compiled=True)
    musl = synthetic(incoming, name="musllib", tag="cp311-cp311-musllinux_1_2_x86_64", compiled=True)
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


def test_the_site_os_layer_and_an_explicit_arch_level_override_the_defaults(house, incoming):
    v3 = binary(incoming, name="fast", march="x86-64-v3")
    pure = synthetic(incoming, name="purelib")
    result = add_wheels(house, [v3, pure], site=SITE, os_layer="rhel8", level="x86-64-v4")
    assert sorted(str(p.relative) for p in result.added) == [
        "generic/purelib-1.0+hpc-py3-none-any.whl",  # pure Python: always the top-level generic folder
        f"rhel8/x86-64-v4/fast-1.0+hpc-{CP311_TAG}.whl",
    ]
    assert "--arch-level x86-64-v4" in result.added[0].reason + result.added[1].reason


def test_adding_the_same_bytes_again_changes_nothing(house, incoming):
    wheel = binary(incoming)
    add_wheels(house, [wheel], site=SITE)
    before = tree(house)
    again = add_wheels(house, [wheel, wheel], site=SITE)
    assert (again.added, [p.source for p in again.present]) == ([], [wheel])
    assert tree(house) == before


def test_folders_globs_and_files_are_expanded_in_order_without_repeats(incoming):
    first = synthetic(incoming, name="alpha")
    second = synthetic(incoming, name="beta")
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


def test_a_wheel_without_the_site_label_is_refused_with_the_rewrite_command(house, incoming):
    add_wheels(house, [synthetic(incoming, name="already")], site=SITE)  # a non-empty wheelhouse
    wheel = synthetic(incoming, version="1.0+g1234abc")
    message = refused(house, [wheel], r"lacks the local version label '\+hpc'")
    assert f"invoke wheelhouse.rewrite {wheel} --local-version hpc" in message


def test_a_duplicate_name_with_different_bytes_is_refused(house, incoming, tmp_path):
    add_wheels(house, [binary(incoming)], site=SITE)
    other = tmp_path / "rebuilt"
    other.mkdir()
    rebuilt = binary(other, extra={"demo/extra.py": b"changed = True\n"})
    refused(house, [rebuilt], "already exists with different bytes")


def test_two_different_wheels_of_one_name_in_a_batch_are_refused(house, incoming, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    refused(house, [binary(incoming), binary(other, extra={"demo/x.py": b""})], "are both .* but differ")


def test_a_binary_wheel_tagged_py3_none_any_is_refused_with_a_tag_to_use(house, incoming):
    wheel = synthetic(incoming, compiled=True)
    message = refused(house, [wheel], "is tagged py3-none-any but contains compiled code")
    assert f"invoke wheelhouse.rewrite {wheel} --tag cp311-cp311-linux_x86_64" in message


def test_a_corrupt_zip_is_refused(house, incoming):
    wheel = incoming / "demo-1.0+hpc-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 this is not a zip")
    refused(house, [wheel], r"cannot open .* as a wheel \(zip\)")


def test_a_tampered_record_is_refused(house, incoming, tmp_path):
    good = binary(incoming)
    tampered = rezip(good, tmp_path / good.name, lambda n, d: b"VALUE = 666\n" if n == "demo/__init__.py" else d)
    refused(house, [tampered], "demo/__init__.py: content does not match its RECORD hash")


def test_a_wheel_whose_file_name_disagrees_with_its_metadata_is_refused(house, incoming, tmp_path):
    renamed = shutil.copy(binary(incoming), tmp_path / f"other-1.0+hpc-{CP311_TAG}.whl")
    refused(house, [Path(renamed)], "the file name and the metadata disagree")
    retagged = shutil.copy(binary(incoming), tmp_path / "demo-1.0+hpc-cp312-cp312-manylinux_2_34_x86_64.whl")
    refused(house, [Path(retagged)], "the file name's tags are not the WHEEL file's Tag lines")
    wrong_name = synthetic(tmp_path, extra={"demo-1.0+hpc.dist-info/METADATA": b"Name: other\nVersion: 1.0+hpc\n"})
    refused(house, [wrong_name], "METADATA says Name: other")


@pytest.mark.parametrize(
    ("march", "match"),
    [
        ("native", "-march=native"),
        ("skylake-avx512", "not an x86-64 level folder"),
        (b"{not json", "is not valid JSON"),
        (b'{"march": 3}', 'a string "march"'),
    ],
)
def test_an_unusable_march_marker_is_refused(house, incoming, march, match):
    refused(house, [binary(incoming, march=march)], match)


def test_one_bad_wheel_refuses_the_whole_batch_and_names_every_problem(house, incoming):
    add_wheels(house, [synthetic(incoming, name="already")], site=SITE)
    build_index(house)  # the index pages are part of what must not change
    good = binary(incoming, name="good")
    unlabelled = binary(incoming, name="unlabelled", version="2.0")
    pure_binary = synthetic(incoming, name="sneaky", compiled=True)
    message = refused(house, [good, unlabelled, pure_binary], "2 problem")
    assert "unlabelled-2.0" in message and "sneaky-1.0+hpc" in message
    assert not (house / "linux-x86_64").exists()


def test_a_failure_while_placing_undoes_the_wheels_already_placed(house, incoming, monkeypatch):
    import wheelkit.site.wheelhouse as wheelhouse

    add_wheels(house, [synthetic(incoming, name="already")], site=SITE)
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
        add_wheels(house, [binary(incoming, name="one"), binary(incoming, name="two", march="x86-64-v3")], site=SITE)
    assert len(calls) == 2
    assert tree(house) == before


# --- rewriting metadata --------------------------------------------------------------------------------------------


def test_local_labels_are_added_as_the_last_local_segment():
    assert with_local_label("1.2.0", "hpc") == "1.2.0+hpc"
    assert with_local_label("0.0.1.dev14+gd4b2353", "HPC") == "0.0.1.dev14+gd4b2353.hpc"
    assert with_local_label("1.2.0+hpc", "hpc") == "1.2.0+hpc"
    with pytest.raises(WheelkitError, match="one PEP 440 local segment"):
        with_local_label("1.2.0", "my.site")


def test_a_local_version_rewrite_renames_the_file_and_dist_info_and_rehashes_record(incoming, tmp_path):
    source = synthetic(incoming, version="1.0", extra={
        "demo-1.0.data/scripts/demo-tool": b"#!python\nprint('hi')\n",
        "demo-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo = demo:main\n",
    })
    original = source.read_bytes()
    out = rewrite_wheel(source, tmp_path / "out", Rewrite(local_version="hpc"))
    assert out.name == "demo-1.0+hpc-py3-none-any.whl"
    assert source.read_bytes() == original
    with check_wheel(out) as wheel:  # RECORD, Name, Version and tags all agree
        assert wheel.dist_info == "demo-1.0+hpc.dist-info"
        assert wheel.metadata_version() == "1.0+hpc"
        assert wheel.requires_dist() == ["numpy>=1.21"]
        assert "demo-1.0+hpc.data/scripts/demo-tool" in wheel.names
        assert not [n for n in wheel.names if n.startswith("demo-1.0.")]
        assert wheel.read_text("demo-1.0+hpc.dist-info/METADATA").endswith("\nA demo package.\n")
        assert wheel.entry_points() == {"demo": "demo:main"}


def test_requirements_are_dropped_and_relaxed_keeping_extras_and_markers():
    lines = ["numpy>=1.21", "nvidia-cublas-cu12>=12.1; sys_platform == 'linux'", "nvidia_cuda_runtime_cu12==12.1",
             "scipy[sparse] (>=1.8) ; extra == 'full'"]
    assert rewrite_requirements(lines, ["nvidia-*"], ["numpy", "SciPy>=1.5"]) == [
        "numpy", "scipy[sparse]>=1.5; extra == 'full'"
    ]
    with pytest.raises(WheelkitError, match=r"no requirement matches 'mpi4py'; the wheel requires: numpy>=1\.21"):
        rewrite_requirements(lines, ["mpi4py"], [])
    with pytest.raises(WheelkitError, match="both dropped"):
        rewrite_requirements(lines, ["numpy"], ["numpy"])


def test_a_requirements_rewrite_changes_only_requires_dist(incoming, tmp_path):
    source = synthetic(incoming, version="2.0+hpc", requires=("numpy>=1.21", "nvidia-nccl-cu12>=2.18", "mpi4py"))
    out = rewrite_wheel(source, tmp_path, Rewrite(drop=("nvidia-*",), relax=("numpy>=1.19",)))
    with check_wheel(out) as wheel:
        assert wheel.requires_dist() == ["numpy>=1.19", "mpi4py"]
        assert wheel.metadata()["Requires-Python"] == [">=3.9"]
    with pytest.raises(WheelkitError, match="it would replace the original; give --out-dir"):
        rewrite_wheel(source, None, Rewrite(drop=("mpi4py",)))


def test_retagging_compiled_code_gives_a_wheel_the_wheelhouse_accepts(house, incoming, tmp_path):
    source = synthetic(incoming, compiled=True)
    assert suggest_tag(WheelContents(source)) == "cp311-cp311-linux_x86_64"
    out = rewrite_wheel(source, tmp_path, Rewrite(tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"))
    assert out.name == "demo-1.0+hpc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with check_wheel(out) as wheel:
        assert wheel.wheel_tags() == parse_tag_text("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
        assert "Root-Is-Purelib: false" in wheel.read_text("demo-1.0+hpc.dist-info/WHEEL")
    assert str(add_wheels(house, [out], site=SITE).added[0].folder) == "linux-x86_64/generic"


def test_retagging_refuses_tags_that_do_not_fit_the_compiled_code(incoming, tmp_path):
    source = synthetic(incoming, compiled=True)
    with pytest.raises(WheelkitError, match="cannot be tagged py3-none-any; use a platform tag"):
        rewrite_wheel(binary(tmp_path), incoming, Rewrite(tag="py3-none-any"))
    with pytest.raises(WheelkitError, match="does not fit its extension modules"):
        rewrite_wheel(source, tmp_path, Rewrite(tag="cp312-cp312-linux_x86_64"))
    with pytest.raises(WheelkitError, match="is not a wheel tag"):
        rewrite_wheel(source, tmp_path, Rewrite(tag="cp311-linux_x86_64"))
    assert not list(tmp_path.glob("demo-*-cp312-*.whl"))


def test_rewriting_refuses_broken_input_and_empty_changes(incoming, tmp_path):
    good = synthetic(incoming)
    tampered = rezip(good, tmp_path / good.name, lambda n, d: d + b"#" if n.endswith("__init__.py") else d)
    with pytest.raises(WheelkitError, match="RECORD does not match"):
        rewrite_wheel(tampered, tmp_path / "out", Rewrite(local_version="x"))
    with pytest.raises(WheelkitError, match="nothing to rewrite"):
        rewrite_wheel(good, tmp_path / "out", Rewrite())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_rewriting_keeps_executable_bits_and_every_other_byte(incoming, tmp_path):
    files = read_all(synthetic(incoming, version="1.0", extra={"demo/tool.sh": b"#!/bin/sh\n"}))
    source = write_wheel(tmp_path / "demo-1.0-py3-none-any.whl", files, executable=["demo/tool.sh"])
    out = rewrite_wheel(source, tmp_path / "out", Rewrite(local_version="hpc"))
    with WheelContents(out) as wheel:
        assert wheel.mode("demo/tool.sh") & 0o111
        assert not wheel.mode("demo/__init__.py") & 0o111
        for name, data in files.items():
            if not name.startswith("demo-1.0.dist-info/"):
                assert wheel.read(name) == data


def test_a_real_cablesim_wheel_is_rewritten_consistently(cablesim_real, tmp_path):
    out = rewrite_wheel(cablesim_real, tmp_path / "out", Rewrite(local_version=SITE, relax=("numpy>=1.19",)))
    with check_wheel(out) as wheel, WheelContents(cablesim_real) as original:
        assert wheel.name.version == original.name.version + ".hpc"
        assert wheel.name.tags == original.name.tags
        assert wheel.requires_dist()[0] == "numpy>=1.19"
        assert sorted(n.split("/", 1)[1] for n in wheel.names if ".dist-info/" in n) == sorted(
            n.split("/", 1)[1] for n in original.names if ".dist-info/" in n
        )


# --- the simple index ---------------------------------------------------------------------------------------------


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append({k: v or "" for k, v in attrs})


def links(page: Path) -> list[dict[str, str]]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.links


def wheel_targets(page: Path) -> dict[str, Path]:
    """file name -> file each link of the page points to, checking its #sha256 fragment."""
    found = {}
    for link in links(page):
        href, _, fragment = link["href"].partition("#sha256=")
        target = (page.parent / unquote(href)).resolve()
        assert hashlib.sha256(target.read_bytes()).hexdigest() == fragment
        found[target.name] = target
    return found


def test_the_index_has_a_view_per_os_layer_and_level_with_shadowing(house, incoming, tmp_path):
    v3_dir = tmp_path / "v3"
    v3_dir.mkdir()
    generic_cp311 = binary(incoming, name="cablesim")
    generic_cp312 = synthetic(incoming, name="cablesim", tag="cp312-cp312-manylinux_2_34_x86_64")
    v3_cp311 = binary(v3_dir, name="cablesim", march="x86-64-v3")
    pure = synthetic(incoming, name="Tiny_Lib", requires=())
    add_wheels(house, [generic_cp311, generic_cp312, v3_cp311, pure], site=SITE)
    build_index(house)
    assert [str(v.name) for v in views(house)] == ["generic", "linux-x86_64/generic", "linux-x86_64/x86-64-v3"]
    simple = house / "simple"
    v3_page = simple / "linux-x86_64/x86-64-v3/cablesim/index.html"
    targets = wheel_targets(v3_page)
    # The v3 build hides the generic cp311 wheel of the same version; cp312 falls back to the generic build.
    assert targets == {
        generic_cp312.name: house / "linux-x86_64/generic" / generic_cp312.name,
        v3_cp311.name: house / "linux-x86_64/x86-64-v3" / v3_cp311.name,
    }
    assert links(v3_page)[0]["data-requires-python"] == ">=3.9"
    assert [link["href"] for link in links(simple / "linux-x86_64/x86-64-v3/index.html")] == ["cablesim/", "tiny-lib/"]
    flat = wheel_targets(simple / "linux-x86_64/x86-64-v3" / FIND_LINKS_PAGE)
    assert set(flat) == {generic_cp312.name, v3_cp311.name, pure.name}
    assert set(wheel_targets(simple / "linux-x86_64/generic/cablesim/index.html")) == {
        generic_cp311.name, generic_cp312.name
    }
    assert set(wheel_targets(simple / "generic" / FIND_LINKS_PAGE)) == {pure.name}


def test_rebuilding_the_index_rewrites_only_what_changed_and_removes_stale_pages(house, incoming):
    add_wheels(house, [binary(incoming, march="x86-64-v4"), synthetic(incoming, name="other")], site=SITE)
    first = build_index(house)
    assert first.written and not first.removed
    before = tree(house)
    second = build_index(house)
    assert (second.written, second.removed) == ([], [])
    assert tree(house) == before
    shutil.rmtree(house / "linux-x86_64")
    third = build_index(house)
    assert third.views == ["generic"]
    assert not (house / "simple/linux-x86_64").exists()


def test_indexing_a_missing_wheelhouse_says_how_to_make_one(tmp_path):
    with pytest.raises(WheelkitError, match="invoke wheelhouse.add WHEEL --root"):
        build_index(tmp_path / "nowhere")


# --- installs (slow) ----------------------------------------------------------------------------------------------

_OFFLINE = {
    "PIP_CONFIG_FILE": os.devnull,  # no site or user pip.conf with an extra index
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "HTTP_PROXY": "http://127.0.0.1:9",  # any network access fails at once
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "PYTHONNOUSERSITE": "1",
    "UV_PYTHON_DOWNLOADS": "never",
}


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False,
                               **options)  # type: ignore[call-overload]
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


@pytest.mark.slow
def test_rewritten_wheels_install_with_their_new_version(incoming, tmp_path, cablesim_real):
    pure = rewrite_wheel(synthetic(incoming, version="1.0"), tmp_path / "out", Rewrite(local_version="hpc",
                                                                                      drop=("numpy",)))
    assert check_install(pure, Path(sys.executable), workdir=tmp_path / "pure") == "1.0+hpc"
    retagged = rewrite_wheel(synthetic(incoming, compiled=True, name="native"), tmp_path / "out",
                             Rewrite(tag="cp311-cp311-linux_x86_64"))
    if sys.version_info[:2] == (3, 11):
        assert check_install(retagged, Path(sys.executable), workdir=tmp_path / "native") == "1.0+hpc"
    real = rewrite_wheel(cablesim_real, tmp_path / "out", Rewrite(local_version="hpc", drop=("numpy",)))
    # check_install also compares the installed version with the file name's
    assert check_install(real, Path(sys.executable), workdir=tmp_path / "real").endswith("hpc")  # +hpc or +g….hpc


@pytest.fixture(scope="session")
def numpy_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NumPy wheel for this Python, downloaded once (pip's cache makes it quick the next time)."""
    folder = tmp_path_factory.mktemp("numpy")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--no-deps", "-d", str(folder),
         "numpy>=1.21"], capture_output=True, text=True, check=False,
    )
    found = sorted(folder.glob("numpy-*.whl"))
    assert completed.returncode == 0 and found, \
        f"cannot download a NumPy wheel from PyPI for the offline install test: {completed.stderr.strip()[-300:]}"
    return found[0]


@pytest.mark.slow
def test_cablesim_installs_offline_from_the_wheelhouse_index(house, tmp_path, cablesim_real, numpy_wheel):
    """The cluster's view: rewrite, add and index; then a clean venv installs cablesim and NumPy with pip --no-index
    from the find-links page, and the PEP 503 pages serve it through a file:// index URL. No network at all."""
    out = tmp_path / "rewritten"
    cablesim = rewrite_wheel(cablesim_real, out, Rewrite(local_version=SITE))
    numpy = rewrite_wheel(numpy_wheel, out, Rewrite(local_version=SITE))
    added = add_wheels(house, [cablesim, numpy], site=SITE)
    assert {str(p.folder) for p in added.added} == {"linux-x86_64/generic"}
    build_index(house)
    view = house / "simple/linux-x86_64/generic"

    venv = tmp_path / "venv"
    if shutil.which("uv"):
        run(["uv", "venv", "--quiet", "--seed", "--python", sys.executable, venv], env={**os.environ, **_OFFLINE,
                                                                                       "UV_OFFLINE": "1"})
    else:
        run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    env = {**os.environ, **_OFFLINE}
    env.pop("VIRTUAL_ENV", None)
    run([python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", view / FIND_LINKS_PAGE, "cablesim"],
        env=env, cwd=tmp_path)
    check = (
        "import importlib.metadata as m, cablesim, numpy; "
        "model = cablesim.Model(); soma = model.Section('soma', L=18.8, diam=18.8); soma.insert('hh'); "
        "model.IClamp(soma(0.5), delay=1, dur=1, amp=0.1); v = model.record(soma(0.5)); model.run(10, dt=0.025); "
        "print(m.version('cablesim'), m.version('numpy'), cablesim.__file__, float(v.values.max()) > 0)"
    )
    version, numpy_version, location, spiked = run([python, "-I", "-c", check], env=env, cwd=tmp_path).stdout.split()
    assert version == cablesim.name.split("-")[1] and numpy_version.endswith("+hpc")
    assert location.startswith(str(venv)) and spiked == "True"

    # The PEP 503 pages as an index URL (file://, no server): pip resolves cablesim through them too.
    downloads = tmp_path / "downloads"
    run([python, "-m", "pip", "download", "--quiet", "--no-deps", "--index-url", view.as_uri() + "/", "-d",
         downloads, f"cablesim=={version}"], env=env, cwd=tmp_path)
    assert [p.name for p in downloads.iterdir()] == [cablesim.name]


# --- the invoke tasks ---------------------------------------------------------------------------------------------


def _invoke(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *arguments], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **env}, check=False)


def test_the_invoke_tasks_add_refuse_and_index(house, incoming):
    pytest.importorskip("invoke")
    listing = _invoke("--list")
    assert listing.returncode == 0, listing.stderr
    assert {"wheelhouse.add", "wheelhouse.rewrite", "wheelhouse.index"} <= set(listing.stdout.split())
    unlabelled = synthetic(incoming, name="raw", version="1.0")
    refusal = _invoke("wheelhouse.add", str(unlabelled), "--root", str(house), "--site", SITE)
    assert refusal.returncode == 1
    assert "lacks the local version label '+hpc'" in refusal.stderr and not house.exists()
    rewritten = _invoke("wheelhouse.rewrite", str(unlabelled), "--local-version", SITE, "--out-dir", str(incoming),
                        "--drop", "numpy", "--no-check")
    assert rewritten.returncode == 0, rewritten.stderr
    other = synthetic(incoming, name="other")
    added = _invoke("wheelhouse.add", str(incoming / "raw-1.0+hpc-py3-none-any.whl"), "--root", str(house), "--",
                    str(other), CABLESIM_WHEELHOUSE_SITE=SITE)
    assert added.returncode == 0, added.stderr
    assert "added    generic/raw-1.0+hpc-py3-none-any.whl" in added.stdout
    assert "added    generic/other-1.0+hpc-py3-none-any.whl" in added.stdout
    assert f"generic: pip install --no-index --find-links {house}/simple/generic/{FIND_LINKS_PAGE}" in added.stdout
    assert (house / "simple/generic/raw/index.html").is_file()
