"""Index credentials reach the installer at run time, and nothing torchenv writes.

A spec may name a private mirror as ``https://user:token@mirror/simple``. The lock, the
environment's record, the image's build context and the commands torchenv prints carry the URL
without its credentials; uv and pip get them from a netrc file that exists while they run: a
file of mode 0600 in a private temporary directory, named by ``NETRC`` (uv and pip both read it:
uv's docs, "Authentication"; pip through requests' ``get_netrc_auth``), removed afterwards. The
user's own netrc (``$NETRC`` or ``~/.netrc``) is copied after the spec's entries, so the
credentials it holds for other hosts still apply. An image build gets the same file as a BuildKit
secret (``--secret id=netrc``), mounted for the one ``RUN`` that installs, never in a layer.

A netrc entry is per host (no port, no path): two indexes on one host with different
credentials cannot both be served, and the first one named wins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.untrusted import files
from torchenv.untrusted.text import credentials, redact

NETRC_LIMIT = 1 << 20


def netrc_entries(urls: Iterable[str]) -> str:
    """netrc lines for every URL of ``urls`` that carries credentials ("" when none does)."""
    lines = []
    seen: set[str] = set()
    for url in urls:
        found = credentials(url)
        host = urllib.parse.urlsplit(url).hostname
        if found is None or not host or host in seen:
            continue
        seen.add(host)
        user, password = found
        # netrc tokens are separated by whitespace and a quote starts a quoted token in some
        # readers: such a value would be read as something else
        if not user or any(c.isspace() or c in "\"'\\" for c in user + password):
            raise UsageError(
                "index-credentials",
                f"The credentials of {redact(url)} have no user name, or hold a space or a "
                "quote, which a netrc file cannot carry.",
                "Put them in ~/.netrc or your keyring yourself and remove them from the URL.",
            )
        # a token given as the user name alone (https://TOKEN@host) has no password line
        lines.append(
            f"machine {host}\nlogin {user}\n" + (f"password {password}\n" if password else "")
        )
    return "".join(lines)


def _user_netrc(env: Mapping[str, str]) -> str:
    """The netrc the installers would read without torchenv ("" when none can be read)."""
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return files.read_text(path, NETRC_LIMIT, errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def netrc_file(urls: Iterable[str], env: Mapping[str, str]) -> Iterator[Path | None]:
    """A temporary netrc with the credentials of ``urls`` (then the user's own netrc), or None
    when no URL carries any. Removed on leaving, whatever happens."""
    entries = netrc_entries(urls)
    if not entries:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="torchenv-auth-"))  # mode 0700
    try:
        path = directory / "netrc"
        own = _user_netrc(env)
        text = entries + ("\n" + own if own else "")
        files.write_atomic(path, text.encode("utf-8"), mode=0o600)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def installer_env(urls: Iterable[str], env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The environment for an installer that must authenticate to ``urls``: ``env`` with
    ``NETRC`` set while the block runs (``env`` unchanged when no URL has credentials)."""
    with netrc_file(urls, env) as path:
        yield dict(env) if path is None else {**env, "NETRC": str(path)}
