"""The one index client (the release's uploads, test_wheels' MPI sources): what a simple page (PEP 691 JSON or PEP
503 HTML) lists, with its sha256; redirects followed on the same host only (an index must answer for itself);
downloads checked against the listed sha256.

Hand-written on urllib: the upload must never follow a redirect to another host (pypiserver's fallback), answer
401 challenges with twine's credentials, and tell a partial copy from other bytes; no PyPA library reads an index
that way."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from http.client import HTTPMessage
from pathlib import Path
from typing import IO

from packaging.utils import canonicalize_name

from .credentials import credentials, redact
from .errors import WheelkitError
from .files import sha256

TIMEOUT = 60.0  # seconds for one request to the index


class _Links(HTMLParser):
    """The anchors of a simple page: (href, text) each."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = True
            self.links.append((dict(attrs).get("href") or "", ""))

    def handle_data(self, data: str) -> None:
        if self._open:
            href, text = self.links[-1]
            self.links[-1] = (href, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = False


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str  # "" when the index does not say


class RedirectedElsewhere(WheelkitError):
    """An index page redirected to another host (or port): never followed, see index_files."""

    def __init__(self, url: str, target: str, code: int) -> None:
        self.url, self.target, self.code = url, target, code
        super().__init__(
            f"{redact(url)} answered {code} with a redirect to another host, {redact(target)}; not followed (what an "
            "index has must come from the index itself). A pypiserver started without --disable-fallback does this "
            "for a project it has no file of: start it with --disable-fallback, or check the URL"
        )


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect on the same host and port (pypiserver: /simple/Name/ -> /simple/name/) and no other: that
    one is left unanswered, so urlopen raises an HTTPError with its 3xx code and Location."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> urllib.request.Request | None:
        if _host_port(newurl) != _host_port(req.full_url):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)



def _opener(url: str, environ: Mapping[str, str], *, same_host: bool = False) -> urllib.request.OpenerDirector:
    user, password = credentials(environ)
    handlers: list[urllib.request.BaseHandler] = [_SameHostRedirects()] if same_host else []
    if user and password:  # answers a 401 challenge only (pypiserver -a list,download); never logged
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, url, user, password)
        handlers.append(urllib.request.HTTPBasicAuthHandler(manager))
    return urllib.request.build_opener(*handlers)


def _read_page(url: str, environ: Mapping[str, str]) -> tuple[str, bytes, str] | None:
    """A simple page (final URL, body, content type), following redirects on the same host only; None for 404."""
    request = urllib.request.Request(url, headers={
        "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    try:
        with _opener(url, environ, same_host=True).open(request, timeout=TIMEOUT) as response:
            return response.geturl(), response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        error.close()  # its response, still open
        if error.code == 404:
            return None
        if 300 <= error.code < 400 and error.headers.get("Location"):
            raise RedirectedElsewhere(error.url, urllib.parse.urljoin(error.url, error.headers["Location"]),
                                      error.code) from None
        if error.code in (401, 403):
            raise WheelkitError(f"{redact(url)} refused to list the files ({error.code}): check TWINE_USERNAME and "
                                "TWINE_PASSWORD") from None
        raise WheelkitError(f"cannot read {redact(url)}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise WheelkitError(f"cannot reach the index at {redact(url)}: {reason}; is it running, is the URL right?"
                            ) from None


def index_files(url: str, environ: Mapping[str, str] | None = None) -> dict[str, IndexFile]:
    """The files a simple page lists (PEP 691 JSON or PEP 503 HTML), by file name; {} when the project is not there
    (404). A redirect to another host (pypiserver's fallback to PyPI, unless --disable-fallback) is never followed:
    it raises RedirectedElsewhere."""
    page = _read_page(url, os.environ if environ is None else environ)
    if page is None:
        return {}
    final, body, kind = page
    files: dict[str, IndexFile] = {}
    if "json" in kind:
        for entry in json.loads(body)["files"]:
            link = urllib.parse.urljoin(final, entry["url"])
            files[entry["filename"]] = IndexFile(entry["filename"], link, entry.get("hashes", {}).get("sha256", ""))
        return files
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    for href, _ in parser.links:
        link = urllib.parse.urljoin(final, href)
        parsed = urllib.parse.urlparse(link)
        filename = urllib.parse.unquote(parsed.path.rsplit("/", 1)[-1])
        digest = parsed.fragment[len("sha256="):] if parsed.fragment.startswith("sha256=") else ""
        if filename:
            files[filename] = IndexFile(filename, link.split("#", 1)[0], digest)
    return files


def index_projects(url: str, environ: Mapping[str, str] | None = None) -> set[str]:
    """The projects an index's simple root page lists, normalised (PEP 691 JSON or PEP 503 HTML anchor texts)."""
    page = _read_page(url, os.environ if environ is None else environ)
    if page is None:
        return set()
    _, body, kind = page
    if "json" in kind:
        return {canonicalize_name(entry["name"]) for entry in json.loads(body)["projects"]}
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    return {canonicalize_name(text.strip()) for _, text in parser.links if text.strip()}


def index_copy_size(item: IndexFile, path: Path, environ: Mapping[str, str] | None = None) -> int | None:
    """The size of the index's copy of path when it is path itself or its beginning (an upload cut off: the index
    kept what it had received); None when it differs. A matching sha256 decides without a download."""
    size = path.stat().st_size
    if item.sha256 and item.sha256 == sha256(path):
        return size
    received = 0
    try:
        opener = _opener(item.url, os.environ if environ is None else environ)
        with opener.open(item.url, timeout=TIMEOUT) as response, path.open("rb") as local:
            while chunk := response.read(1 << 20):
                if local.read(len(chunk)) != chunk:  # other bytes, or more than the local file has
                    return None
                received += len(chunk)
    except (urllib.error.URLError, OSError) as error:
        raise WheelkitError(f"cannot download {redact(item.url)} to compare it with {path}: "
                            f"{getattr(error, 'reason', error)}") from None
    return None if item.sha256 and received == size else received  # whole, yet not the listed sha256: other bytes


def download(url: str, target: Path, expected: str, environ: Mapping[str, str]) -> None:
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    try:
        with _opener(url, environ).open(url, timeout=TIMEOUT) as response, partial.open("wb") as sink:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise WheelkitError(f"cannot download {redact(url)}: {getattr(error, 'reason', error)}") from None
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise WheelkitError(f"{target.name} from {redact(url)} does not match the index's sha256 ({expected[:12]}..., "
                            f"got {digest.hexdigest()[:12]}...): the download is corrupt or was tampered with")
    os.replace(partial, target)
