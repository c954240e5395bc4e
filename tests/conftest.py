"""Shared model builders. Reference values come from NEURON 9.0.2 (fixed step, dt 0.025 ms, v_init -65 mV,
celsius 6.3), measured with NEURON itself; tests/test_against_neuron.py re-measures them when NEURON is installed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

import cablesim


def build_hh_soma() -> tuple[cablesim.Model, cablesim.Section]:
    """NEURON's classic single compartment: L = diam = 18.8 um, Ra 123, hh, IClamp(0.5) 5 ms / 1 ms / 0.1 nA."""
    model = cablesim.Model()
    soma = model.Section("soma", L=18.8, diam=18.8, nseg=1, Ra=123, cm=1).insert("hh")
    model.IClamp(soma(0.5), delay=5, dur=1, amp=0.1)
    return model, soma


def build_passive_cable(nseg: int = 101) -> tuple[cablesim.Model, cablesim.Section]:
    """1000 um x 1 um passive cable (g 1e-4 S/cm2, e -65 mV, Ra 100), 0.01 nA DC into x = 0 from t = 0."""
    model = cablesim.Model()
    cable = model.Section("cable", L=1000, diam=1, nseg=nseg, Ra=100, cm=1).insert("pas", g=1e-4, e=-65)
    model.IClamp(cable(0), delay=0, dur=1e9, amp=0.01)
    return model, cable


def build_ball_and_stick(model: cablesim.Model, name: str, dend_nseg: int = 11) -> tuple[cablesim.Section, ...]:
    """The NEURON ring tutorial's cell: hh soma, passive dendrite, an ExpSyn at dend(0.5)."""
    soma = model.Section(f"{name}.soma", L=12.6157, diam=12.6157, Ra=100).insert("hh")
    dend = model.Section(f"{name}.dend", L=200, diam=1, nseg=dend_nseg, Ra=100).insert("pas", g=0.001, e=-65)
    dend.connect(soma(1))
    return soma, dend


@pytest.fixture
def hh_soma() -> tuple[cablesim.Model, cablesim.Section]:
    return build_hh_soma()


@pytest.fixture
def passive_cable() -> tuple[cablesim.Model, cablesim.Section]:
    return build_passive_cable()


def installed_tool(name: str) -> str:
    """A program from the test extra (a linter): next to this Python, else on PATH; skips the test without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install '.[test]')")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PackageIndex:
    """A real pypiserver on 127.0.0.1 serving a folder, stopped by its PID. With a user, uploads need that user's
    password (an htpasswd file next to the folder) and listing does not; without one, nothing needs a password."""

    def __init__(self, server: str, packages: Path, user: Optional[tuple[str, str]] = None) -> None:
        self.server = server
        self.packages = packages
        self.packages.mkdir(parents=True, exist_ok=True)
        self.htpasswd: Optional[Path] = None
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
        self.process: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> None:
        access = ["-a", "update", "-P", str(self.htpasswd)] if self.htpasswd else ["-a", ".", "-P", "."]
        self.process = subprocess.Popen(
            [self.server, "run", "-i", "127.0.0.1", "-p", str(self.port), *access, "--disable-fallback",
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
