"""`nox -s upload`: check a release's files as a whole, then upload what the index does not have yet.

Before anything is uploaded (any problem uploads nothing, and every problem is listed):
- the files are one release: one distribution name and one version (PEP 440-normalised), file names agreeing with
  METADATA / PKG-INFO and with the WHEEL tags, every wheel's RECORD intact;
- the sdist is there, and every wheel of the matrix (each CPython the metadata's classifiers name, on each platform
  of --platforms) is there, unless --allow-partial;
- platform tags are repaired ones (manylinux, musllinux, macosx), never linux_x86_64;
- PyPI and TestPyPI get no local version (+g1ab2c3d);
- `twine check --strict` passes;
- a folder the release session tested (tested.json) still holds exactly the files that were tested.

Then the index's simple page (PEP 691 JSON, or PEP 503 HTML) says which files it already has: those are skipped (a
file there with other content is an error: a version is never re-uploaded; one that is only the beginning of the
local file, left by an upload cut off, is named, to be deleted from the index first), the others are uploaded one by
one with twine, wheels first and the sdist last. A redirect to another host is never followed. PyPI and TestPyPI
also get twine's --skip-existing; twine refuses it for other indexes (and pypiserver answers a duplicate with 400),
hence the simple page. After an upload to another index
its simple page is read again: every file must be there with its hash. A failure names what was uploaded and what
was not; running the same command again uploads the rest.

Credentials come from TWINE_USERNAME / TWINE_PASSWORD (or twine's keyring): they only ever travel in the
environment of twine and in the Authorization header of the simple-page request, never on a command line or in a
log line, and twine's output is scrubbed of the password before it is shown. A URL with user:password in any option
is refused before anything is read or echoed.

Staging (`--from URL_OR_DIR NAME VERSION`, after MacPython's wheel-uploader): the files of NAME-VERSION are gathered
from a folder, a zip of CI artifacts or a simple index (downloaded and checked against the index's sha256) into
build/upload-staging/NAME-VERSION/, then checked and uploaded like a local folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.parser import HeaderParser
from html.parser import HTMLParser
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Callable, Mapping, Optional, Sequence

from packaging.version import InvalidVersion, Version

from .errors import WheelkitError, raise_on_usage_errors
from .wheelfile import (
    WheelContents,
    name_and_version_disagreements,
    normal_version,
    normalize_distribution,
    parse_wheel_name,
    safe_extract,
    verify_record,
)

log = logging.getLogger(__name__)

MANIFEST = "tested.json"  # written by the release session once the wheels passed their tests
DEFAULT_PLATFORMS = ("manylinux_x86_64", "macosx_x86_64", "macosx_arm64")  # the wheel matrix of a full release
_REPAIRED_PLATFORM = re.compile(r"^(manylinux|musllinux|macosx)_")
_LEGACY_MANYLINUX = re.compile(r"^manylinux(1|2010|2014)_")
_PYTHON_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")
_SDIST = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)\.tar\.gz$")
TIMEOUT = 60.0  # seconds for one request to the index


@dataclass(frozen=True)
class Repository:
    """Where files go (twine's --repository-url) and where the index lists them (its simple API)."""

    name: str
    upload_url: str
    simple_url: str
    public: bool = False  # PyPI or TestPyPI: twine's --skip-existing works, local versions are refused

    def project_url(self, distribution: str) -> str:
        return f"{self.simple_url.rstrip('/')}/{re.sub(r'[-_.]+', '-', distribution).lower()}/"


PUBLIC = {
    "pypi": Repository("pypi", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/", public=True),
    "testpypi": Repository("testpypi", "https://test.pypi.org/legacy/", "https://test.pypi.org/simple/", public=True),
}


# --- credentials never travel in a URL -----------------------------------------------------------------------------

# scheme://USERINFO@host: everything up to the last @ before the path (a password may hold an unencoded @)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def redact(text: str) -> str:
    """text with the user:password of every URL in it replaced by ***, for any message that quotes a URL."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def _refuse_url_credentials(option: str, value: Optional[str]) -> None:
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
        _refuse_url_credentials(option or "an argument", value or argument)


def repository_for(text: Optional[str], simple_url: Optional[str] = None) -> Repository:
    """pypi, testpypi or an index's upload URL (http(s)://host/ for pypiserver); its simple page is URL/simple/
    unless given. No repository is an error: nothing ever goes to PyPI by default."""
    _refuse_url_credentials("--repository", text)
    _refuse_url_credentials("--simple-url", simple_url)
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


# --- the release's files ------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_sdist(path: Path) -> bool:
    return path.name.endswith(".tar.gz") and not path.name.endswith(".debug.tar.gz")


def collect(paths: Sequence[Path]) -> list[Path]:
    """The wheels and sdists named, or at the top of the folders named (not their variant subfolders; debug
    archives are not uploaded)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and (p.suffix == ".whl" or is_sdist(p)))
        elif path.is_file() and (path.suffix == ".whl" or is_sdist(path)):
            files.append(path)
        elif path.exists():
            raise WheelkitError(f"{path} is neither a wheel, an sdist (.tar.gz) nor a folder of them")
        else:
            raise WheelkitError(f"{path} does not exist: build the release first (nox -s build_linux, nox -s sdist)")
    return files


@dataclass(frozen=True)
class Release:
    """The files to upload, all of one distribution and version."""

    distribution: str  # as in METADATA, e.g. cablesim-nightly
    version: str
    wheels: tuple[Path, ...]
    sdist: Optional[Path]
    pythons: tuple[str, ...] = ()  # from the classifiers: 3.9 ... 3.13
    missing: tuple[str, ...] = ()  # cells of the matrix without a wheel (only with --allow-partial)

    @property
    def files(self) -> list[Path]:
        """Upload order: wheels first, the sdist last (pip never builds from source while wheels are missing)."""
        return [*self.wheels, *([self.sdist] if self.sdist else [])]


def _sdist_metadata(path: Path) -> Mapping[str, list[str]]:
    try:
        with tarfile.open(path, "r:gz") as archive:
            top = path.name[: -len(".tar.gz")]
            member = archive.extractfile(f"{top}/PKG-INFO")
            text = member.read().decode("utf-8") if member else ""
    except (OSError, KeyError, tarfile.TarError) as error:
        raise WheelkitError(f"{path.name}: cannot read its PKG-INFO ({error}); build it again with nox -s sdist"
                            ) from None
    fields: dict[str, list[str]] = {}
    for key, value in HeaderParser().parsestr(text).items():
        fields.setdefault(key, []).append(str(value))
    return fields


def platform_family(platform: str) -> str:
    """manylinux_2_34_x86_64 and manylinux2014_x86_64 -> manylinux_x86_64; macosx_11_0_arm64 -> macosx_arm64."""
    if _LEGACY_MANYLINUX.match(platform):
        return "manylinux_" + platform.split("_", 1)[1]
    match = re.match(r"^(manylinux|musllinux|macosx)_\d+_\d+_(.+)$", platform)
    return f"{match[1]}_{match[2]}" if match else platform


def check_release(files: Sequence[Path], *, repository: Repository, platforms: Sequence[str] = DEFAULT_PLATFORMS,
                  allow_partial: bool = False) -> Release:
    """Everything about the files that must hold before the first upload; raises listing every problem."""
    problems: list[str] = []
    names: dict[str, list[str]] = {}
    versions: dict[str, list[str]] = {}
    pythons: set[str] = set()
    wheels, sdists = [], []
    display_name = ""
    if not files:
        raise WheelkitError("no wheels or sdist to upload: build them (nox -s build_linux, nox -s sdist) or name them")
    for path in files:
        try:
            if path.suffix == ".whl":
                wheels.append(path)
                name = parse_wheel_name(path.name)
                file_name, file_version = name.distribution, name.version
                with WheelContents(path) as wheel:
                    verify_record(wheel)
                    metadata = wheel.metadata()
                    declared = wheel.wheel_tags()
                if declared != name.tags:
                    problems.append(f"{path.name}: its WHEEL file declares {sorted(map(str, declared))}, not the "
                                    "tags of its name: rebuild it instead of renaming it")
                for tag in name.tags:
                    if not _REPAIRED_PLATFORM.match(tag.platform) and not _LEGACY_MANYLINUX.match(tag.platform):
                        problems.append(f"{path.name}: platform tag {tag.platform} is not a repaired one (manylinux, "
                                        "musllinux, macosx): PyPI refuses it; use the wheels of nox -s build_linux / "
                                        "build_osx from wheelhouse/, not a plain build")
            else:
                sdists.append(path)
                match = _SDIST.match(path.name)
                if match is None:
                    raise WheelkitError(f"{path.name} is not an sdist file name (NAME-VERSION.tar.gz)")
                file_name, file_version = match["name"], match["version"]
                metadata = _sdist_metadata(path)
        except WheelkitError as error:
            problems.append(str(error))
            continue
        meta_name = (metadata.get("Name") or [""])[0]
        meta_version = (metadata.get("Version") or [""])[0]
        display_name = display_name or meta_name
        problems += name_and_version_disagreements(path.name, file_name, file_version, metadata)
        names.setdefault(normalize_distribution(meta_name or file_name), []).append(path.name)
        versions.setdefault(normal_version(meta_version or file_version), []).append(path.name)
        pythons.update(m[1] for c in metadata.get("Classifier", []) if (m := _PYTHON_CLASSIFIER.match(c)))
    for what, seen in (("distribution names", names), ("versions", versions)):
        if len(seen) > 1:
            listing = "; ".join(f"{key}: {', '.join(sorted(value))}" for key, value in sorted(seen.items()))
            problems.append(f"the files carry {len(seen)} {what} ({listing}): upload one release at a time (name "
                            "its files, or a folder holding only them)")
    version = next(iter(versions), "")
    if len(sdists) != 1:
        problems.append(f"{len(sdists)} sdists ({', '.join(p.name for p in sdists) or 'none'}): a release uploads "
                        "exactly one; build it with nox -s sdist")
    for each in versions:
        try:
            local = Version(each).local is not None
        except InvalidVersion:
            local = False
            problems.append(f"version {each!r} is not a PEP 440 version")
        if local and repository.public:
            problems.append(f"version {each} is a local version (+...): {repository.name} refuses it. Build "
                            "from a tagged commit (git tag 1.2.3) or pin the version (nox -s build_linux -- --version "
                            "1.2.3)")
    missing = expected_missing(wheels, sorted(pythons, key=lambda v: tuple(map(int, v.split(".")))), platforms)
    if missing and not allow_partial:
        problems.append(f"{len(missing)} wheel(s) of the matrix missing (Pythons from the classifiers x platforms "
                        f"{', '.join(platforms)}): {', '.join(missing)}. Build them, or upload what there is with "
                        "--allow-partial (or limit --platforms)")
    if problems:
        raise WheelkitError("nothing uploaded, the release is not ready:\n  - " + "\n  - ".join(problems))
    return Release(display_name, version, tuple(sorted(wheels)), sdists[0],
                   tuple(sorted(pythons, key=lambda v: tuple(map(int, v.split("."))))), tuple(missing))


def expected_missing(wheels: Sequence[Path], pythons: Sequence[str], platforms: Sequence[str]) -> list[str]:
    """The (python tag, platform family) cells of the matrix without a wheel, e.g. cp313-macosx_arm64."""
    have = {(tag.python, platform_family(tag.platform)) for w in wheels for tag in parse_wheel_name(w.name).tags}
    return [f"cp{p.replace('.', '')}-{platform}" for platform in platforms for p in pythons
            if (f"cp{p.replace('.', '')}", platform) not in have]


def check_manifest(folder: Path, files: Sequence[Path]) -> None:
    """A folder the release session tested (tested.json) must hold exactly the tested files, unchanged."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return
    tested: dict[str, str] = json.loads(manifest.read_text())["files"]
    present = {p.name: p for p in files if p.parent == folder}
    problems = [f"{name}: not among the tested files" for name in sorted(set(present) - set(tested))]
    problems += [f"{name}: tested but missing" for name in sorted(set(tested) - set(present))]
    problems += [f"{name}: changed since it was tested" for name, path in sorted(present.items())
                 if name in tested and sha256(path) != tested[name]]
    if problems:
        raise WheelkitError(f"nothing uploaded: {folder} does not hold what was tested ({MANIFEST}):\n  - "
                            + "\n  - ".join(problems) + "\nrun the release's first step again")


def write_manifest(folder: Path, files: Sequence[Path]) -> Path:
    """Record the files (and their sha256) that passed the tests, for the upload step to compare."""
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps({"files": {p.name: sha256(p) for p in files}}, indent=1, sort_keys=True) + "\n")
    return manifest


def twine_check(files: Sequence[Path], twine: str, run: Optional[Callable[..., subprocess.CompletedProcess[str]]] = None
                ) -> None:
    """`twine check --strict` on every file (the long description renders, the metadata is complete)."""
    runner = run or subprocess.run
    try:
        result = runner([twine, "check", "--strict", *map(str, files)], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise WheelkitError(f"{twine} not found: install twine (the upload session does)") from None
    if result.returncode != 0:
        raise WheelkitError("nothing uploaded: twine check --strict failed:\n" + _tail(result.stdout + result.stderr))


# --- the index ----------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    """The anchors of a simple page: (href, text) each."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
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


def _host_port(url: str) -> tuple[str, Optional[int]]:
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
                         headers: HTTPMessage, newurl: str) -> Optional[urllib.request.Request]:
        if _host_port(newurl) != _host_port(req.full_url):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _credentials(environ: Mapping[str, str]) -> tuple[str, str]:
    return environ.get("TWINE_USERNAME", ""), environ.get("TWINE_PASSWORD", "")


def _opener(url: str, environ: Mapping[str, str], *, same_host: bool = False) -> urllib.request.OpenerDirector:
    user, password = _credentials(environ)
    handlers: list[urllib.request.BaseHandler] = [_SameHostRedirects()] if same_host else []
    if user and password:  # answers a 401 challenge only (pypiserver -a list,download); never logged
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, url, user, password)
        handlers.append(urllib.request.HTTPBasicAuthHandler(manager))
    return urllib.request.build_opener(*handlers)


def _read_page(url: str, environ: Mapping[str, str]) -> Optional[tuple[str, bytes, str]]:
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


def index_files(url: str, environ: Optional[Mapping[str, str]] = None) -> dict[str, IndexFile]:
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


def index_projects(url: str, environ: Optional[Mapping[str, str]] = None) -> set[str]:
    """The projects an index's simple root page lists, normalised (PEP 691 JSON or PEP 503 HTML anchor texts)."""
    page = _read_page(url, os.environ if environ is None else environ)
    if page is None:
        return set()
    _, body, kind = page
    if "json" in kind:
        return {normalize_distribution(entry["name"]) for entry in json.loads(body)["projects"]}
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    return {normalize_distribution(text.strip()) for _, text in parser.links if text.strip()}


def index_copy_size(item: IndexFile, path: Path, environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
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


# --- uploading ----------------------------------------------------------------------------------------------------


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _scrub(text: str, environ: Mapping[str, str]) -> str:
    _, password = _credentials(environ)
    return redact(text.replace(password, "***") if password else text)


def _explain(output: str, repository: Repository) -> str:
    if re.search(r"\b(401|403)\b|Forbidden|Unauthorized|Invalid or non-existent authentication", output):
        return (f"{repository.upload_url} refused the credentials: check TWINE_USERNAME and TWINE_PASSWORD (or the "
                "keyring entry); for PyPI use __token__ and an API token")
    if re.search(r"Connection ?refused|ConnectionError|Max retries|RemoteDisconnected|Connection aborted|timed out",
                 output):
        return f"the index at {repository.upload_url} is unreachable or went away during the upload"
    if re.search(r"Credential not found|(password|username) (is )?required", output, re.IGNORECASE):
        return "no credentials: set TWINE_USERNAME and TWINE_PASSWORD (or store them in the keyring)"
    return "twine upload failed"


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already on the index, same content


def upload(release: Release, repository: Repository, *, twine: str, emit: Callable[[str], None],
           dry_run: bool = False, environ: Optional[Mapping[str, str]] = None,
           run: Optional[Callable[..., subprocess.CompletedProcess[str]]] = None) -> UploadReport:
    """Upload the release's files the index does not have yet, one twine call per file (see the module text)."""
    env = dict(os.environ if environ is None else environ)
    runner = run or subprocess.run
    project = repository.project_url(release.distribution)
    try:
        present = index_files(project, env)
    except RedirectedElsewhere as redirect:
        emit(_new_behind_fallback(redirect, repository, release.distribution, env))
        present = {}
    except WheelkitError:
        if not repository.public:
            raise
        log.warning("cannot read %s; relying on twine --skip-existing", redact(project))
        present = {}
    report = UploadReport()
    to_upload: list[Path] = []
    differing: list[str] = []
    partial: list[str] = []
    for path in release.files:
        there = present.get(path.name)
        size = None if there is None else index_copy_size(there, path, env)
        if there is None:
            to_upload.append(path)
        elif size is None:
            differing.append(path.name)
        elif size < path.stat().st_size:
            partial.append(f"{path.name}: {size:,} of {path.stat().st_size:,} bytes")
        else:
            report.skipped.append(path.name)
    if differing:
        raise WheelkitError(
            f"nothing uploaded: {repository.name} already has {', '.join(differing)} with other content. A file of a "
            "version can never be replaced: build a new version (or delete the files from your own index)"
        )
    if partial:
        raise WheelkitError(
            f"nothing uploaded: {repository.name} ({project}) holds only the beginning of {len(partial)} file(s), "
            "left by an upload that was cut off:\n  - " + "\n  - ".join(partial) + "\nDelete "
            f"{'it' if len(partial) == 1 else 'them'} from the index (for a pypiserver: remove the file from the "
            "packages folder it serves), then run the same command again: it uploads the whole file and the rest"
        )
    where = f"{repository.upload_url} (listed at {project})"
    for name in report.skipped:
        emit(f"skip   {name}: already on {repository.name} with the same sha256")
    if dry_run:
        for path in to_upload:
            emit(f"would upload {path.name} ({path.stat().st_size / 1e6:.2f} MB) -> {where}")
        emit(f"dry run: {len(to_upload)} file(s) would be uploaded, {len(report.skipped)} skipped; nothing sent")
        return report
    if not to_upload:
        emit(f"{release.distribution} {release.version}: every file is already on {repository.name}; nothing to do")
        return report
    if not _credentials(env)[1]:
        log.info("TWINE_PASSWORD is not set: twine asks the keyring")
    env.setdefault("TWINE_NON_INTERACTIVE", "1")
    for number, path in enumerate(to_upload, 1):
        command = [twine, "--no-color", "upload", "--non-interactive", "--disable-progress-bar", "--repository-url",
                   repository.upload_url, *(["--skip-existing"] if repository.public else []), str(path)]
        emit(f"[{number}/{len(to_upload)}] uploading {path.name} -> {repository.upload_url}")
        try:
            result = runner(command, capture_output=True, text=True, check=False, env=env)
        except FileNotFoundError:
            raise WheelkitError(f"{twine} not found: install twine (the upload session does)") from None
        if result.returncode != 0:
            output = _scrub(result.stdout + result.stderr, env)
            done = report.uploaded + report.skipped
            rest = [p.name for p in to_upload[number:]]
            raise WheelkitError(
                f"{_explain(output, repository)}.\n  uploading {path.name} failed; twine said:\n{_tail(output)}\n"
                f"  on the index: {', '.join(done) or 'none of the files yet'}\n"
                f"  not uploaded: {', '.join([path.name, *rest])}\n"
                "Fix the cause and run the same command again: the files already there are skipped (an index that "
                f"kept part of {path.name} is named then, with what to delete)"
            )
        report.uploaded.append(path.name)
    if not repository.public:
        try:
            after = index_files(project, env)
        except WheelkitError as error:
            raise WheelkitError(f"uploaded {', '.join(report.uploaded)} to {repository.upload_url}, but cannot check "
                                f"what the index lists: {error}") from None
        lost = [p.name for p in release.files
                if p.name not in after or index_copy_size(after[p.name], p, env) != p.stat().st_size]
        if lost:
            raise WheelkitError(f"uploaded, but {project} does not list {', '.join(lost)} (with their sha256): "
                                "check the index, then run the same command again")
    emit(f"{release.distribution} {release.version}: {len(report.uploaded)} uploaded, {len(report.skipped)} "
         f"already there, to {repository.upload_url}")
    return report


def _new_behind_fallback(redirect: RedirectedElsewhere, repository: Repository, distribution: str,
                         environ: Mapping[str, str]) -> str:
    """A project page that redirects to another host means "not here" only when the index's own list of projects
    confirms it: a pypiserver (unless --disable-fallback) sends the page of a project it has no file of to its
    fallback index. Returns the line that says so; raises with what happened otherwise."""
    root = repository.simple_url
    try:
        listed = normalize_distribution(distribution) in index_projects(root, environ)
    except WheelkitError as error:
        raise WheelkitError(f"{redirect}. Reading {redact(root)} to see whether the index has {distribution} failed "
                            f"too: {error}") from None
    if listed:
        raise WheelkitError(f"{redirect}. Yet {redact(root)} lists {distribution}: nothing uploaded; check that "
                            f"--simple-url is the simple page of {repository.upload_url}")
    return (f"{redact(redirect.url)} redirects to {redact(redirect.target)} (not followed) and {redact(root)} does not "
            f"list {distribution}: a new project on {repository.name} (a pypiserver without --disable-fallback "
            "redirects such a page to its fallback index)")


# --- staging ------------------------------------------------------------------------------------------------------


def _matches(filename: str, distribution: str, version: str) -> bool:
    wanted_name, wanted_version = normalize_distribution(distribution), normal_version(version)
    if filename.endswith(".whl"):
        try:
            name = parse_wheel_name(filename)
        except WheelkitError:
            return False
        return normalize_distribution(name.distribution) == wanted_name and normal_version(name.version) == \
            wanted_version
    match = _SDIST.match(filename)
    return bool(match and is_sdist(Path(filename)) and normalize_distribution(match["name"]) == wanted_name
                and normal_version(match["version"]) == wanted_version)


def _download(url: str, target: Path, expected: str, environ: Mapping[str, str]) -> None:
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


def stage(source: str, distribution: str, version: str, staging: Path,
          environ: Optional[Mapping[str, str]] = None) -> list[Path]:
    """Gather the files of distribution-version from a folder, a zip of CI artifacts or a simple index into
    staging (emptied first), verifying hashes: the index's sha256 for downloads, RECORD for every wheel."""
    env = os.environ if environ is None else environ
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if re.match(r"^https?://", source):
        _refuse_url_credentials("--from", source)
        page = Repository(source, source, source).project_url(distribution)
        listed = index_files(page, env) or index_files(source, env)
        chosen = [f for f in listed.values() if _matches(f.filename, distribution, version)]
        if not chosen:
            raise WheelkitError(f"no files of {distribution} {version} at {source} (it lists "
                                f"{len(listed)} file(s)): check the name, the version and the URL")
        unverifiable = [f.filename for f in chosen if not f.sha256]
        if unverifiable:
            raise WheelkitError(f"{source} gives no sha256 for {', '.join(unverifiable)}: cannot verify the "
                                "download; fetch the files yourself and use --from FOLDER")
        for item in chosen:
            _download(item.url, staging / item.filename, item.sha256, env)
    else:
        path = Path(source)
        if path.is_file() and path.suffix == ".zip":
            unpacked = Path(tempfile.mkdtemp(prefix="upload-artifacts-", dir=staging.parent))
            try:
                safe_extract(path, unpacked)
                _copy_matching(unpacked, distribution, version, staging)
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
        elif path.is_dir():
            _copy_matching(path, distribution, version, staging)
        else:
            raise WheelkitError(f"--from {source}: neither a folder, a .zip of CI artifacts nor an http(s) URL of an "
                                "index")
    files = sorted(staging.iterdir())
    if not files:
        raise WheelkitError(f"no files of {distribution} {version} in {source}: check the name and the version")
    for wheel in (f for f in files if f.suffix == ".whl"):
        with WheelContents(wheel) as contents:
            verify_record(contents)
    return files


def _copy_matching(folder: Path, distribution: str, version: str, staging: Path) -> None:
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and _matches(path.name, distribution, version):
            if path.name in seen and sha256(path) != sha256(seen[path.name]):
                raise WheelkitError(f"{folder} holds two different {path.name} ({seen[path.name]} and {path}): "
                                    "remove the wrong one")
            seen[path.name] = path
            shutil.copy2(path, staging / path.name)


# --- the command --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadOptions:
    repository: Repository
    paths: tuple[Path, ...]
    dry_run: bool
    allow_partial: bool
    platforms: tuple[str, ...]
    stage_from: Optional[tuple[str, str, str]]  # (URL or folder, name, version)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check a release's files (one name, one version, the whole matrix, the sdist, repaired tags, "
        "twine check --strict) and upload the ones the index does not have yet. Any problem uploads nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "credentials: TWINE_USERNAME / TWINE_PASSWORD in the environment, or twine's keyring (PyPI: __token__ "
            "and an API token); never on the command line.\n\nexamples:\n"
            "  nox -s upload -- --repository testpypi --dry-run            what would go where\n"
            "  nox -s upload -- --repository pypi build/release/cablesim-1.2.3\n"
            "  nox -s upload -- --repository http://127.0.0.1:8080/ --allow-partial wheelhouse/\n"
            "  nox -s upload -- --repository pypi --from https://ci.example/simple/ cablesim 1.2.3\n"
            "  nox -s upload -- --repository pypi --from wheels-artifacts.zip cablesim 1.2.3"
        ),
    )
    parser.add_argument("paths", nargs="*", type=Path, help="wheels, sdists or folders of them (default: wheelhouse/)")
    parser.add_argument("--repository", "-r", help="pypi, testpypi or the upload URL of an index (required)")
    parser.add_argument("--simple-url", help="the index's simple API (default: pypi/testpypi's, or URL/simple/)")
    parser.add_argument("--dry-run", action="store_true", help="check everything and print what would go where")
    parser.add_argument("--allow-partial", action="store_true", help="upload even if wheels of the matrix are missing")
    parser.add_argument("--platforms", default=",".join(DEFAULT_PLATFORMS),
                        help=f"the platform families of the matrix (default {','.join(DEFAULT_PLATFORMS)})")
    parser.add_argument("--from", dest="stage_from", nargs=3, metavar=("URL_OR_DIR", "NAME", "VERSION"),
                        help="gather NAME-VERSION's files from a folder, a zip of CI artifacts or a simple index, "
                        "verify their hashes, then upload them")
    return parser


def parse_upload_args(argv: Sequence[str], prog: str = "nox -s upload --") -> UploadOptions:
    refuse_credentials_in_argv(argv)  # before argparse, which quotes a bad argument
    parser = build_parser(prog)
    fail = raise_on_usage_errors(parser)
    args = parser.parse_args(list(argv))
    try:
        repository = repository_for(args.repository, args.simple_url)
    except WheelkitError as error:
        fail(str(error))
    if args.stage_from and args.paths:
        fail("--from gathers the files itself: give no paths with it")
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    return UploadOptions(repository, tuple(args.paths), args.dry_run, args.allow_partial, platforms,
                         tuple(args.stage_from) if args.stage_from else None)


def run_upload(argv: Sequence[str], *, root: Path, twine: str, emit: Callable[[str], None],
               environ: Optional[Mapping[str, str]] = None) -> UploadReport:
    """What `nox -s upload -- argv` does (twine from the session's environment)."""
    env = dict(os.environ if environ is None else environ)
    options = parse_upload_args(argv)
    if options.stage_from:
        source, name, version = options.stage_from
        staging = root / "build" / "upload-staging" / f"{normalize_distribution(name)}-{normal_version(version)}"
        emit(f"# Gathering {name} {version} from {source} into {staging}")
        files = stage(source, name, version, staging, env)
        emit(f"{len(files)} file(s) gathered, hashes verified: {', '.join(f.name for f in files)}")
        paths: tuple[Path, ...] = (staging,)
    else:
        paths = options.paths or (root / "wheelhouse",)
    files = collect(paths)
    for folder in {p for p in paths if p.is_dir()}:
        check_manifest(folder, files)
    emit(f"# Checking {len(files)} file(s) before uploading to {options.repository.name}")
    release = check_release(files, repository=options.repository, platforms=options.platforms,
                            allow_partial=options.allow_partial)
    twine_check(release.files, twine)
    if release.missing:
        emit(f"--allow-partial: {len(release.missing)} wheel(s) of the matrix missing: {', '.join(release.missing)}")
    emit(f"{release.distribution} {release.version}: {len(release.wheels)} wheel(s) and the sdist pass the checks")
    return upload(release, options.repository, twine=twine, emit=emit, dry_run=options.dry_run, environ=env)
