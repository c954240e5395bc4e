"""wheelkit's layout: the ground never imports a job and no job imports another; the image's tasks need invoke alone;
these tests import no test module and nothing of conftest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packaging" / "wheelkit"
JOBS = ("builds", "check", "release", "site", "image", "mpi_headers")
ALLOWED_ACROSS: set[tuple[str, str]] = set()  # (job, module of another job) a job may import: none


def wheelkit_imports(path: Path) -> set[str]:
    """The wheelkit modules a file imports, as dotted names below wheelkit (builds.plan, errors, ...)."""
    module = path.relative_to(PACKAGE).with_suffix("").parts
    package = module[:-1]  # of a module, or of an __init__ its own package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(target)] if node.module else [".".join([*base, a.name]) for a in node.names]
                found.update(names)
            elif node.module and node.module.startswith("wheelkit."):
                found.add(node.module[len("wheelkit."):])
        elif isinstance(node, ast.Import):
            found.update(a.name[len("wheelkit."):] for a in node.names if a.name.startswith("wheelkit."))
    return {name for name in found if name}


def owner(dotted: str) -> str:
    """The job a module belongs to, or "ground"."""
    first = dotted.split(".")[0]
    return first if first in JOBS else "ground"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_ground_imports_no_job_and_no_job_imports_another(path):
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    mine = owner(module)
    for imported in wheelkit_imports(path):
        theirs = owner(imported)
        if mine == "ground":
            assert theirs == "ground", f"{module} (ground) imports {imported} (the {theirs} job)"
        else:
            assert theirs in ("ground", mine) or (mine, imported) in ALLOWED_ACROSS, \
                f"{module} (the {mine} job) imports {imported} (the {theirs} job)"


def test_the_image_and_the_credential_check_import_without_packaging_installed(import_without):
    """`pipx run --spec invoke invoke image.build` (CI) has invoke alone: wheelkit.image must import without PyPA's
    packaging. The noxfile's credential check runs in nox's process, which has packaging."""
    result = import_without(("packaging", "elftools"), ("wheelkit", "wheelkit.image", "wheelkit.errors"))
    assert result.returncode == 0, result.stderr


def test_every_module_imports_with_no_typing_extensions(import_without):
    """The sessions' environments have what wheelkit lists, and typing_extensions is not on the list: annotations
    that name it are never evaluated."""
    modules = [".".join(("wheelkit", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
               for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__main__.py"]
    result = import_without(("typing_extensions",), modules)
    assert result.returncode == 0, result.stderr


def test_no_test_module_imports_another_or_conftest():
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.split(".")[0].startswith(("test_", "conftest")) for n in names), f"{path.name}: {names}"
