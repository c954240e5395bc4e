"""`python -m wheelkit JOB ...`: the jobs as the nox sessions run them (cli.JOBS)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
