"""Where a release goes: pypi, testpypi or an index's URL (credentials never in it: ../credentials.py)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from ..credentials import refuse_url_credentials
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
