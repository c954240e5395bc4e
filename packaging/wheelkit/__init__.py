"""wheelkit: the logic behind cablesim's wheel jobs (noxfile.py, tasks.py), as plain typed functions.

The ground, here: errors, tables, process (the one process runner), files, venv, wheelfile, dists, native, compat,
interpreters, version, rename, knobs, config, pyproject, credentials (never in a URL), index (the one index client),
mpi_pins (the MPI headers' pinned wheels), sbom (a wheel's CycloneDX SBOM) and diff (what differs between two
wheels). One subpackage per job on top of it: builds/ (nox -s build_linux, build_osx,
sdist), check/ (test_wheels), release/ (upload, release), site/ (the offline wheelhouse); image.py (the build image)
and mpi_headers.py are jobs of one module each; `python -m wheelkit diff` and `matrix` are jobs on the ground. The ground never imports a job, and no job imports another. The
library logs through `logging` and never prints but in cli.py; every failure a user can fix raises WheelkitError
with a message that says what to do.
"""

from __future__ import annotations

from .errors import WheelkitError

__all__ = ["WheelkitError"]
