"""The README's promise: its first two commands (build wheels; run the tests) pass on a new machine of our kind, with
nothing installed by hand. A podman container made from a debootstrap Debian 12 root file system with only what such
a machine has (packaging/test-image/fresh-machine.Containerfile: CPython with pip and venv, g++, CMake, Ninja, git;
no MPI, nox or uv) runs both, exactly as the README writes them, on a clone of the code under test.

The container test skips without podman, debootstrap or root, unless CABLESIM_REQUIRE_README_TEST=1 (.ci/run sets
it): then it fails. Inside the container the suite runs again, where this test and the image test skip (no podman).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, copy_of_this_checkout, require, run_checked

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.image import Engine, exists_command, host_ulimits, image_reference  # noqa: E402

SUITE = "bookworm"  # Debian 12, the machines' system
MIRROR = "http://deb.debian.org/debian"
BASE = f"localhost/cablesim-base:{SUITE}"
CONTAINERFILE = ROOT / "packaging" / "test-image" / "fresh-machine.Containerfile"
CA_BUNDLE_MOUNT = "/etc/ssl/certs/host-ca-bundle.pem"
COMMAND_TIMEOUT = 45 * 60  # [s] the whole suite runs inside; a hang must not hold CI to its limit


def readme_commands(text: str) -> list[str]:
    """The commands of the README's first code block, which must come right after the title: their comments cut."""
    match = re.match(r"# [^\n]+\n+```bash\n(.*?)\n```", text, re.DOTALL)
    if match is None:
        raise AssertionError("README.md must start with its title and then a ```bash block of the two commands")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in match.group(1).splitlines() if line.strip()]


def test_the_readme_starts_with_the_two_commands():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert len(commands) == 2, commands
    build, tests = commands
    assert build.endswith("nox -s build_linux") and tests.endswith("nox -s tests")
    assert all(command.startswith("python3 -m pip install nox && ") for command in commands)
    with pytest.raises(AssertionError, match="must start with its title"):
        readme_commands("# cablesim\n\nSome words first.\n\n```bash\nnox -s tests\n```\n")


def _require(condition: bool, reason: str) -> None:
    require(condition, reason, "CABLESIM_REQUIRE_README_TEST")


@pytest.mark.slow
def test_the_readmes_two_commands_pass_on_a_fresh_debian_12(tmp_path):
    """First run: debootstrap (~2 min), the image (~1 min); then the wheel build (~2 min) and the whole suite
    (~15 min) inside. Later runs reuse both images (keyed by the Containerfile's hash)."""
    _require(sys.platform.startswith("linux"), "needs Linux")
    podman = shutil.which("podman")
    _require(podman is not None, "podman is not installed (apt-get install podman runc)")
    _require(shutil.which("debootstrap") is not None and os.geteuid() == 0, "needs root and debootstrap")
    assert podman is not None
    ca_bundle = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    engine = Engine("podman", podman, host_ulimits())
    invoke = [sys.executable, "-m", "invoke"]
    key = hashlib.sha256(f"{SUITE} {MIRROR}\n".encode() + CONTAINERFILE.read_bytes()).hexdigest()[:12]
    tag = f"fresh-{SUITE}-{key}"
    timings: dict[str, float] = {}

    def exists(reference: str) -> bool:
        return subprocess.run(exists_command(engine, reference), capture_output=True, check=False).returncode == 0

    def timed(name: str, command: list[str]) -> None:
        started = time.perf_counter()
        run_checked(command, ROOT)
        timings[name] = time.perf_counter() - started

    if not exists(BASE):
        timed("debootstrap", [*invoke, "image.base", "--suite", SUITE, "--mirror", MIRROR, "--engine", "podman"])
    if not exists(image_reference(tag)):
        timed("image", [*invoke, "image.build", "--tag", tag, "--file", str(CONTAINERFILE), "--base", BASE,
                        "--engine", "podman"])
    checkout = copy_of_this_checkout(tmp_path / "checkout")
    container = [podman, "run", "--rm", "--volume", f"{checkout}:/checkout", "--workdir", "/checkout",
                 *engine.limit_options()]
    if ca_bundle.is_file():  # a TLS-intercepting network: its CA, as on our machines
        container += ["--volume", f"{ca_bundle}:{CA_BUNDLE_MOUNT}:ro"]
        container += [option for name in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
                      for option in ("--env", f"{name}={CA_BUNDLE_MOUNT}")]
    outputs = []
    for command in readme_commands((ROOT / "README.md").read_text()):
        started = time.perf_counter()
        done = subprocess.run([*container, image_reference(tag), "bash", "-c", command], capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        timings[command.split()[-1]] = time.perf_counter() - started
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"`{command}` failed on a fresh Debian 12 (exit {done.returncode}):\n" \
                                     f"{output[-6000:]}"
        outputs.append(output)
    (wheel,) = (checkout / "wheelhouse").glob("cablesim-*-cp311-cp311-manylinux_*_x86_64.whl")  # bookworm's 3.11
    assert re.search(r"=+ \d+ passed", outputs[1]), outputs[1][-3000:]
    assert "100% tests passed" in outputs[1]  # ctest, after pytest
    print(f"README test ({wheel.name}): " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
