"""A private package index for the tests: the machine's local PEP 503 mirror (/opt/pypi, pip's
extra index here) served over HTTP on 127.0.0.1, answering only requests that carry HTTP basic
authentication with the test's user and token, and recording every request (path, authorized).

With it a test can show that a spec naming ``http://USER:TOKEN@127.0.0.1:PORT/simple`` locks,
creates and builds (the installers did authenticate: the server saw authorized downloads) while
the token appears in no file torchenv wrote.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from builders import require

MIRROR = Path(os.environ.get("TORCHENV_TEST_PYPI_MIRROR", "/opt/pypi"))
USER = "alice"


@dataclass
class AuthIndex:
    url: str  # with the credentials, as a spec names it
    token: str
    requests: list[tuple[str, bool]] = field(default_factory=list)

    def authorized_files(self) -> list[str]:
        return [p for p, ok in self.requests if ok and p.startswith("/files/")]

    def refused(self) -> list[str]:
        return [p for p, ok in self.requests if not ok]


@contextmanager
def auth_index() -> Iterator[AuthIndex]:
    require(
        (MIRROR / "simple" / "sympy").is_dir(),
        f"no local PyPI mirror at {MIRROR} (set TORCHENV_TEST_PYPI_MIRROR)",
    )
    # a token no file could hold by chance: a grep for it finds only a leak
    token = "tok" + secrets.token_hex(16)
    expected = "Basic " + base64.b64encode(f"{USER}:{token}".encode()).decode()
    index = AuthIndex("", token)

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == expected
            index.requests.append((self.path, ok))
            if not ok:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="test index"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(MIRROR))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    index.url = f"http://{USER}:{token}@127.0.0.1:{port}/simple"
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()


def files_holding(root: Path, needle: str, skip: frozenset[Path] = frozenset()) -> list[Path]:
    """Every regular file under ``root`` (links not followed) whose bytes contain ``needle``."""
    found = []
    data = needle.encode()
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path in skip or path.is_symlink() or not path.is_file():
                continue
            try:
                if data in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def with_private_index(spec: Path, index: AuthIndex) -> Path:
    """``spec`` (written by write_cpu_spec) with PyPI replaced by the private index."""
    text = spec.read_text()
    assert "[index]\n" in text
    spec.write_text(text.replace("[index]\n", f'[index]\npypi = "{index.url}"\n', 1))
    return spec
