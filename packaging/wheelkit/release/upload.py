"""The upload job (`nox -s upload`): check a release's files as a whole, then upload, one twine call per file and
wheels before the sdist, what the index does not have yet; then read the index again (docs/publishing.md)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from packaging.utils import canonicalize_name

from .. import process
from ..credentials import credentials, redact, refuse_credentials_in_argv
from ..errors import WheelkitError, raise_on_usage_errors
from ..files import sha256
from ..index import RedirectedElsewhere, index_copy_size, index_files, index_projects
from ..process import Runner, tail
from ..wheelfile import filename_name, normal_version
from .checks import DEFAULT_PLATFORMS, Release, check_release, collect, twine_check
from .manifest import check_manifest
from .repository import Repository, repository_for
from .staging import stage

log = logging.getLogger(__name__)


def _scrub(text: str, environ: Mapping[str, str]) -> str:
    _, password = credentials(environ)
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


@dataclass(frozen=True)
class OnIndex:
    """A file of the release the index already has: whether its bytes are our rebuild's (the local file's)."""

    name: str
    index_sha256: str  # "" when the index lists none (then compared byte for byte)
    local_sha256: str
    same: bool

    def line(self) -> str:
        if self.same:
            how = "" if self.index_sha256 else " (the index lists no sha256: compared byte for byte)"
            return f"  same       {self.name}: sha256 {self.local_sha256} on the index and in our rebuild{how}"
        theirs = self.index_sha256 or "not listed, other bytes"
        return f"  DIFFERENT  {self.name}: sha256 {theirs} on the index, {self.local_sha256} in our rebuild"


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already on the index, same content
    on_index: list[OnIndex] = field(default_factory=list)  # every file already there, against our rebuild

    def rebuild_summary(self, repository: str) -> str:
        """What the summary says of the files already on the index: is each our rebuild, byte for byte?"""
        same = sum(item.same for item in self.on_index)
        return "\n".join([f"{len(self.on_index)} file(s) already on {repository}, {same} with our rebuild's sha256:",
                          *(item.line() for item in self.on_index)])


def upload(release: Release, repository: Repository, *, twine: str, emit: Callable[[str], None],
           dry_run: bool = False, environ: Mapping[str, str] | None = None, run: Runner = process.run
           ) -> UploadReport:
    """Upload the release's files the index does not have yet, one twine call per file (see the module text)."""
    env = dict(os.environ if environ is None else environ)
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
        if there is not None:
            report.on_index.append(OnIndex(path.name, there.sha256, sha256(path), size == path.stat().st_size))
        if there is None:
            to_upload.append(path)
        elif size is None:
            differing.append(path.name)
        elif size < path.stat().st_size:
            partial.append(f"{path.name}: {size:,} of {path.stat().st_size:,} bytes")
        else:
            report.skipped.append(path.name)
    if report.on_index:
        emit(report.rebuild_summary(repository.name))
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
    if not credentials(env)[1]:
        log.info("TWINE_PASSWORD is not set: twine asks the keyring")
    env.setdefault("TWINE_NON_INTERACTIVE", "1")
    for number, path in enumerate(to_upload, 1):
        command = [twine, "--no-color", "upload", "--non-interactive", "--disable-progress-bar", "--repository-url",
                   repository.upload_url, *(["--skip-existing"] if repository.public else []), str(path)]
        emit(f"[{number}/{len(to_upload)}] uploading {path.name} -> {repository.upload_url}")
        result = run(command, env=env)
        if result.returncode == 127:
            raise WheelkitError(f"{twine} not found: install twine (the upload session does)")
        if result.returncode != 0:
            output = _scrub(result.stdout + result.stderr, env)
            said = textwrap.indent(tail(output, 12), "    ")
            done = report.uploaded + report.skipped
            rest = [p.name for p in to_upload[number:]]
            raise WheelkitError(
                f"{_explain(output, repository)}.\n  uploading {path.name} failed; twine said:\n{said}\n"
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
         f"already there (the same sha256 as our rebuild), to {repository.upload_url}")
    return report


def _new_behind_fallback(redirect: RedirectedElsewhere, repository: Repository, distribution: str,
                         environ: Mapping[str, str]) -> str:
    """A project page that redirects to another host means "not here" only when the index's own list of projects
    confirms it: a pypiserver (unless --disable-fallback) sends the page of a project it has no file of to its
    fallback index. Returns the line that says so; raises with what happened otherwise."""
    root = repository.simple_url
    try:
        listed = canonicalize_name(distribution) in index_projects(root, environ)
    except WheelkitError as error:
        raise WheelkitError(f"{redirect}. Reading {redact(root)} to see whether the index has {distribution} failed "
                            f"too: {error}") from None
    if listed:
        raise WheelkitError(f"{redirect}. Yet {redact(root)} lists {distribution}: nothing uploaded; check that "
                            f"--simple-url is the simple page of {repository.upload_url}")
    return (f"{redact(redirect.url)} redirects to {redact(redirect.target)} (not followed) and {redact(root)} does not "
            f"list {distribution}: a new project on {repository.name} (a pypiserver without --disable-fallback "
            "redirects such a page to its fallback index)")


@dataclass(frozen=True)
class UploadOptions:
    repository: Repository
    paths: tuple[Path, ...]
    dry_run: bool
    allow_partial: bool
    platforms: tuple[str, ...]
    stage_from: tuple[str, str, str] | None  # (URL or folder, name, version)


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
               environ: Mapping[str, str] | None = None) -> UploadReport:
    """What `nox -s upload -- argv` does (twine from the session's environment)."""
    env = dict(os.environ if environ is None else environ)
    options = parse_upload_args(argv)
    if options.stage_from:
        source, name, version = options.stage_from
        staging = root / "build" / "upload-staging" / f"{filename_name(name)}-{normal_version(version)}"
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


def main(argv: Sequence[str], emit: Callable[[str], None]) -> int:
    """`python -m wheelkit upload [arguments]` with twine from the session's environment."""
    twine = shutil.which("twine", path=str(Path(sys.executable).parent)) or "twine"
    run_upload(argv, root=Path.cwd(), twine=twine, emit=emit)
    return 0
