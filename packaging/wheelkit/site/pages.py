"""The wheelhouse's PEP 503 pages: one view per kind of node (OS layer and -march level), each serving its level, the
lower x86-64 levels, the layer's generic wheels and the pure-Python ones, a higher folder's wheel hiding the lower
ones' of the same project, version and Python.

Hand-written: no PyPA library writes simple pages, and these views (levels that shadow each other) are ours."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from packaging.utils import canonicalize_name

from ..errors import WheelkitError
from ..files import sha256
from ..wheelfile import WheelContents, parse_wheel_name
from .wheelhouse import GENERIC, SIMPLE, X86_64_LEVELS

log = logging.getLogger(__name__)

FIND_LINKS_PAGE = "find-links.html"


@dataclass(frozen=True)
class View:
    """What one kind of node installs: its OS layer and level, and the folders that serve it, best first."""

    name: PurePosixPath  # folder under simple/: generic or <os-layer>/<level>
    folders: tuple[PurePosixPath, ...]


def views(root: Path) -> list[View]:
    """The index views of a wheelhouse: simple/generic (pure Python) and one per <os-layer>/<level> folder.

    A level's view also serves the lower x86-64 levels present, then the OS layer's generic folder, then the pure-Python
    wheels: a wheel of a higher folder hides the lower folders' wheels of the same project, version and Python.
    """
    root = Path(root)
    found: list[View] = []
    if (root / GENERIC).is_dir():
        found.append(View(PurePosixPath(GENERIC), (PurePosixPath(GENERIC),)))
    for layer in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in (GENERIC, SIMPLE)):
        if layer.name.startswith("."):
            continue
        for stray in sorted(layer.glob("*.whl")):
            log.warning("%s is outside any level folder: not indexed (move it, or add it with wheelhouse.add)", stray)
        levels = sorted(p.name for p in layer.iterdir() if p.is_dir() and not p.name.startswith("."))
        for level in levels:
            chain = [level]
            if level in X86_64_LEVELS:
                chain += [lv for lv in reversed(X86_64_LEVELS[: X86_64_LEVELS.index(level)]) if lv in levels]
            if level != GENERIC:
                chain.append(GENERIC)
            folders = tuple(PurePosixPath(layer.name, lv) for lv in chain) + (PurePosixPath(GENERIC),)
            found.append(View(PurePosixPath(layer.name, level), folders))
    for stray in sorted(root.glob("*.whl")):
        log.warning("%s is outside the layout: not indexed (add it with wheelhouse.add)", stray)
    return found


@dataclass(frozen=True)
class _Indexed:
    relative: PurePosixPath
    project: str
    version: str
    build: str
    interpreters: frozenset[tuple[str, str]]
    sha256: str
    requires_python: str


def _indexed(root: Path, relative: PurePosixPath) -> _Indexed:
    path = root / relative
    name = parse_wheel_name(path.name)
    with WheelContents(path) as wheel:
        requires_python = wheel.metadata().get("requires_python", "")
    return _Indexed(relative, canonicalize_name(name.distribution), name.version.lower(), name.build,
                    frozenset((t.interpreter, t.abi) for t in name.tags), sha256(path), requires_python)


def view_wheels(root: Path, view: View, cache: dict[PurePosixPath, _Indexed] | None = None) -> list[_Indexed]:
    """The wheels a view serves, in folder order, with the shadowed ones left out."""
    cache = {} if cache is None else cache
    chosen: list[_Indexed] = []
    for folder in view.folders:
        for path in sorted((root / folder).glob("*.whl")) if (root / folder).is_dir() else []:
            relative = folder / path.name
            if relative not in cache:
                cache[relative] = _indexed(root, relative)
            entry = cache[relative]
            hidden = any(
                (c.project, c.version, c.build) == (entry.project, entry.version, entry.build)
                and c.interpreters & entry.interpreters
                for c in chosen
            )
            if not hidden:
                chosen.append(entry)
    return chosen


def _page(title: str, links: Iterable[str], repository_meta: bool = True) -> str:
    meta = '    <meta name="pypi:repository-version" content="1.0">\n' if repository_meta else ""
    body = "".join(f"    {link}<br>\n" for link in links)
    return (
        f"<!DOCTYPE html>\n<html>\n  <head>\n{meta}    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    )


def _wheel_link(entry: _Indexed, page_dir: PurePosixPath) -> str:
    target = PurePosixPath(os.path.relpath(str(entry.relative), str(page_dir)))
    href = "/".join(quote(part) for part in target.parts) + f"#sha256={entry.sha256}"
    data = f' data-requires-python="{html.escape(entry.requires_python)}"' if entry.requires_python else ""
    return f'<a href="{html.escape(href)}"{data}>{html.escape(entry.relative.name)}</a>'


def index_pages(root: Path) -> dict[PurePosixPath, str]:
    """Every page of the index, by path relative to root: per view a PEP 503 root (index.html), a page per project
    (<project>/index.html) and one flat page of all its wheels for `pip --no-index --find-links` (find-links.html)."""
    pages: dict[PurePosixPath, str] = {}
    cache: dict[PurePosixPath, _Indexed] = {}
    for view in views(root):
        base = PurePosixPath(SIMPLE) / view.name
        entries = view_wheels(root, view, cache)
        projects = sorted({e.project for e in entries})
        pages[base / "index.html"] = _page(
            f"Simple index: {view.name}", (f'<a href="{quote(p)}/">{html.escape(p)}</a>' for p in projects)
        )
        for project in projects:
            page_dir = base / project
            links = (_wheel_link(e, page_dir) for e in entries if e.project == project)
            pages[page_dir / "index.html"] = _page(f"Links for {project}", links)
        pages[base / FIND_LINKS_PAGE] = _page(
            f"Wheels for {view.name} (pip --no-index --find-links)", (_wheel_link(e, base) for e in entries), False
        )
    return pages


@dataclass
class IndexResult:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    views: list[str] = field(default_factory=list)

    def describe(self, root: Path) -> str:
        """A summary and, per view, the command a job on such a node runs."""
        counts = f"{len(self.written)} page(s) written, {len(self.unchanged)} unchanged, {len(self.removed)} removed"
        lines = [f"index: {counts}"]
        lines += [f"  {view}: pip install --no-index --find-links {Path(root) / SIMPLE / view / FIND_LINKS_PAGE} NAME"
                  for view in self.views]
        return "\n".join(lines)


def _write_atomic(path: Path, text: str) -> bool:
    """Write text to path through a temporary file and os.replace; False (nothing written) if it is already so."""
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return True


def build_index(root: Path) -> IndexResult:
    """Write the PEP 503 pages of every view under root/simple/ (see index_pages); pages that no longer belong to a
    view are removed, unchanged pages are not rewritten. Readers always see a whole page, old or new."""
    root = Path(root)
    if not root.is_dir():
        raise WheelkitError(f"no wheelhouse at {root}: add wheels with `invoke wheelhouse.add WHEEL --root {root}`")
    pages = index_pages(root)
    result = IndexResult(views=sorted({str(PurePosixPath(*p.parts[1:-1])) for p in pages if p.name == FIND_LINKS_PAGE}))
    for relative, text in sorted(pages.items()):
        path = root / relative
        (result.written if _write_atomic(path, text) else result.unchanged).append(path)
    simple = root / SIMPLE
    if simple.is_dir():
        wanted = {root / relative for relative in pages}
        for path in sorted(simple.rglob("*.html")):
            if path not in wanted:
                path.unlink()
                result.removed.append(path)
        for directory in sorted((p for p in simple.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(directory.iterdir()):
                directory.rmdir()
    log.info("index: %d page(s) written, %d unchanged, %d removed", len(result.written), len(result.unchanged),
             len(result.removed))
    return result
