"""The README's promise: its first two commands (build wheels; run the tests) pass on a new machine of our kind, with
nothing installed by hand. A podman container made from a debootstrap Debian 12 root file system with only what such
a machine has (packaging/test-image/fresh-machine.Containerfile: CPython with pip and venv, g++, CMake, Ninja, git;
no MPI, nox or uv) runs both, exactly as the README writes them, on a clone of the code under test.

The container test skips without podman, debootstrap or root, unless CABLESIM_REQUIRE_README_TEST=1 (.ci/run sets
it): then it fails. Inside the container the suite runs again, where this test and the image test skip (no podman).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Steps, copy_of_this_checkout, local_image, podman_engine, require_container_tools

sys.path.insert(0, str(ROOT / "packaging"))

from wheelkit.image import image_reference  # noqa: E402

SUITE = "bookworm"  # Debian 12, the machines' system
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


@pytest.mark.slow
def test_the_readmes_two_commands_pass_on_a_fresh_debian_12(tmp_path):
    """First run: debootstrap (~2 min), the image (~1 min); then the wheel build (~2 min) and the whole suite
    (~15 min) inside. Later runs reuse both images (keyed by the Containerfile's hash)."""
    podman = require_container_tools("CABLESIM_REQUIRE_README_TEST")
    ca_bundle = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    steps = Steps(ROOT, timeout=COMMAND_TIMEOUT)
    tag = local_image(SUITE, CONTAINERFILE, "fresh", steps)
    checkout = copy_of_this_checkout(tmp_path / "checkout")
    container = [podman, "run", "--rm", "--volume", f"{checkout}:/checkout", "--workdir", "/checkout",
                 *podman_engine().limit_options()]
    if ca_bundle.is_file():  # a TLS-intercepting network: its CA, as on our machines
        container += ["--volume", f"{ca_bundle}:{CA_BUNDLE_MOUNT}:ro"]
        container += [option for name in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
                      for option in ("--env", f"{name}={CA_BUNDLE_MOUNT}")]
    outputs = []
    for command in readme_commands((ROOT / "README.md").read_text()):
        try:
            outputs.append(steps.run(command.split()[-1], [*container, image_reference(tag), "bash", "-c", command]))
        except AssertionError as failure:
            raise AssertionError(f"`{command}` failed on a fresh Debian 12: {failure}") from None
    (wheel,) = (checkout / "wheelhouse").glob("cablesim-*-cp311-cp311-manylinux_*_x86_64.whl")  # bookworm's 3.11
    assert re.search(r"=+ \d+ passed", outputs[1]), outputs[1][-3000:]
    assert "100% tests passed" in outputs[1]  # ctest, after pytest
    print(steps.report(f"README test ({wheel.name})"))
