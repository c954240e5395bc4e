"""wheelkit.publish (`nox -s upload`) and wheelkit.release: the checks before any upload, staging, and (slow) real
uploads to a real pypiserver on 127.0.0.1 with an htpasswd user: upload, re-run (nothing duplicated, nothing lost),
a wrong password, the server killed mid-upload and a re-run that completes the release, a file the index kept only in
part, a default pypiserver's redirect to its fallback index (never followed), credentials in a URL (refused, never
shown), pip installing from it into a fresh venv, and what happens when cablesim and cablesim-nightly are both
installed.

Small releases are synthesised with wheelfile.write_wheel; the install tests use the one real wheel that
test_wheelkit_version.real_build builds per run."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import PackageIndex, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from test_wheelkit_version import real_build  # noqa: E402
from wheelkit import WheelkitError  # noqa: E402
from wheelkit.rename import rename_wheel  # noqa: E402
from wheelkit.release.checks import check_release, collect, platform_family  # noqa: E402
from wheelkit.release.index import RedirectedElsewhere, index_files  # noqa: E402
from wheelkit.release.manifest import check_manifest, write_manifest  # noqa: E402
from wheelkit.release.repository import redact, refuse_credentials_in_argv, repository_for  # noqa: E402
from wheelkit.release.staging import stage  # noqa: E402
from wheelkit.release.steps import ReleaseOptions, parse_release_args, release_steps  # noqa: E402
from wheelkit.release.upload import parse_upload_args, upload  # noqa: E402
from wheelkit.release.upload import run_upload as run_upload_here  # noqa: E402
from wheelkit.version import BuildVersion  # noqa: E402
from wheelkit.wheelfile import WheelContents, read_all, write_wheel  # noqa: E402

BIN = Path(sys.executable).parent
TWINE = str(BIN / "twine")
LOCAL = repository_for("http://127.0.0.1:1/")
PLAT = "manylinux_2_17_x86_64"
DESCRIPTION = "cablesim test release\n\nA long description that renders.\n"


def metadata(name: str, version: str, pythons: tuple[str, ...]) -> str:
    classifiers = "".join(f"Classifier: Programming Language :: Python :: {p}\n" for p in pythons)
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a test\n{classifiers}"
            f"Description-Content-Type: text/markdown\n\n{DESCRIPTION}")


def synth_wheel(folder: Path, version: str = "1.0", python: str = "3.11", plat: str = PLAT, name: str = "cablesim",
                meta_version: str = "", pythons: tuple[str, ...] = ("3.11",), payload: bytes = b"") -> Path:
    tag = f"cp{python.replace('.', '')}"
    info = f"{name}-{version}.dist-info"
    files = {
        "cablesim/__init__.py": b"__version__ = '%s'\n" % version.encode() + payload,
        f"{info}/METADATA": metadata(name, meta_version or version, pythons).encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: {tag}-{tag}-{plat}\n"
                         .encode(),
    }
    return write_wheel(folder / f"{name}-{version}-{tag}-{tag}-{plat}.whl", files)


def synth_sdist(folder: Path, version: str = "1.0", name: str = "cablesim", pythons: tuple[str, ...] = ("3.11",),
                pkg_info: str = "") -> Path:
    top = f"{name}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{top}.src"
    source.mkdir()
    (source / "PKG-INFO").write_text(pkg_info or metadata(name, version, pythons))
    (source / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    path = folder / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(source, top)
    shutil.rmtree(source)
    return path


def release_folder(folder: Path, version: str = "1.0", pythons: tuple[str, ...] = ("3.11",)) -> Path:
    for python in pythons:
        synth_wheel(folder, version, python, pythons=pythons, payload=os.urandom(64 * 1024).hex().encode())
    synth_sdist(folder, version, pythons=pythons)
    return folder


def problems(files, **options) -> str:
    with pytest.raises(WheelkitError) as caught:
        check_release(files, **{"repository": LOCAL, "platforms": ("manylinux_x86_64",), **options})
    return str(caught.value)


# --- arguments ----------------------------------------------------------------------------------------------------


def test_no_repository_is_an_error_not_pypi():
    with pytest.raises(WheelkitError, match="no repository chosen: pass --repository testpypi"):
        parse_upload_args([])
    with pytest.raises(WheelkitError, match="neither pypi, testpypi nor an http"):
        parse_upload_args(["--repository", "pypy"])
    with pytest.raises(WheelkitError, match="must not carry credentials in the URL"):
        parse_upload_args(["--repository", "https://user:secret@example.org/"])
    options = parse_upload_args(["-r", "http://127.0.0.1:8080", "--dry-run", "--from", "d", "cablesim", "1.0"])
    assert options.repository.upload_url == "http://127.0.0.1:8080/"
    assert options.repository.simple_url == "http://127.0.0.1:8080/simple/" and not options.repository.public
    assert options.stage_from == ("d", "cablesim", "1.0") and options.dry_run
    assert repository_for("pypi").public and repository_for("pypi").project_url("Cablesim_Nightly") == \
        "https://pypi.org/simple/cablesim-nightly/"


def test_a_url_with_credentials_is_refused_in_any_option_without_echoing_them():
    secret = "user:PASSWORD"
    for argv, option in (
        (["--repository", f"http://{secret}@127.0.0.1:8080/"], "--repository"),
        (["-r", "http://127.0.0.1:8080/", "--simple-url", f"http://{secret}@127.0.0.1:8080/simple/"], "--simple-url"),
        (["-r", "http://127.0.0.1:8080/", f"--simple-url=http://{secret}@127.0.0.1:8080/simple/"], "--simple-url"),
        (["-r", "pypi", "--from", f"https://{secret}@ci.example/simple/", "cablesim", "1.0"], "--from"),
        (["-r", "pypi", "--no-such-option", f"https://{secret}@ci.example/"], "--no-such-option"),  # argparse quotes it
    ):
        with pytest.raises(WheelkitError) as caught:
            parse_upload_args(argv)
        text = str(caught.value)
        assert text.startswith(f"{option} must not carry credentials in the URL (http") and "://***@" in text
        assert "set TWINE_USERNAME and TWINE_PASSWORD" in text and "PASSWORD" not in text.replace("TWINE_PASSWORD", "")
    with pytest.raises(WheelkitError, match=r"--simple-url must not .*Give http://127.0.0.1:8080/simple/ and set"):
        repository_for("http://127.0.0.1:8080/", "http://user:PASS@word@127.0.0.1:8080/simple/")  # an unencoded @
    with pytest.raises(WheelkitError, match=r"^--repository '\*\*\*@127.0.0.1:8080/' is neither pypi"):
        parse_upload_args(["--repository", "user:PASSWORD@127.0.0.1:8080/"])  # no scheme: not a URL, still hidden
    with pytest.raises(WheelkitError, match="--from must not carry credentials"):
        stage("https://__token__:pypi-AgE@ci.example/simple/", "cablesim", "1.0", Path("unused"))
    # What the noxfile calls before nox echoes a command line (upload and release take the same check).
    with pytest.raises(WheelkitError, match=r"^--repository must not carry credentials in the URL \(https://\*\*\*@"):
        refuse_credentials_in_argv(["--type", "nightly", "--upload", "true", "--repository",
                                    "https://__token__:pypi-AgE@test.pypi.org/legacy/"])
    refuse_credentials_in_argv(["--repository", "https://test.pypi.org/legacy/", "--from", "https://ci.example/s/@x",
                                "cablesim", "1.0", "me@example.org", "wheelhouse/"])  # no user:password@host in these
    assert redact("cannot reach http://u:p@w@h:1/simple/ or https://t@h/") == \
        "cannot reach http://***@h:1/simple/ or https://***@h/"


def test_credentials_in_simple_url_never_reach_the_resolver_or_a_message(tmp_path, monkeypatch):
    folder = release_folder(tmp_path / "r")
    asked: list[str] = []
    resolve = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *rest, **kw: asked.append(str(host)) or resolve(
        host, *rest, **kw))
    lines: list[str] = []
    argv = ["-r", "http://127.0.0.1:9/", "--simple-url", "http://user:PASSWORD@127.0.0.1:9/simple/",
            "--platforms", "manylinux_x86_64", "--dry-run", str(folder)]
    with pytest.raises(WheelkitError) as caught:
        run_upload_here(argv, root=tmp_path, twine=TWINE, emit=lines.append, environ={})
    assert "PASSWORD" not in str(caught.value).replace("TWINE_PASSWORD", "") + "".join(lines)
    assert "--simple-url must not carry credentials" in str(caught.value) and not asked and not lines


def test_platform_families():
    assert platform_family("manylinux_2_34_x86_64") == "manylinux_x86_64"
    assert platform_family("manylinux2014_x86_64") == "manylinux_x86_64"
    assert platform_family("macosx_11_0_arm64") == "macosx_arm64"


# --- the checks before any upload ---------------------------------------------------------------------------------


def test_a_complete_release_passes(tmp_path):
    folder = release_folder(tmp_path / "r", pythons=("3.10", "3.11"))
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    assert (release.distribution, release.version, release.pythons) == ("cablesim", "1.0", ("3.10", "3.11"))
    assert release.files[-1].name == "cablesim-1.0.tar.gz"  # the sdist goes last


def test_two_versions_a_missing_sdist_and_an_unrepaired_tag_are_all_reported(tmp_path):
    folder = tmp_path / "r"
    synth_wheel(folder, "1.0")
    synth_wheel(folder, "1.1", "3.10", plat="linux_x86_64")
    (folder / "cablesim-1.0-cp311-cp311-manylinux_2_17_x86_64.whl.debug.tar.gz").write_text("not uploaded")
    text = problems(collect([folder]))
    assert text.startswith("nothing uploaded, the release is not ready:")
    assert "the files carry 2 versions (1.0: cablesim-1.0-cp311" in text
    assert "platform tag linux_x86_64 is not a repaired one" in text
    assert "0 sdists (none): a release uploads exactly one" in text


def test_the_matrix_must_be_complete_unless_allowed(tmp_path):
    folder = tmp_path / "r"
    synth_wheel(folder, pythons=("3.11", "3.12"))
    synth_sdist(folder, pythons=("3.11", "3.12"))
    text = problems(collect([folder]), platforms=("manylinux_x86_64", "macosx_arm64"))
    assert "3 wheel(s) of the matrix missing" in text and "cp312-manylinux_x86_64" in text
    assert "cp311-macosx_arm64" in text and "--allow-partial" in text
    release = check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",), allow_partial=True)
    assert release.missing == ("cp312-manylinux_x86_64",)


def test_local_versions_never_go_to_pypi(tmp_path):
    folder = release_folder(tmp_path / "r", "1.0.dev3+g1ab2c3d")
    text = problems(collect([folder]), repository=repository_for("pypi"))
    assert "version 1.0.dev3+g1ab2c3d is a local version (+...): pypi refuses it" in text
    check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))  # a site index may


def test_a_renamed_wheel_or_unnormalised_metadata_is_caught(tmp_path):
    folder = tmp_path / "r"
    synth_sdist(folder, "9.0a0")
    good = synth_wheel(folder, "9.0a0", meta_version="9.0a")  # METADATA says 9.0a, the name 9.0a0: normalised equal
    check_release(collect([folder]), repository=LOCAL, platforms=("manylinux_x86_64",))
    good.rename(folder / "cablesim-9.0a1-cp311-cp311-manylinux_2_17_x86_64.whl")
    text = problems(collect([folder]))
    assert "has no single cablesim-9.0a1.dist-info/ folder" in text


def test_twine_check_strict_failure_uploads_nothing(tmp_path):
    from wheelkit.release.checks import twine_check

    sdist = synth_sdist(tmp_path, pkg_info="Metadata-Version: 2.1\nName: cablesim\nVersion: 1.0\n")
    with pytest.raises(WheelkitError, match="nothing uploaded: twine check --strict failed"):
        twine_check([sdist], TWINE)


def test_a_tested_folder_must_hold_what_was_tested(tmp_path):
    folder = release_folder(tmp_path / "r")
    files = collect([folder])
    write_manifest(folder, files)
    check_manifest(folder, files)
    synth_wheel(folder, "1.0", payload=b"# changed\n")
    with pytest.raises(WheelkitError, match="changed since it was tested"):
        check_manifest(folder, collect([folder]))


def test_missing_paths_are_explained(tmp_path):
    with pytest.raises(WheelkitError, match="does not exist: build the release first"):
        collect([tmp_path / "wheelhouse"])


# --- staging ------------------------------------------------------------------------------------------------------


def test_staging_from_a_folder_and_a_zip_picks_one_release_and_checks_record(tmp_path):
    source = release_folder(tmp_path / "ci" / "linux")
    synth_wheel(tmp_path / "ci" / "other", "0.9")
    staged = stage(str(tmp_path / "ci"), "cablesim", "1.0", tmp_path / "staging")
    assert [p.name for p in staged] == sorted(p.name for p in source.iterdir())
    archive = tmp_path / "artifacts.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in source.iterdir():
            handle.write(path, f"wheels-linux/{path.name}")
    assert len(stage(str(archive), "cablesim", "1.0", tmp_path / "staging")) == 2
    with pytest.raises(WheelkitError, match="no files of cablesim 2.0"):
        stage(str(tmp_path / "ci"), "cablesim", "2.0", tmp_path / "staging")
    wheel = next(source.glob("*.whl"))
    files = read_all(wheel)
    with zipfile.ZipFile(wheel, "w") as handle:  # tampered: content no longer matches RECORD
        for name, data in files.items():
            handle.writestr(name, data + b"#" if name.endswith(".py") else data)
    with pytest.raises(WheelkitError, match="RECORD does not match"):
        stage(str(tmp_path / "ci"), "cablesim", "1.0", tmp_path / "staging")


# --- the release flow ---------------------------------------------------------------------------------------------


def test_release_steps_build_and_test_first_and_upload_a_release_only_in_a_second_step(tmp_path):
    release = BuildVersion("cablesim", "1.2.3", True, False)
    first = parse_release_args(["--type", "release", "--upload", "false", "39"])
    steps = release_steps(first, release, tmp_path)
    assert [s.name for s in steps] == ["build_linux", "sdist", "gather", "test_wheels", "manifest"]
    assert steps[0].posargs == ("--version", "1.2.3", "39")
    assert dict(steps[1].env) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.2.3"}
    second = parse_release_args(["--type", "release", "--upload", "true", "--repository", "pypi"])
    with pytest.raises(WheelkitError, match="no tested release 1.2.3 in .*run the first step"):
        release_steps(second, release, tmp_path)
    folder = tmp_path / "build" / "release" / "cablesim-1.2.3"
    folder.mkdir(parents=True)
    (folder / "tested.json").write_text("{}")
    (step,) = release_steps(second, release, tmp_path)
    assert (step.session, step.posargs) == ("upload", ("--repository", "pypi", str(folder)))
    nightly = BuildVersion("cablesim-nightly", "1.2.4.dev20261123", False, True)
    options = parse_release_args(["--type", "nightly", "--upload", "true", "--repository",
                                  "testpypi", "--allow-partial"])
    names = [s.name for s in release_steps(options, nightly, tmp_path)]
    assert names == ["build_linux", "sdist", "rename-sdist", "gather", "test_wheels", "manifest", "upload"]
    with pytest.raises(WheelkitError, match="--upload true needs --repository"):
        parse_release_args(["--type", "nightly", "--upload", "true"])
    with pytest.raises(WheelkitError, match="must be true or false"):
        parse_release_args(["--type", "nightly", "--upload", "maybe"])
    assert isinstance(first, ReleaseOptions)


# --- a real index -------------------------------------------------------------------------------------------------

USER, PASSWORD = "uploader", "s3cret-Pa55"


@pytest.fixture
def index(tmp_path):
    if not (BIN / "pypi-server").exists() or not (BIN / "twine").exists():
        pytest.skip("needs pypiserver, passlib and twine in this environment (the tests session installs them)")
    if importlib.util.find_spec("passlib") is None:
        pytest.skip("needs passlib (pip install passlib) for the htpasswd file")
    server = PackageIndex(str(BIN / "pypi-server"), tmp_path / "index" / "packages", user=(USER, PASSWORD))
    server.start()
    yield server
    server.stop()


def run_upload(*argv: str, password: str = PASSWORD, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`nox -s upload -- argv` as the session runs it (python -m wheelkit upload, credentials in the environment)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "packaging"), TWINE_USERNAME=USER, TWINE_PASSWORD=password,
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "wheelkit", "upload", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False, timeout=300)


def listed(index: PackageIndex, name: str = "cablesim") -> dict[str, str]:
    return {n: f.sha256 for n, f in index_files(f"{index.url}simple/{name}/", {}).items()}


@pytest.mark.slow
def test_upload_rerun_wrong_password_and_a_server_killed_mid_upload(index, tmp_path):
    folder = release_folder(tmp_path / "release", "2.0", pythons=("3.9", "3.10", "3.11", "3.12", "3.13"))
    common = ["--repository", index.url, "--platforms", "manylinux_x86_64"]

    dry = run_upload(*common, "--dry-run", str(folder))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would upload ") == 6 and "nothing sent" in dry.stdout and not listed(index)

    wrong = run_upload(*common, str(folder), password="wrong")
    assert wrong.returncode == 1
    assert f"{index.url} refused the credentials: check TWINE_USERNAME and TWINE_PASSWORD" in wrong.stderr
    assert "not uploaded: cablesim-2.0-cp310" in wrong.stderr and "run the same command again" in wrong.stderr
    assert "wrong" not in wrong.stdout + wrong.stderr.replace("wrong password", "")
    assert not listed(index)

    # Kill the server as soon as the first file is on it; the upload must stop with a clear error.
    env = dict(os.environ, PYTHONPATH=str(ROOT / "packaging"), TWINE_USERNAME=USER, TWINE_PASSWORD=PASSWORD)
    upload = subprocess.Popen([sys.executable, "-m", "wheelkit", "upload", *common, str(folder)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(index.packages.iterdir()) and time.monotonic() < deadline and upload.poll() is None:
        time.sleep(0.01)
    index.stop(signal.SIGKILL)
    out, err = upload.communicate(timeout=300)
    assert upload.returncode == 1, out + err
    assert "is unreachable or went away during the upload" in err and "not uploaded:" in err
    assert PASSWORD not in out + err
    partial = sorted(p.name for p in index.packages.iterdir())
    assert 1 <= len(partial) < 6

    index.start()  # same folder and port: a re-run completes the release
    rerun = run_upload(*common, str(folder))
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("skip   ") == len(partial)
    assert f"{6 - len(partial)} uploaded, {len(partial)} already there" in rerun.stdout
    expected = {p.name: __import__("hashlib").sha256(p.read_bytes()).hexdigest() for p in collect([folder])}
    assert listed(index) == expected  # nothing lost, nothing changed

    again = run_upload(*common, str(folder))
    assert again.returncode == 0 and "every file is already on" in again.stdout
    assert sorted(p.name for p in index.packages.iterdir()) == sorted(expected)  # nothing duplicated

    # The same version with other content is refused before anything is sent.
    other = release_folder(tmp_path / "other", "2.0", pythons=("3.9", "3.10", "3.11", "3.12", "3.13"))
    clash = run_upload(*common, str(other))
    assert clash.returncode == 1 and "already has" in clash.stderr and "with other content" in clash.stderr

    # Staging from the index itself (as from CI's index) verifies each download against the index's sha256.
    staged = run_upload("--repository", index.url, "--platforms", "manylinux_x86_64", "--dry-run", "--from",
                        f"{index.url}simple/", "cablesim", "2.0", cwd=tmp_path)  # stages into tmp_path/build/
    assert staged.returncode == 0, staged.stderr
    assert "6 file(s) gathered, hashes verified" in staged.stdout and staged.stdout.count("skip   ") == 6


@pytest.mark.slow
def test_a_real_wheel_installs_from_the_index_and_the_nightly_conflict_is_reported(index, tmp_path, tmp_path_factory):
    if shutil.which("auditwheel", path=str(BIN)) is None or shutil.which("uv") is None:
        pytest.skip("needs auditwheel (the tests session installs it) and uv")
    clone = real_build(tmp_path_factory.getbasetemp())
    (wheel,) = (clone / "wheelhouse").glob("cablesim-9.0a0-*.whl")
    release = tmp_path / "release"
    release.mkdir()
    shutil.copy(wheel, release)
    with WheelContents(wheel) as contents:
        info = contents.read_text(f"{contents.dist_info}/METADATA")
    synth_sdist(release, "9.0a0", pkg_info=info)  # stands in for nox -s sdist (its metadata is the wheel's)
    nightly = tmp_path / "nightly"
    rename_wheel(wheel, "cablesim-nightly", nightly)
    synth_sdist(nightly, "9.0a0", name="cablesim_nightly", pkg_info=info.replace("Name: cablesim", "Name: "
                                                                                   "cablesim-nightly"))
    for folder in (release, nightly):
        result = run_upload("--repository", index.url, "--allow-partial", str(folder))
        assert result.returncode == 0, result.stderr
        assert "--allow-partial: " in result.stdout and "1 uploaded" not in result.stdout

    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "--seed", "-q", "--python", sys.executable, str(venv)], check=True,
                   env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--index-url", f"{index.url}simple/",
           "--extra-index-url", "https://pypi.org/simple/"]
    subprocess.run([*pip, "cablesim==9.0a0"], check=True, cwd=tmp_path)
    check = "import cablesim, importlib.metadata as m; print(cablesim.__version__, m.version('cablesim'))"
    ran = subprocess.run([python, "-c", check], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["9.0a0", "9.0a0"] and not ran.stderr

    # pip installs cablesim-nightly over cablesim's files without a word; the import then warns.
    installed = subprocess.run([*pip, "cablesim-nightly==9.0a0"], cwd=tmp_path, capture_output=True, text=True,
                               check=False)
    assert installed.returncode == 0, installed.stderr
    both = subprocess.run([python, "-c", "import cablesim"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "both cablesim 9.0a0 and cablesim-nightly 9.0a0 are installed over the same files" in both.stderr
    assert "pip uninstall -y cablesim cablesim-nightly" in both.stderr
    # Uninstalling one removes the files both share: the other is left broken, as the README says.
    subprocess.run([python, "-m", "pip", "uninstall", "-y", "-q", "cablesim-nightly"], check=True, cwd=tmp_path)
    broken = subprocess.run([python, "-c", "import cablesim"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert broken.returncode != 0
    subprocess.run([*pip, "--force-reinstall", "--no-deps", "cablesim==9.0a0"], check=True, cwd=tmp_path)
    fixed = subprocess.run([python, "-c", check], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert fixed.stdout.split() == ["9.0a0", "9.0a0"] and not fixed.stderr
    assert json.loads(json.dumps(listed(index)))  # the index still lists the release


class ConfiguredIndex(PackageIndex):
    """conftest's PackageIndex always passes --disable-fallback; this one starts pypiserver with the options given
    instead (no authentication), to see what a default pypiserver does."""

    def __init__(self, server: str, packages: Path, options: Sequence[str]) -> None:
        super().__init__(server, packages)
        self.options = list(options)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.server, "run", "-i", "127.0.0.1", "-p", str(self.port), "-a", ".", "-P", ".", *self.options,
             str(self.packages)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}simple/", timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail(f"pypi-server did not start on port {self.port}")
                time.sleep(0.1)


@pytest.fixture
def start_index(tmp_path):
    """start_index(*pypiserver options): a running pypiserver on a folder of its own, stopped afterwards."""
    if not (BIN / "pypi-server").exists() or not (BIN / "twine").exists():
        pytest.skip("needs pypiserver and twine in this environment (the tests session installs them)")
    started: list[ConfiguredIndex] = []

    def start(*options: str) -> ConfiguredIndex:
        server = ConfiguredIndex(str(BIN / "pypi-server"), tmp_path / f"index{len(started)}" / "packages", options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "disable-fallback"])
def test_a_first_upload_to_a_pypiserver_with_or_without_its_fallback_never_follows_it(start_index, tmp_path,
                                                                                        fallback):
    # The fallback stands for PyPI out of reach (offline): a closed port on this host is another host to the index.
    away = f"http://127.0.0.1:{free_port()}/simple/"
    index = start_index(*(["--fallback-url", away] if fallback else ["--disable-fallback"]))
    folder = release_folder(tmp_path / "release", "3.0")
    result = run_upload("--repository", index.url, "--platforms", "manylinux_x86_64", str(folder))
    assert result.returncode == 0, result.stderr
    note = (f"{index.url}simple/cablesim/ redirects to {away}cablesim/ (not followed) and {index.url}simple/ does "
            f"not list cablesim: a new project on {index.url} (a pypiserver without --disable-fallback")
    assert (note in result.stdout) == fallback
    assert "2 uploaded, 0 already there" in result.stdout and "cannot reach" not in result.stderr
    # A redirect on the same host is followed (pypiserver sends /simple/Cablesim/ to /simple/cablesim/).
    assert sorted(index_files(f"{index.url}simple/Cablesim/", {})) == sorted(p.name for p in collect([folder]))
    if fallback:
        with pytest.raises(RedirectedElsewhere, match=f"answered 303 with a redirect to another host, {away}other/; "
                           "not followed .* start it with --disable-fallback"):
            index_files(f"{index.url}simple/other/", {})


class _RedirectingIndex(http.server.BaseHTTPRequestHandler):
    """An index that lists cablesim on its root page yet sends cablesim's page to another host."""

    elsewhere = ""

    def do_GET(self) -> None:
        if self.path == "/simple/":
            body = b'<html><body><a href="cablesim/">cablesim</a></body></html>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(303)
            self.send_header("Location", f"{self.elsewhere}cablesim/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_to_another_host_for_a_project_the_index_lists_is_reported_not_followed(tmp_path):
    _RedirectingIndex.elsewhere = f"http://127.0.0.1:{free_port()}/simple/"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectingIndex)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        repository = repository_for(f"http://127.0.0.1:{server.server_address[1]}/")
        release = check_release(collect([release_folder(tmp_path / "r")]), repository=repository,
                                platforms=("manylinux_x86_64",))
        lines: list[str] = []
        with pytest.raises(WheelkitError) as caught:
            upload(release, repository, twine=TWINE, emit=lines.append, dry_run=True, environ={})
    finally:
        server.shutdown()
        server.server_close()
    text = str(caught.value)
    assert text.startswith(f"{repository.simple_url}cablesim/ answered 303 with a redirect to another host, "
                           f"{_RedirectingIndex.elsewhere}cablesim/; not followed")
    assert "start it with --disable-fallback" in text and not lines
    assert f"Yet {repository.simple_url} lists cablesim: nothing uploaded; check that --simple-url is" in text


@pytest.mark.slow
@pytest.mark.parametrize("hashes", ["sha256", "off"])
def test_a_file_the_index_kept_only_in_part_is_named_and_the_rerun_completes_once_it_is_deleted(start_index,
                                                                                              tmp_path, hashes):
    index = start_index("--disable-fallback", "--hash-algo", hashes)
    folder = release_folder(tmp_path / "release", "4.0")
    (wheel,) = folder.glob("*.whl")
    size = wheel.stat().st_size
    cut = index.packages / wheel.name  # what an index killed mid-upload keeps: the beginning of the file
    cut.write_bytes(wheel.read_bytes()[: size // 2])
    common = ["--repository", index.url, "--platforms", "manylinux_x86_64", str(folder)]

    stuck = run_upload(*common)
    assert stuck.returncode == 1, stuck.stdout
    assert (f"nothing uploaded: {index.url} ({index.url}simple/cablesim/) holds only the beginning of 1 file(s), left "
            f"by an upload that was cut off:\n  - {wheel.name}: {size // 2:,} of {size:,} bytes\nDelete it from the "
            "index (for a pypiserver: remove the file from the packages folder it serves), then run the same command "
            "again") in stuck.stderr
    assert sorted(p.name for p in index.packages.iterdir()) == [wheel.name]  # nothing else was sent

    cut.unlink()
    rerun = run_upload(*common)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 uploaded, 0 already there" in rerun.stdout
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in index.packages.iterdir()} == \
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in collect([folder])}
    again = run_upload(*common)
    assert again.returncode == 0 and "every file is already on" in again.stdout
