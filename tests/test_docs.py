"""The README is a front door (short, the two commands first, a first simulation that works, a map of docs/), and
every relative link in it and in docs/ leads somewhere: a file that exists and, with #anchor, a heading in it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
MAX_README_LINES = 160


def relative_links(text: str) -> list[str]:
    """Markdown link targets that are neither URLs nor anchors within the page."""
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:|#", target)]


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.DOTALL), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in relative_links(page.read_text()):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve()
        if not destination.exists():
            broken.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in heading_anchors(destination.read_text()):
            broken.append(f"{page.relative_to(root)}: {target} (no heading with that anchor)")
    return broken


def test_the_readme_is_a_front_door_of_at_most_160_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move a job's text to its docs/ page"


def test_the_readme_starts_with_its_title_and_the_two_commands():
    lines = README.read_text().splitlines()
    assert lines[:3] == ["# cablesim", "", "```bash"]
    assert lines[3].startswith("python3 -m pip install nox && nox -s build_linux ")
    assert lines[4].startswith("python3 -m pip install nox && nox -s tests ")
    assert lines[5] == "```"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    assert broken_links(page) == []


def test_a_broken_link_and_a_missing_anchor_are_both_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n[ok](#x) [ok](b.md) [ok](a.md#two-words)\n"
                                   "[no](c.md) [no](a.md#three-words) [url](https://example.org/c.md)\n")
    (tmp_path / "b.md").write_text("# B\n")
    assert broken_links(tmp_path / "a.md", tmp_path) == [
        "a.md: c.md (no such file)",
        "a.md: a.md#three-words (no heading with that anchor)",
    ]


def test_every_docs_page_is_on_the_readme_map():
    linked = {target.partition("#")[0] for target in relative_links(README.read_text())}
    assert [page.name for page in PAGES if f"docs/{page.name}" not in linked] == []


def test_the_first_simulation_of_the_readme_fires_the_one_spike_it_promises():
    code = re.search(r"## A first simulation\n+```python\n(.*?)\n```", README.read_text(), re.DOTALL)
    assert code is not None, "README.md has no python block under '## A first simulation'"
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code.group(1), "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    assert list(namespace["spikes"].spike_times) == pytest.approx([6.025])  # the comment after its print()
