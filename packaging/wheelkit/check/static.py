"""The checks on the wheel file, before it is installed: its tags, its RECORD, its metadata against its name, the
libraries a repair copied in (never MPI, none missing), its SBOM, and check-wheel-contents."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..compat import manylinux_glibc
from ..errors import WheelkitError
from ..native import check_no_mpi_bundled, elf_needed, extension_abi_mismatches, missing_vendored_libraries
from ..process import tail
from ..sbom import check_sbom
from ..wheelfile import disagreements, read_all, verify_record, write_wheel
from .results import Outcome, Skipped

if TYPE_CHECKING:
    from .tester import WheelTester


def tags(t: WheelTester) -> Outcome:
    assert t.contents is not None and t.job.python is not None
    name = t.contents.name
    python = t.job.python
    problems = []
    if not python.installs(name.tags):
        best = str(python.tags[0]) if python.tags else "no tag at all"
        problems.append(
            f"tag {name.tag_text} does not fit CPython {python.dotted} on {python.machine} (its best tag: {best}): "
            "test it with the interpreter it was built for, or build one for this Python"
        )
    unrepaired = sorted(tag.platform for tag in name.tags if tag.platform.startswith("linux_"))
    if unrepaired:
        problems.append(
            f"platform tag {unrepaired[0]} is not a manylinux tag: the wheel was not repaired "
            "(auditwheel repair; `nox -s build_linux` does it)"
        )
    wrong_abi = extension_abi_mismatches(t.contents)
    if wrong_abi:
        problems.append(f"extension modules built for another Python than {name.tag_text}: {', '.join(wrong_abi)}")
    if problems:
        raise WheelkitError(f"{name.filename}: " + "; ".join(problems))
    needs = max(manylinux_glibc(tag.platform) or (0, 0) for tag in name.tags)
    glibc_text = f", needs glibc >= {needs[0]}.{needs[1]}" if needs != (0, 0) else ""
    return f"{name.tag_text} fits CPython {python.dotted}{glibc_text}"


def record(t: WheelTester) -> Outcome:
    assert t.contents is not None
    return f"{verify_record(t.contents)} files match their hashes"


def metadata(t: WheelTester) -> Outcome:
    assert t.contents is not None
    name = t.contents.name
    problems = disagreements(t.contents)
    if problems:
        raise WheelkitError(f"{name.filename}: {'; '.join(problems)}: the file was renamed or re-tagged; rebuild it")
    return f"Name, Version and Tag agree with the file name ({name.distribution} {name.version})"


def no_mpi(t: WheelTester) -> Outcome:
    assert t.wheel is not None and t.contents is not None
    check_no_mpi_bundled(t.wheel)
    return f"{len(t.contents.vendored_libraries())} vendored libraries, none of them MPI"


def vendored(t: WheelTester) -> Outcome:
    assert t.contents is not None
    missing = missing_vendored_libraries(t.contents)
    if missing:
        listing = "; ".join(f"{binary} needs {', '.join(libs)}" for binary, libs in missing.items())
        raise WheelkitError(
            f"{t.contents.path.name}: vendored libraries missing from the wheel: {listing}. "
            "The wheel was repaired wrongly or edited afterwards: repair it again (auditwheel repair)"
        )
    binaries = t.contents.elf_files()
    needed = sorted({lib for b in binaries for lib in elf_needed(t.contents.read(b))})
    return f"{len(binaries)} binaries; needs {', '.join(needed) or 'nothing'}"


def sbom(t: WheelTester) -> Outcome:
    """The SBOM (PEP 770) is there, is CycloneDX naming this wheel, and lists exactly the vendored files it holds."""
    assert t.wheel is not None
    return check_sbom(read_all(t.wheel), t.wheel.name)


def wheel_contents(t: WheelTester) -> Outcome:
    """check-wheel-contents, started in the background with the job (prepare_wheel_contents) when it could be."""
    if not t.tools.check_wheel_contents:
        return Skipped("check-wheel-contents is not installed (pip install check-wheel-contents)")
    started = t.started("check-wheel-contents")
    if started is None:
        return _wheel_contents(t)
    return f"{started}; {t.background_seconds['check-wheel-contents']:.2f} s in the background"


def prepare_wheel_contents(t: WheelTester) -> None:
    """Start check-wheel-contents (0.5-0.8 s, reads the wheel file alone) while the other checks run."""
    if t.tools.check_wheel_contents:
        t.start("check-wheel-contents", functools.partial(_wheel_contents, t))


def _wheel_contents(t: WheelTester) -> str:
    assert t.wheel is not None and t.contents is not None and t.tools.check_wheel_contents is not None
    wheel, note = t.wheel, ""
    vendored = t.contents.vendored_libraries()
    if vendored:
        # auditwheel's <package>.libs/ is right but unknown to the tool (W004, W009): check the rest.
        files = {n: d for n, d in read_all(t.wheel).items() if n not in vendored}
        wheel = write_wheel(t.workdir / "without-libs" / t.wheel.name, files)
        note = f" (without the {len(vendored)} vendored libraries)"
    completed = t.run([t.tools.check_wheel_contents, "--no-config", wheel], "check-wheel-contents", check=False,
                      remember=False)
    if completed.returncode != 0:
        raise WheelkitError(
            f"check-wheel-contents found problems{note}:\n{tail(completed.stdout + completed.stderr)}\n"
            "See https://github.com/jwodder/check-wheel-contents for what each code means"
        )
    return "OK" + note
