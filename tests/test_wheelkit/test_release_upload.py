"""wheelkit.release.upload (`nox -s upload`) against a real pypiserver on 127.0.0.1 with an htpasswd user, run as the
session runs it (python -m wheelkit upload, credentials in the environment): a dry run, a wrong password, the server
killed mid-upload, a second upload of the same release (each file's sha256 on the index against our rebuild's),
the same version with other content, staging from the index, a default pypiserver's redirect to its fallback index (never followed), and a file the index kept in part."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wheelkit.files import sha256
from wheelkit.index import RedirectedElsewhere, index_files
from wheelkit.release.checks import collect

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USER, PASSWORD = "uploader", "s3cret-Pa55"
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")  # five wheels and the sdist: six files


@pytest.fixture
def index(start_index):
    """A pypiserver whose uploads need USER's PASSWORD."""
    return start_index(user=(USER, PASSWORD))


@pytest.fixture
def release(tmp_path, dists) -> Path:
    return dists.release(tmp_path / "release", "2.0", pythons=PYTHONS)


def upload_command(*argv: str, password: str = PASSWORD) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "packaging"), TWINE_USERNAME=USER, TWINE_PASSWORD=password,
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return [sys.executable, "-m", "wheelkit", "upload", *argv], env


def run_upload(*argv: str, password: str = PASSWORD, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`nox -s upload -- argv` as the session runs it."""
    command, env = upload_command(*argv, password=password)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300)


def common(index) -> list[str]:
    return ["--repository", index.url, "--platforms", "manylinux_x86_64"]


def listed(index, name: str = "cablesim") -> dict[str, str]:
    return {n: f.sha256 for n, f in index_files(f"{index.url}simple/{name}/", {}).items()}


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in collect([folder])}


def test_a_dry_run_says_what_would_go_where_and_sends_nothing(index, release):
    dry = run_upload(*common(index), "--dry-run", str(release))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would upload ") == 6 and "nothing sent" in dry.stdout and not listed(index)


def test_a_wrong_password_uploads_nothing_and_names_the_credentials_to_check(index, release):
    wrong = run_upload(*common(index), str(release), password="wrong")
    assert wrong.returncode == 1
    assert f"{index.url} refused the credentials: check TWINE_USERNAME and TWINE_PASSWORD" in wrong.stderr
    assert "not uploaded: cablesim-2.0-cp310" in wrong.stderr and "run the same command again" in wrong.stderr
    assert "wrong" not in wrong.stdout + wrong.stderr.replace("wrong password", "")
    assert not listed(index)


def test_a_server_killed_mid_upload_stops_it_clearly_and_the_same_command_completes_the_release(index, release):
    command, env = upload_command(*common(index), str(release))
    upload = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(index.packages.iterdir()) and time.monotonic() < deadline and upload.poll() is None:
        time.sleep(0.01)
    index.stop(signal.SIGKILL)  # as soon as the first file is on it
    out, err = upload.communicate(timeout=300)
    assert upload.returncode == 1, out + err
    assert "is unreachable or went away during the upload" in err and "not uploaded:" in err
    assert PASSWORD not in out + err
    expected = hashes(release)
    kept = {p.name: sha256(p) for p in index.packages.iterdir()}
    whole = sorted(name for name, digest in kept.items() if digest == expected[name])
    assert 1 <= len(kept) < 6

    index.start()  # same folder and port
    rerun = run_upload(*common(index), str(release))
    cut = sorted(set(kept) - set(whole))  # the file being written when the server died, if it kept part of it
    if cut:
        assert rerun.returncode == 1 and f"holds only the beginning of {len(cut)} file(s)" in rerun.stderr
        for name in cut:  # what the message says to do
            (index.packages / name).unlink()
        rerun = run_upload(*common(index), str(release))
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("skip   ") == len(whole)
    assert f"{6 - len(whole)} uploaded, {len(whole)} already there" in rerun.stdout
    assert listed(index) == expected  # nothing lost, nothing changed


def test_a_release_uploaded_again_sends_nothing_and_duplicates_nothing(index, release):
    assert run_upload(*common(index), str(release)).returncode == 0
    again = run_upload(*common(index), str(release))
    assert again.returncode == 0 and "every file is already on" in again.stdout
    assert "6 file(s) already on" in again.stdout and ", 6 with our rebuild's sha256:" in again.stdout
    for name, digest in hashes(release).items():  # each file: the index's sha256 equals our rebuild's
        assert f"  same       {name}: sha256 {digest} on the index and in our rebuild\n" in again.stdout
    assert sorted(p.name for p in index.packages.iterdir()) == sorted(hashes(release))
    assert listed(index) == hashes(release)


def test_the_same_version_with_other_content_is_refused_before_anything_is_sent(index, release, tmp_path, dists):
    assert run_upload(*common(index), str(release)).returncode == 0
    other = dists.release(tmp_path / "other", "2.0", pythons=PYTHONS)
    clash = run_upload(*common(index), str(other))
    assert clash.returncode == 1 and "already has" in clash.stderr and "with other content" in clash.stderr
    assert ", 0 with our rebuild's sha256:" in clash.stdout
    for name, digest in hashes(other).items():
        assert f"  DIFFERENT  {name}: sha256 {hashes(release)[name]} on the index, {digest} in our rebuild" \
            in clash.stdout
    assert listed(index) == hashes(release)


def test_staging_from_an_index_checks_every_download_against_its_sha256(index, release, tmp_path):
    assert run_upload(*common(index), str(release)).returncode == 0
    staged = run_upload(*common(index), "--dry-run", "--from", f"{index.url}simple/", "cablesim", "2.0",
                        cwd=tmp_path)  # stages into tmp_path/build/
    assert staged.returncode == 0, staged.stderr
    assert "6 file(s) gathered, hashes verified" in staged.stdout and staged.stdout.count("skip   ") == 6
    assert hashes(tmp_path / "build" / "upload-staging" / "cablesim-2.0") == hashes(release)


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "disable-fallback"])
def test_a_first_upload_to_a_pypiserver_with_or_without_its_fallback_never_follows_it(start_index, tmp_path,
                                                                                        fallback, dists, unused_port):
    # The fallback stands for PyPI out of reach (offline): a closed port on this host is another host to the index.
    away = f"http://127.0.0.1:{unused_port}/simple/"
    index = start_index(options=["--fallback-url", away] if fallback else ["--disable-fallback"])
    folder = dists.release(tmp_path / "release", "3.0")
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


@pytest.mark.parametrize("algorithm", ["sha256", "off"])
def test_a_file_the_index_kept_only_in_part_is_named_and_the_rerun_completes_once_it_is_deleted(start_index,
                                                                                              tmp_path, algorithm,
                                                                                              dists):
    index = start_index(options=["--disable-fallback", "--hash-algo", algorithm])
    folder = dists.release(tmp_path / "release", "4.0")
    (wheel,) = folder.glob("*.whl")
    size = wheel.stat().st_size
    cut = index.packages / wheel.name  # what an index killed mid-upload keeps: the beginning of the file
    cut.write_bytes(wheel.read_bytes()[: size // 2])
    arguments = ["--repository", index.url, "--platforms", "manylinux_x86_64", str(folder)]

    stuck = run_upload(*arguments)
    assert stuck.returncode == 1, stuck.stdout
    assert (f"nothing uploaded: {index.url} ({index.url}simple/cablesim/) holds only the beginning of 1 file(s), left "
            f"by an upload that was cut off:\n  - {wheel.name}: {size // 2:,} of {size:,} bytes\nDelete it from the "
            "index (for a pypiserver: remove the file from the packages folder it serves), then run the same command "
            "again") in stuck.stderr
    assert sorted(p.name for p in index.packages.iterdir()) == [wheel.name]  # nothing else was sent

    cut.unlink()
    rerun = run_upload(*arguments)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 uploaded, 0 already there" in rerun.stdout
    assert {p.name: sha256(p) for p in index.packages.iterdir()} == hashes(folder)
    again = run_upload(*arguments)
    assert again.returncode == 0 and "every file is already on" in again.stdout
