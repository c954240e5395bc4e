"""wheelkit with the real cablesim wheel (tests/conftest.py's cablesim_wheel: `nox -s build_linux` in a clone of the
code under test, once per session): its file name, METADATA and __version__ agree; rewritten for a site it stays
consistent and installs, with NumPy, from the wheelhouse with no network; uploaded to an index it installs with pip,
and installing cablesim-nightly over it warns. All slow; wheelkit's unit tests are in tests/test_wheelkit/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, installed_tool
from test_wheelkit.package_index import PackageIndex

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.files import sha256
from wheelkit.index import index_files
from wheelkit.rename import rename_wheel
from wheelkit.site.pages import FIND_LINKS_PAGE, build_index
from wheelkit.site.rewrite import Rewrite, check_install, check_wheel, rewrite_wheel
from wheelkit.site.wheelhouse import add_wheels
from wheelkit.wheelfile import WheelContents, verify_record

pytestmark = pytest.mark.slow

SITE = "hpc"
# pip and uv with no network: any access fails at once.
_OFFLINE = {
    "PIP_CONFIG_FILE": os.devnull,  # no site or user pip.conf with an extra index
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "PYTHONNOUSERSITE": "1",
    "UV_PYTHON_DOWNLOADS": "never",
}


@pytest.fixture
def real_wheel(tmp_path: Path, cablesim_wheel: Path) -> Path:
    """A copy of the real cablesim wheel for this Python (the session's one is never touched)."""
    folder = tmp_path / "real"
    folder.mkdir()
    return Path(shutil.copy2(cablesim_wheel, folder))


def run(command: list[object], **options: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False,
                               **options)  # type: ignore[call-overload]
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


def test_the_built_wheel_agrees_in_file_name_metadata_and_version(real_wheel):
    with WheelContents(real_wheel) as contents:
        verify_record(contents)
        version = contents.name.version
        assert contents.metadata_version() == version
        version_file = contents.read_text("cablesim/_version.py")
    assert f"__version__ = version = '{version}'" in version_file


# --- a site's wheelhouse ------------------------------------------------------------------------------------------


def test_a_real_cablesim_wheel_is_rewritten_consistently_and_installs(real_wheel, tmp_path):
    out = rewrite_wheel(real_wheel, tmp_path / "out", Rewrite(local_version=SITE, relax=("numpy>=1.19",)))
    with check_wheel(out) as wheel, WheelContents(real_wheel) as original:
        assert wheel.name.version == original.name.version + (".hpc" if "+" in original.name.version else "+hpc")
        assert wheel.name.tags == original.name.tags
        assert wheel.requires_dist()[0] == "numpy>=1.19"
        assert sorted(n.split("/", 1)[1] for n in wheel.names if ".dist-info/" in n) == sorted(
            n.split("/", 1)[1] for n in original.names if ".dist-info/" in n
        )
    dropped = rewrite_wheel(real_wheel, tmp_path / "dropped", Rewrite(local_version=SITE, drop=("numpy",)))
    # check_install also compares the installed version with the file name's
    assert check_install(dropped, Path(sys.executable), workdir=tmp_path / "install").endswith("hpc")


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


def test_cablesim_installs_offline_from_the_wheelhouse_index(tmp_path, real_wheel, numpy_wheel):
    """The cluster's view: rewrite, add and index; then a clean venv installs cablesim and NumPy with pip --no-index
    from the find-links page, and the PEP 503 pages serve it through a file:// index URL. No network at all."""
    house = tmp_path / "wheelhouse"
    out = tmp_path / "rewritten"
    cablesim = rewrite_wheel(real_wheel, out, Rewrite(local_version=SITE))
    numpy = rewrite_wheel(numpy_wheel, out, Rewrite(local_version=SITE))
    added = add_wheels(house, [cablesim, numpy], site=SITE)
    assert {str(p.folder) for p in added.added} == {"linux-x86_64/generic"}
    build_index(house)
    view = house / "simple/linux-x86_64/generic"

    venv = tmp_path / "venv"
    if shutil.which("uv"):
        run(["uv", "venv", "--quiet", "--seed", "--python", sys.executable, venv],
            env={**os.environ, **_OFFLINE, "UV_OFFLINE": "1"})
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


# --- an index -----------------------------------------------------------------------------------------------------


@pytest.fixture
def index_url(tmp_path: Path) -> Iterator[str]:
    """A pypiserver on 127.0.0.1 without authentication (the upload's credentials are tested in tests/test_wheelkit)."""
    index = PackageIndex(installed_tool("pypi-server"), tmp_path / "packages")
    index.start()
    try:
        yield index.url
    finally:
        index.stop()


def sdist_like(folder: Path, name: str, version: str, pkg_info: str) -> Path:
    """Stands in for nox -s sdist: an sdist whose PKG-INFO is the wheel's METADATA."""
    top = folder / f"{name}-{version}"
    top.mkdir(parents=True)
    (top / "PKG-INFO").write_text(pkg_info)
    (top / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    archive = folder / f"{name}-{version}.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(top, top.name)
    shutil.rmtree(top)
    return archive


def test_a_real_wheel_installs_from_the_index_and_the_nightly_conflict_is_reported(index_url, tmp_path, real_wheel):
    if shutil.which("uv") is None:
        pytest.skip("needs uv (the test extra)")
    with WheelContents(real_wheel) as contents:
        info = contents.read_text(f"{contents.dist_info}/METADATA")
        version = contents.name.version
    release = tmp_path / "release"
    release.mkdir()
    shutil.copy(real_wheel, release)
    sdist_like(release, "cablesim", version, info)
    nightly = tmp_path / "nightly"
    rename_wheel(real_wheel, "cablesim-nightly", nightly)
    sdist_like(nightly, "cablesim_nightly", version, info.replace("Name: cablesim", "Name: cablesim-nightly"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "packaging"), TWINE_USERNAME="anyone", TWINE_PASSWORD="anything",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for folder in (release, nightly):
        result = subprocess.run([sys.executable, "-m", "wheelkit", "upload", "--repository", index_url,
                                 "--allow-partial", str(folder)], cwd=ROOT, env=env, capture_output=True, text=True,
                                check=False, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "--allow-partial: " in result.stdout and "2 uploaded, 0 already there" in result.stdout
    listed = {name: item.sha256 for name, item in index_files(f"{index_url}simple/cablesim/", {}).items()}
    assert listed == {p.name: sha256(p) for p in release.iterdir()}  # the release, whole, and nothing else

    venv = tmp_path / "venv"
    run(["uv", "venv", "--seed", "-q", "--python", sys.executable, venv], env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--index-url", f"{index_url}simple/",
           "--extra-index-url", "https://pypi.org/simple/"]
    run([*pip, f"cablesim=={version}"], cwd=tmp_path)
    check = "import cablesim, importlib.metadata as m; print(cablesim.__version__, m.version('cablesim'))"
    ran = run([python, "-c", check], cwd=tmp_path)
    assert ran.stdout.split() == [version, version] and not ran.stderr

    # pip installs cablesim-nightly over cablesim's files without a word; the import then warns.
    run([*pip, f"cablesim-nightly=={version}"], cwd=tmp_path)
    both = run([python, "-c", "import cablesim"], cwd=tmp_path)
    assert f"both cablesim {version} and cablesim-nightly {version} are installed over the same files" in both.stderr
    assert "pip uninstall -y cablesim cablesim-nightly" in both.stderr
    # Uninstalling one removes the files both share: the other is left broken, as the README says.
    run([python, "-m", "pip", "uninstall", "-y", "-q", "cablesim-nightly"], cwd=tmp_path)
    broken = subprocess.run([python, "-c", "import cablesim"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert broken.returncode != 0
    run([*pip, "--force-reinstall", "--no-deps", f"cablesim=={version}"], cwd=tmp_path)
    fixed = run([python, "-c", check], cwd=tmp_path)
    assert fixed.stdout.split() == [version, version] and not fixed.stderr
