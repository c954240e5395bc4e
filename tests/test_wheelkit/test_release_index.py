"""wheelkit.index: a redirect to another host is reported, never followed (a local HTTP server stands for an
index that lists cablesim yet sends its page elsewhere)."""

from __future__ import annotations

import http.server
import sys
import threading
from pathlib import Path

import pytest
from wheelkit import WheelkitError
from wheelkit.release.checks import check_release, collect
from wheelkit.release.repository import repository_for
from wheelkit.release.upload import upload

TWINE = str(Path(sys.executable).parent / "twine")


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


def test_a_redirect_to_another_host_for_a_project_the_index_lists_is_reported_not_followed(tmp_path, dists,
                                                                                          unused_port):
    _RedirectingIndex.elsewhere = f"http://127.0.0.1:{unused_port}/simple/"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectingIndex)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        repository = repository_for(f"http://127.0.0.1:{server.server_address[1]}/")
        release = check_release(collect([dists.release(tmp_path / "r")]), repository=repository,
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
