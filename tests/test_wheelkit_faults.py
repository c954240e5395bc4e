"""wheelkit under faults and bad input (issue 13): wheelhouse.add's --arch-level messages, and signals to a running
build (real processes: a build whose steps are long-running stand-ins for cmake and uv)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from wheelkit import WheelkitError  # noqa: E402
from wheelkit.wheelfile import write_wheel  # noqa: E402
from wheelkit.wheelhouse import add_wheels  # noqa: E402

ELF_X86_64 = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (62).to_bytes(2, "little") + b"\0" * 44


def compiled_wheel(folder: Path, name: str) -> Path:
    """A small CPython 3.11 x86-64 wheel carrying the site label +hpc."""
    info = f"{name}-1.0+hpc.dist-info"
    tag = "cp311-cp311-manylinux_2_34_x86_64"
    return write_wheel(folder / f"{name}-1.0+hpc-{tag}.whl", {
        f"{name}/__init__.py": b"",
        f"{name}/_core.cpython-311-x86_64-linux-gnu.so": ELF_X86_64,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0+hpc\n".encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    })


@pytest.mark.parametrize(("level", "advice"), [
    ("native", "give the level of the cluster's nodes instead, e.g. --arch-level x86-64-v3 (or generic)"),
    ("skylake", "give one of those, or generic"),
])
def test_a_bad_arch_level_is_reported_once_for_all_wheels_with_advice_that_is_not_the_option_itself(
        tmp_path, level, advice):
    wheels = [compiled_wheel(tmp_path / "incoming", name) for name in ("one", "two", "three")]
    with pytest.raises(WheelkitError) as caught:
        add_wheels(tmp_path / "house", wheels, site="hpc", level=level)
    message = str(caught.value)
    assert message.count(f"--arch-level {level}") == 1, message
    assert advice in message and f"\n  - 3 wheels: --arch-level {level} " in message
    assert "place it with --arch-level" not in message and "rebuild" not in message
    assert message.startswith(f"nothing was added to {tmp_path / 'house'} (1 problem):")
