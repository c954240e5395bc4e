"""The one error type of wheelkit."""

from __future__ import annotations


class WheelkitError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""
