"""Where a release goes (pypi, testpypi or an index's URL) and the rule that credentials never travel in a URL: they
come from TWINE_USERNAME / TWINE_PASSWORD or twine's keyring, and a URL with user:password is refused unshown.
The noxfile imports it before nox echoes a command line: the standard library and packaging (nox's own) only."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from ..errors import WheelkitError


@dataclass(frozen=True)
class Repository:
    """Where files go (twine's --repository-url) and where the index lists them (its simple API)."""

    name: str
    upload_url: str
    simple_url: str
    public: bool = False  # PyPI or TestPyPI: twine's --skip-existing works, local versions are refused

    def project_url(self, distribution: str) -> str:
        return f"{self.simple_url.rstrip('/')}/{canonicalize_name(distribution)}/"


PUBLIC = {
    "pypi": Repository("pypi", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/", public=True),
    "testpypi": Repository("testpypi", "https://test.pypi.org/legacy/", "https://test.pypi.org/simple/", public=True),
}


# scheme://USERINFO@host: everything up to the last @ before the path (a password may hold an unencoded @)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def redact(text: str) -> str:
    """text with the user:password of every URL in it replaced by ***, for any message that quotes a URL."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def refuse_url_credentials(option: str, value: str | None) -> None:
    if value and _USERINFO.search(value):
        raise WheelkitError(
            f"{option} must not carry credentials in the URL ({redact(value)}): they would be echoed and logged. "
            f"Give {_USERINFO.sub(lambda m: m['scheme'], value)} and set TWINE_USERNAME and TWINE_PASSWORD (or use "
            "twine's keyring) instead"
        )


def refuse_credentials_in_argv(argv: Sequence[str]) -> None:
    """Refuse a command line with a URL carrying user:password (--repository, --simple-url, --from or any other
    place), naming the option but never the credentials. Call it before anything echoes the command line: nox
    prints every command it runs, argparse quotes a bad argument."""
    for number, argument in enumerate(argv):
        option, _, value = argument.partition("=") if argument.startswith("--") else ("", "", argument)
        if not option and number and argv[number - 1].startswith("-"):
            option = argv[number - 1]
        refuse_url_credentials(option or "an argument", value or argument)


def repository_for(text: str | None, simple_url: str | None = None) -> Repository:
    """pypi, testpypi or an index's upload URL (http(s)://host/ for pypiserver); its simple page is URL/simple/
    unless given. No repository is an error: nothing ever goes to PyPI by default."""
    refuse_url_credentials("--repository", text)
    refuse_url_credentials("--simple-url", simple_url)
    if not text:
        raise WheelkitError(
            "no repository chosen: pass --repository testpypi (try it there first), --repository pypi, or "
            "--repository https://your.index/ (nothing is uploaded to PyPI by default)"
        )
    if text in PUBLIC:
        return PUBLIC[text] if simple_url is None else Repository(text, PUBLIC[text].upload_url, simple_url, True)
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        shown = text if "@" not in text else "***@" + text.rpartition("@")[2]  # user:password@host, no scheme
        raise WheelkitError(
            f"--repository {shown!r} is neither pypi, testpypi nor an http(s) URL of an index (e.g. "
            "http://127.0.0.1:8080/ for a pypiserver)"
        )
    base = text if text.endswith("/") else text + "/"
    return Repository(text, base, simple_url or urllib.parse.urljoin(base, "simple/"))




def credentials(environ: Mapping[str, str]) -> tuple[str, str]:
    """twine's user and password from the environment (TWINE_USERNAME, TWINE_PASSWORD)."""
    return environ.get("TWINE_USERNAME", ""), environ.get("TWINE_PASSWORD", "")
