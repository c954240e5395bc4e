"""wheelkit.site.pages: the wheelhouse's PEP 503 views, their shadowing, and pages rewritten only when they change."""

from __future__ import annotations

import hashlib
import html.parser
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from wheelkit import WheelkitError
from wheelkit.site.pages import FIND_LINKS_PAGE, build_index, views
from wheelkit.site.wheelhouse import add_wheels

SITE = "hpc"


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


def test_the_index_has_a_view_per_os_layer_and_level_with_shadowing(house, incoming, tmp_path, site_wheels):
    v3_dir = tmp_path / "v3"
    v3_dir.mkdir()
    generic_cp311 = site_wheels.binary(incoming, name="cablesim")
    generic_cp312 = site_wheels.synthetic(incoming, name="cablesim", tag="cp312-cp312-manylinux_2_34_x86_64")
    v3_cp311 = site_wheels.binary(v3_dir, name="cablesim", march="x86-64-v3")
    pure = site_wheels.synthetic(incoming, name="Tiny_Lib", requires=())
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


def test_rebuilding_the_index_rewrites_only_what_changed_and_removes_stale_pages(house, incoming, site_wheels, tree):
    add_wheels(house, [site_wheels.binary(incoming, march="x86-64-v4"), site_wheels.synthetic(incoming, name="other")], site=SITE)
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
