"""Index credentials reach the installer at run time, and nothing torchenv writes.

A spec may name a private mirror as ``https://user:token@mirror/simple``. The lock, the
environment's record, the image's build context and the commands torchenv prints carry the URL
without its credentials; uv and pip get them from a netrc file that exists while they run: a
file of mode 0600 in a private scratch directory (one the next run removes if this one is
killed), named by ``NETRC`` (uv and pip both read it: uv's docs, "Authentication"; pip through
requests' ``get_netrc_auth``), removed afterwards.

That file holds the spec's entries and the user's own netrc (``$NETRC`` or ``~/.netrc``) for
every other host, so the credentials the user keeps there still apply; for a host the spec
names, the spec's win (readers disagree on whether the first or the last entry of a host counts,
so there is only one). An image build gets a netrc with the entries of the spec's index hosts
only, from the spec or else from the user's netrc, as a BuildKit secret (``--secret id=netrc``)
mounted for the one ``RUN`` that installs, never in a layer; the user's other credentials stay
out of the build.

A netrc entry is per host (no port, no path): two indexes on one host with different
credentials cannot both be served, and the first one the spec names wins.
"""

from __future__ import annotations

import contextlib
import netrc
import os
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted import files
from torchenv.untrusted.scratch import scratch_dir
from torchenv.untrusted.text import credentials, redact

NETRC_LIMIT = 1 << 20
Entries = dict[str, tuple[str, str]]  # host -> (login, password); "default" for the fallback


def _host(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def _writable(user: str, password: str) -> bool:
    # netrc tokens are separated by whitespace and a quote starts a quoted token in some
    # readers: such a value would be read as something else
    return bool(user) and not any(c.isspace() or c in "\"'\\" for c in user + password)


def spec_entries(urls: Iterable[str]) -> Entries:
    """The credentials the URLs carry, per host (the first URL naming a host wins)."""
    found: Entries = {}
    for url in urls:
        pair, host = credentials(url), _host(url)
        if pair is None or not host or host in found:
            continue
        if not _writable(*pair):
            raise UsageError(
                "index-credentials",
                Msg(
                    "The credentials of {url} have no user name, or hold a space or a quote, "
                    "which a netrc file cannot carry.",
                    url=redact(url),
                ),
                Msg("Put them in ~/.netrc or your keyring yourself and remove them from the URL."),
            )
        found[host] = pair
    return found


def user_entries(env: Mapping[str, str]) -> Entries:
    """The netrc the installers would read without torchenv ($NETRC, else ~/.netrc), per host;
    none when it is absent, unreadable or not a netrc."""
    path = env.get("NETRC") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".netrc")
    try:
        files.read_bytes(path, NETRC_LIMIT)  # a regular file of sensible size, or nothing
        parsed = netrc.netrc(path)
    except (OSError, netrc.NetrcParseError, UnicodeDecodeError):
        return {}
    return {
        host: (login, password or "")
        for host, (login, _, password) in parsed.hosts.items()
        if _writable(login, password or "")
    }


def render(entries: Entries) -> str:
    """netrc text of ``entries`` (a token given as the user name alone has no password line)."""
    blocks = []
    for host, (user, password) in entries.items():
        head = "default" if host == "default" else f"machine {host}"
        blocks.append(f"{head}\nlogin {user}\n" + (f"password {password}\n" if password else ""))
    # "default" must come last: readers stop at it
    return "".join(sorted(blocks, key=lambda block: block.startswith("default")))


def installer_netrc(urls: Iterable[str], env: Mapping[str, str]) -> str:
    """What uv and pip read while torchenv runs them ("" when the spec carries no credentials:
    then they read the user's own netrc as always)."""
    spec = spec_entries(urls)
    if not spec:
        return ""
    return render({**{h: e for h, e in user_entries(env).items() if h not in spec}, **spec})


def build_netrc(urls: Iterable[str], env: Mapping[str, str]) -> str:
    """The build secret: credentials for the spec's index hosts only ("" when none is known)."""
    urls = tuple(urls)
    spec, user = spec_entries(urls), user_entries(env)
    hosts = {h for h in map(_host, urls) if h}
    return render({h: spec.get(h) or user[h] for h in sorted(hosts) if h in spec or h in user})


@contextlib.contextmanager
def netrc_file(text: str) -> Iterator[Path | None]:
    """``text`` in a 0600 file while the block runs (None for no text); removed on leaving,
    and by the next run when this one is killed."""
    if not text:
        yield None
        return
    with scratch_dir("auth") as directory:
        path = directory / "netrc"
        files.write_atomic(path, text.encode("utf-8"), mode=0o600)
        yield path


@contextlib.contextmanager
def installer_env(urls: Iterable[str], env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The environment for an installer that must authenticate to ``urls``: ``env`` with
    ``NETRC`` set while the block runs (``env`` unchanged when no URL has credentials)."""
    with netrc_file(installer_netrc(urls, env)) as path:
        yield dict(env) if path is None else {**env, "NETRC": str(path)}
