"""Text from outside torchenv: credentials in URLs, terminal control sequences, parsers that can
be driven into RecursionError.

Credentials: an index URL of a private mirror is often ``https://user:token@mirror/simple``.
torchenv passes such a URL to the installer at run time and writes it nowhere (locks, records,
images carry ``strip_credentials(url)``); what it prints goes through ``redact``, which keeps
the user name and hides the password as uv does (``https://user:****@mirror/simple``).

Terminal: a package name, a path or a GPU name read from a file may hold ESC sequences that
rewrite the screen or the window title; ``printable`` shows them as ``\\x1b`` instead.
"""

from __future__ import annotations

import re
from typing import Any

HIDDEN = "****"
# scheme://userinfo@ in free text: userinfo runs to the last "@" before the first "/" or space
# (a password may hold a raw "@"; urlsplit, and this module's other functions, split there too)
_USERINFO = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/\s]+)@"
# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some terminals),
# and the bidirectional overrides that make text read otherwise than it is
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
# What a value read from a file may not hold when it goes into a line of a generated file or a
# command: every control character (tab and newline too), and every character at which Python's
# str.splitlines breaks a line (U+2028, U+2029; U+0085 is among the C1 controls): pip splits a
# requirements file so, and a marker holding U+2028 once made an option line of its own there.
UNSAFE_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What cannot appear unencoded in a URL and would end a quoted string or a line elsewhere
URL_UNSAFE = re.compile("[\\s\"'\\\\`<>{}|^\x00-\x1f\x7f-\x9f\u2028\u2029]")
# (compiled on first use, through re's own cache: importing this module costs no compile)


def _hide(info: str) -> str:
    user, colon, _ = info.partition(":")
    # a user name alone is often the token itself (https://TOKEN@host): hide it too
    return f"{user}:{HIDDEN}" if colon else HIDDEN


def redact(text: str) -> str:
    """``text`` with the password (or lone token) of every URL in it replaced by ****."""
    if "@" not in text:
        return text
    return re.sub(_USERINFO, lambda m: f"{m.group('scheme')}{_hide(m.group('info'))}@", text)


def strip_url_credentials(text: str) -> str:
    """``text`` with the user and password of every http(s) URL in it removed (a file that will
    be shared, as the installer's output torchenv keeps). Other schemes keep theirs: the user
    of ``ssh://git@host/...`` is a login name, not a secret."""
    if "@" not in text:
        return text

    def strip(match: re.Match[str]) -> str:
        scheme = match.group("scheme")
        return scheme if scheme.lower().endswith(("http://", "https://")) else match.group(0)

    return re.sub(_USERINFO, strip, text)


def holds_credentials(text: str) -> bool:
    """Some http(s) URL in ``text`` carries a user or password."""
    return strip_url_credentials(text) != text


def _netloc(url: str) -> tuple[str, str, str]:
    """(user info, "@" or "", host) of ``url``'s authority, without parsing the host (an
    invalid IPv6 literal is the caller's problem, not this one's)."""
    rest = url.partition("://")[2] if "://" in url else ""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    info, at, host = authority.rpartition("@")
    return info, at, host


def has_credentials(url: str) -> bool:
    return _netloc(url)[1] == "@"


def strip_credentials(url: str) -> str:
    """``url`` without its user and password; other URLs as they are."""
    info, at, _ = _netloc(url)
    if not at:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest[len(info) + 1 :]}"


def credentials(url: str) -> tuple[str, str] | None:
    """(user, password) of ``url``, percent-decoded; None when it has none."""
    import urllib.parse  # noqa: PLC0415  (start-up: only where URLs are handled)

    info, at, _ = _netloc(url)
    if not at:
        return None
    user, _, password = info.partition(":")
    return urllib.parse.unquote(user), urllib.parse.unquote(password)


def printable(text: str) -> str:
    """``text`` safe to print: control characters (ESC above all) shown as escapes."""
    if re.search(_CONTROL, text) is None:
        return text
    return re.sub(_CONTROL, lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def for_terminal(text: str) -> str:
    """What torchenv writes to the terminal: no credentials, no control sequences."""
    return printable(redact(text))


def load_json(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ``ValueError``: JSON nested thousands deep makes
    the parser raise ``RecursionError`` instead."""
    import json  # noqa: PLC0415

    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be read") from None


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with the same guarantee (``tomllib.TOMLDecodeError`` is a
    ``ValueError``)."""
    import sys  # noqa: PLC0415

    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # noqa: PLC0415
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be read") from None
