"""wheelkit: the logic behind cablesim's wheel sessions (noxfile.py) and tasks (tasks.py).

Plain typed functions, unit-tested in tests/test_wheelkit_*.py. The library logs through `logging`; it never
prints. Every failure a user can fix raises WheelkitError with a message that says what to do.
"""

from __future__ import annotations

from .errors import WheelkitError

__all__ = ["WheelkitError"]
