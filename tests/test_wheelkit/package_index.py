"""A real package index for tests: pypiserver on 127.0.0.1 serving a folder. A plain module (not a conftest), so that
wheelkit's own tests (tests/test_wheelkit/conftest.py) and the real-wheel tests (tests/test_wheelkit_real_wheel.py)
start the same server the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])



class PackageIndex:
    """A real pypiserver on 127.0.0.1 serving a folder, stopped by its PID. With a user, uploads need that user's
    password (an htpasswd file next to the folder) and listing does not; without one, nothing needs a password.
    options replace the default --disable-fallback."""

    def __init__(self, server: str, packages: Path, user: tuple[str, str] | None = None,
                 options: Sequence[str] = ("--disable-fallback",)) -> None:
        self.server = server
        self.packages = packages
        self.packages.mkdir(parents=True, exist_ok=True)
        self.options = list(options)
        self.htpasswd: Path | None = None
        if user is not None:
            import warnings

            with warnings.catch_warnings():  # passlib imports the deprecated crypt module
                warnings.simplefilter("ignore", DeprecationWarning)
                from passlib.apache import HtpasswdFile

            self.htpasswd = packages.parent / "htpasswd"
            users = HtpasswdFile(str(self.htpasswd), new=True)
            users.set_password(*user)
            users.save()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        access = ["-a", "update", "-P", str(self.htpasswd)] if self.htpasswd else ["-a", ".", "-P", "."]
        self.process = subprocess.Popen(
            [self.server, "run", "-i", "127.0.0.1", "-p", str(self.port), *access, *self.options,
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

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)  # by its PID, never by name
            self.process.wait(timeout=30)
        self.process = None
