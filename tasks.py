"""cablesim's contributor tasks (invoke). `invoke --list` shows them; `invoke --help TASK` explains one.

Thin: each task parses its options and calls into packaging/wheelkit, where the logic is unit-tested.

    invoke image.build | image.push | image.shell | image.run -- CMD   the build image (docker or podman)
    invoke wheelhouse.add | wheelhouse.rewrite | wheelhouse.index       a wheelhouse for offline clusters
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Collection

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "packaging"))  # wheelkit

# --- image: the build image -------------------------------------------------------------------------------------
image = Collection("image")

# --- wheelhouse: offline clusters -------------------------------------------------------------------------------
wheelhouse = Collection("wheelhouse")

namespace = Collection(image, wheelhouse)
