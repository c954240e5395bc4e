"""The rule that credentials never travel in a URL: they come from TWINE_USERNAME / TWINE_PASSWORD or twine's
keyring, a URL with user:password is refused unshown, and every message that quotes a URL is scrubbed first.
The noxfile imports it before nox echoes a command line: the standard library only."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .errors import WheelkitError

# scheme://USERINFO@host: everything up to the last @ before the path (a password may hold an unencoded @)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def redact(text: str) -> str:
    """text with the user:password of every URL in it replaced by ***, for any message that quotes a URL."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def refuse_url_credentials(option: str, value: str | None) -> None:
    if value and _USERINFO.search(value):
        raise WheelkitError(
            f"{option} must not carry credentials in the URL ({redact(value)}): they would be echoed and logged. "
            f"Give {_USERINFO.sub(lambda m: m['scheme'], value)} and set TWINE_USERNAME and TWINE_PASSWORD (or use "
            "twine's keyring) instead"
        )


def refuse_credentials_in_argv(argv: Sequence[str]) -> None:
    """Refuse a command line with a URL carrying user:password (--repository, --simple-url, --from or any other
    place), naming the option but never the credentials. Call it before anything echoes the command line: nox
    prints every command it runs, argparse quotes a bad argument."""
    for number, argument in enumerate(argv):
        option, _, value = argument.partition("=") if argument.startswith("--") else ("", "", argument)
        if not option and number and argv[number - 1].startswith("-"):
            option = argv[number - 1]
        refuse_url_credentials(option or "an argument", value or argument)


def credentials(environ: Mapping[str, str]) -> tuple[str, str]:
    """twine's user and password from the environment (TWINE_USERNAME, TWINE_PASSWORD)."""
    return environ.get("TWINE_USERNAME", ""), environ.get("TWINE_PASSWORD", "")
