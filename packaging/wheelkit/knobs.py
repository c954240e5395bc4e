"""The environment knobs of a build: what a maintainer may set, every build gets the same ones. Read by the build's
--help and by the build image (which passes them into its containers); the standard library only, so that the
image's tasks run with invoke alone (`pipx run --spec invoke invoke image.build`)."""

from __future__ import annotations

from collections.abc import Mapping

# name -> what it does (shown by `nox -s build_linux -- --help`)
KNOBS: Mapping[str, str] = {
    "CABLESIM_BUILD_TYPE": "CMake build type of the wheels (default Release)",
    "CABLESIM_CMAKE_ARGS": "extra CMake arguments for every build, e.g. '-DCMAKE_CXX_FLAGS=-O3'",
    "CMAKE_BUILD_PARALLEL_LEVEL": "compile jobs per build (default: cores / parallel builds)",
    "CABLESIM_MPT_INCLUDE_DIR": "Linux: a headers-only MPI (HPE MPT's include folder) for one more MPI shim",
    "CABLESIM_MARCH": "coreneuron variant only (refused without it): an -march level such as x86-64-v3 "
    "(arch-optimised, own wheelhouse folder)",
    "CABLESIM_DEBUG_INFO": "split (default: symbols in <wheel>.debug.tar.gz next to the wheel), strip (none at all, "
    "fastest) or keep (inside the wheel)",
    "SETUPTOOLS_SCM_PRETEND_VERSION": "pin the version instead of asking git (--version wins over it)",
    "CABLESIM_BUILD_ROOT": "the persistent envs and build folders (default build/; the build image uses its own, "
    "build/image-<tag>: on the file system of wheelhouse/, so the moves into it stay atomic)",
    "AUDITWHEEL_PLAT": "Linux: the manylinux policy to repair for (set in the build image)",
    "MACOSX_DEPLOYMENT_TARGET": "macOS: the oldest macOS the wheels run on (default: [tool.wheelkit] "
    "macos-deployment-targets, 10.15 x86_64, 11.0 arm64)",
    # [tool.wheelkit]'s overrides (config.ENVIRONMENT): lists are words separated by spaces or commas
    "WHEELKIT_PYTHONS": "the Pythons no selector and '3*' build, e.g. '3.12 3.13 3.14t' (default: requires-python up "
    "to newest-python, and 3.14t)",
    "WHEELKIT_NEWEST_PYTHON": "the newest CPython built by default (at most 3.15)",
    "WHEELKIT_FREE_THREADED": "1 or 0: whether the default Pythons and '3*' include the free-threaded 3.14t",
    "WHEELKIT_VARIANTS": "the variants built when no variant word is given (default: default)",
    "WHEELKIT_RELEASE_PLATFORMS": "the platform families a release must cover (and the CI matrix builds)",
}
