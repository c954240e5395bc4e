"""`python -m wheelkit build linux|macos ...`: the wheel builds, as the nox sessions run them."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
