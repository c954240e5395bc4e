"""``python -m cablesim MODEL.json``: the same program as ``cablesim-run``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
