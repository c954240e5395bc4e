"""wheelkit.release.repository: where a release goes, and credentials that never travel in a URL (refused in any
option, never shown, never resolved)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.credentials import redact, refuse_credentials_in_argv
from wheelkit.release.repository import repository_for
from wheelkit.release.staging import stage
from wheelkit.release.upload import parse_upload_args, run_upload

TWINE = str(Path(sys.executable).parent / "twine")


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


def test_credentials_in_simple_url_never_reach_the_resolver_or_a_message(tmp_path, monkeypatch, dists):
    folder = dists.release(tmp_path / "r")
    asked: list[str] = []
    resolve = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *rest, **kw: asked.append(str(host)) or resolve(
        host, *rest, **kw))
    lines: list[str] = []
    argv = ["-r", "http://127.0.0.1:9/", "--simple-url", "http://user:PASSWORD@127.0.0.1:9/simple/",
            "--platforms", "manylinux_x86_64", "--dry-run", str(folder)]
    with pytest.raises(WheelkitError) as caught:
        run_upload(argv, root=tmp_path, twine=TWINE, emit=lines.append, environ={})
    assert "PASSWORD" not in str(caught.value).replace("TWINE_PASSWORD", "") + "".join(lines)
    assert "--simple-url must not carry credentials" in str(caught.value) and not asked and not lines
