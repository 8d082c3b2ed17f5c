"""The one gateway through which ``db update`` reads package indexes and wheels.

``http(s)://`` goes through urllib (so proxies from the environment are honoured as urllib does);
``file://`` reads a local mirror with the same interface, so a PEP 503 tree on disk works like an
index (and a folder without an index.html is answered with a page linking its files, as a web
server's directory index would). Wheels are read by byte ranges only (RFC 9110 section 14:
``Range: bytes=a-b`` and the suffix form ``bytes=-n``, answered with 206 and ``Content-Range``):
torch wheels are 0.5-0.9 GB and ``db update`` needs a few MB of each. Every byte received is
counted in ``stats`` so the cost of an update can be reported and bounded in tests.
"""

from __future__ import annotations

import base64
import html
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from torchenv.errors import ExitCode, TorchenvError
from torchenv.i18n import Msg
from torchenv.untrusted import files
from torchenv.untrusted.text import credentials, strip_credentials

DEFAULT_TIMEOUT = 30.0
# A read of a response body is done in pieces of this size, so a stalled server hits the timeout
# per piece instead of blocking one huge read.
_PIECE = 1 << 16
_WHOLE_OK = 1 << 16  # a 200 answer to a range request is read when the file is this small
# a whole document (an index page, a .metadata file): PyPI's JSON page of torch is ~1 MB
BODY_LIMIT = 64 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class RemoteError(TorchenvError):
    """An index or file server could not be read: the message names the URL and the error."""

    exit_code = ExitCode.EXTERNAL

    def __init__(self, url: str, error: str, hint: str | None = None) -> None:
        super().__init__(
            "remote-unreadable", Msg("Cannot read {url}: {error}", url=url, error=error), hint
        )
        self.url = url
        self.error = error


class NotFound(RemoteError):
    """404/410, or a missing local file: callers that have a fallback catch this one."""


class RemoteFormatError(TorchenvError):
    """What a server returned does not have the expected shape (index page, zip, METADATA)."""

    exit_code = ExitCode.EXTERNAL

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(
            "remote-malformed",
            Msg("Unexpected content at {url}: {problem}", url=url, problem=problem),
        )
        self.url = url


@dataclass(frozen=True)
class SourceFailure:
    """A source that could not be read while the update went on without it."""

    source: str  # "pytorch-index", "torchaudio", "cuda-toolkit"
    url: str
    error: str


@dataclass
class Stats:
    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str
    url: str  # where it was read from (after redirects): relative links resolve against it


def _version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("torchenv")
    except Exception:  # noqa: BLE001  (not installed as a distribution: a source checkout)
        return "0"


def _is_connection_error(exc: BaseException) -> bool:
    """Errors before any response arrived (refused, reset, DNS); only these are retried."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    if isinstance(exc, urllib.error.URLError):
        return not isinstance(exc.reason, (TimeoutError, socket.timeout))
    return isinstance(exc, (ConnectionError, http.client.RemoteDisconnected))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return Msg("timed out")
    return f"{type(exc).__name__}: {exc}"


class Remote:
    """HTTP(S) and file:// reads with range support, a timeout per request and byte counting.

    ``opener`` is injectable (tests point it at a local server through the ordinary URLs; a
    custom opener can add auth handlers for a private mirror)."""

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.25,
        opener: urllib.request.OpenerDirector | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.opener = opener or urllib.request.build_opener()
        self.user_agent = user_agent or f"torchenv/{_version()}"
        self.stats = Stats()
        # host -> Authorization header, from index URLs that carry user:password (a private
        # mirror); the URL itself is then used without them, and printed redacted
        self.auth: dict[str, str] = {}

    # --- public interface -------------------------------------------------------------------
    def get(self, url: str, accept: str | None = None) -> Page:
        """A whole (small) document: an index page or a ``.metadata`` file."""
        if _is_file(url):
            path = _local_path(url)
            if path.is_dir() and not (path / "index.html").exists():
                # a folder of wheels, as pip --find-links takes one: its files as a page of
                # links, what a web server's directory index would serve
                self.stats.requests += 1
                return Page(_directory_page(url, path), "text/html", path.as_uri() + "/")
            if path.is_dir():
                path = path / "index.html"  # a PEP 503 tree on disk: the page of a directory
            body = self._read_local(url, path, 0, None)
            kind = "text/html" if path.suffix in (".html", ".htm") else ""
            kind = "application/json" if path.suffix == ".json" else kind
            return Page(body, kind, path.as_uri())
        headers = {"Accept": accept} if accept else {}
        body, response_headers, final = self._http(url, headers, None)
        return Page(body, response_headers.get("content-type", ""), final)

    def read_range(self, url: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer at the end of the file)."""
        if length <= 0:
            return b""
        if _is_file(url):
            return self._read_local(url, _local_path(url), start, length)
        header = {"Range": f"bytes={start}-{start + length - 1}"}
        body, headers, _ = self._http(url, header, length)
        if headers.get("_status") == "200":
            body = body[start : start + length]  # a server without ranges sent a small file whole
        elif headers.get("_first") != str(start):
            problem = Msg(
                "asked for bytes from {start}, got {range}", start=start, range=headers["_range"]
            )
            raise RemoteFormatError(url, problem)
        return body

    def read_tail(self, url: str, length: int) -> tuple[bytes, int]:
        """The last ``length`` bytes of a file and the file's size."""
        if _is_file(url):
            path = _local_path(url)
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise _local_error(url, exc) from exc
            start = max(0, size - length)
            return self._read_local(url, path, start, size - start), size
        body, headers, _ = self._http(url, {"Range": f"bytes=-{length}"}, length)
        if headers.get("_status") == "200":
            return body, len(body)
        total = headers.get("_total", "*")
        if not total.isdigit():
            problem = Msg("no file size in Content-Range {range}", range=repr(headers["_range"]))
            raise RemoteFormatError(url, problem)
        return body, int(total)

    # --- file:// ------------------------------------------------------------------------------
    def _read_local(self, url: str, path: Path, start: int, length: int | None) -> bytes:
        self.stats.requests += 1
        try:
            with files.open_regular(path) as fh:  # a FIFO in a file:// mirror must not hang
                fh.seek(start)
                data = fh.read(BODY_LIMIT + 1) if length is None else fh.read(length)
        except OSError as exc:
            raise _local_error(url, exc) from exc
        if length is None and len(data) > BODY_LIMIT:
            problem = Msg("the file is larger than {limit} bytes", limit=BODY_LIMIT)
            raise RemoteFormatError(url, problem)
        self.stats.bytes += len(data)
        return data

    # --- http(s):// ---------------------------------------------------------------------------
    def _http(
        self, url: str, headers: dict[str, str], limit: int | None
    ) -> tuple[bytes, dict[str, str], str]:
        url = self._take_credentials(url)
        problem = url_problem(url)
        if problem is not None:  # a URL from an index page (db update checks the options)
            raise RemoteError(url, Msg("not a valid URL: {problem}", problem=problem))
        authorization = self.auth.get(urllib.parse.urlsplit(url).netloc)
        attempt = 0
        while True:
            try:
                # url_problem checked the scheme: urllib's ftp: and data: handlers are never used
                request = urllib.request.Request(  # noqa: S310
                    url, headers={"User-Agent": self.user_agent, **headers}
                )
                if authorization is not None:
                    # not carried over a redirect: urllib copies ordinary headers to wherever
                    # a mirror redirects (a CDN, S3), and the credentials are the mirror's
                    request.add_unredirected_header("Authorization", authorization)
                return self._once(request, url, limit)
            except ValueError as exc:  # what url_problem missed (UnicodeEncodeError is one)
                invalid = Msg("not a valid URL: {problem}", problem=_describe(exc))
                raise RemoteError(url, invalid) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if isinstance(exc, urllib.error.HTTPError) and exc.code in (404, 410):
                    raise NotFound(url, _describe(exc)) from exc
                if _is_connection_error(exc) and attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * attempt)
                    continue
                raise RemoteError(url, _describe(exc), _hint(exc)) from exc

    def _take_credentials(self, url: str) -> str:
        """``url`` without user:password, which are kept for its host (sent as HTTP basic
        authentication, as pip and uv do for index URLs)."""
        found = credentials(url)
        if found is None:
            return url
        clean = strip_credentials(url)
        token = base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode("ascii")
        self.auth[urllib.parse.urlsplit(clean).netloc] = f"Basic {token}"
        return clean

    def _once(
        self, request: urllib.request.Request, url: str, limit: int | None
    ) -> tuple[bytes, dict[str, str], str]:
        self.stats.requests += 1
        with self.opener.open(request, timeout=self.timeout) as response:
            status = int(response.status)
            found = {k.lower(): v for k, v in response.headers.items()}  # names: any case
            found["_status"] = str(status)
            if limit is not None:
                _check_range_answer(url, status, found, limit)
            body = _read_body(cast(BinaryIO, response), self.stats, url, limit)
        return body, found, str(response.geturl())


def _check_range_answer(url: str, status: int, headers: dict[str, str], limit: int) -> None:
    """A range request must get 206; a 200 is accepted only for a small file (servers may answer
    one whole), never for a wheel that would then be downloaded whole."""
    if status == 200:
        size = headers.get("content-length", "")
        if size.isdigit() and int(size) <= limit + _WHOLE_OK:
            return
        raise RemoteError(
            url,
            Msg("the server ignores HTTP range requests (answered 200 with the whole file)"),
            Msg(
                "Use an index whose file server supports ranges (PyPI's does), or a file:// mirror."
            ),
        )
    match = _CONTENT_RANGE.fullmatch(headers.get("content-range", "").strip())
    if status != 206 or match is None:
        problem = Msg("range request answered {status} without a Content-Range", status=status)
        raise RemoteFormatError(url, problem)
    headers["_range"] = match.group(0)
    headers["_first"], headers["_total"] = match.group(1), match.group(3)


def _read_body(response: BinaryIO, stats: Stats, url: str, limit: int | None) -> bytes:
    """The body, at most ``limit`` bytes past what a range asked for (a server that sends more
    is cut off), and never more than ``BODY_LIMIT`` for a whole document."""
    cap = BODY_LIMIT if limit is None else limit + _WHOLE_OK
    parts = []
    size = 0
    while True:
        piece = response.read(_PIECE)
        if not piece:
            break
        stats.bytes += len(piece)
        size += len(piece)
        if size > cap:
            raise RemoteFormatError(url, Msg("the answer is larger than {limit} bytes", limit=cap))
        parts.append(piece)
    return b"".join(parts)


def _hint(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return Msg("The server answered with an error; try again later or use another index.")
    return Msg(
        "Check the network connection and proxy settings (HTTPS_PROXY), or point --pypi-index "
        "at a reachable mirror; TORCHENV_HTTP_TIMEOUT sets the timeout in seconds."
    )


def url_problem(url: str) -> str | None:
    """Why ``Remote`` cannot read ``url``, None when it can. urllib raises ValueError for an
    unparsable URL ("http://[::1") and http.client UnicodeEncodeError for non-ASCII ones (the
    request line is ASCII, RFC 9112 section 3), so these are caught before any request."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number to 65535)
    except ValueError as exc:
        return str(exc)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return Msg("a file: URL names a local path, file:///path (no host)")
        return None if parts.path else Msg("no path")
    if scheme not in ("http", "https"):
        return Msg("only http://, https:// and file:// URLs are supported")
    if not parts.hostname:
        return Msg("no host name")
    if not url.isascii():
        return Msg("non-ASCII characters (percent-encode them; a host name goes in its xn-- form)")
    if any(c.isspace() or not c.isprintable() for c in url):
        return Msg("spaces or control characters (percent-encode them)")
    return None


def _is_file(url: str) -> bool:
    return url[:5].lower() == "file:"  # schemes are case-insensitive (RFC 3986 section 3.1)


def _local_path(url: str) -> Path:
    parsed = urllib.parse.urlsplit(url)
    return Path(urllib.request.url2pathname(urllib.parse.unquote(parsed.path)))


def _directory_page(url: str, path: Path) -> bytes:
    """An HTML page linking the regular files of a directory (links followed), sorted by name;
    never more than ``BODY_LIMIT`` bytes, like any page read."""
    try:
        with os.scandir(path) as entries:
            names = sorted(e.name for e in entries if _listed(e))
    except OSError as exc:
        raise _local_error(url, exc) from exc
    rows = [
        f'<a href="{urllib.parse.quote(n)}">{html.escape(n)}</a><br/>\n'.encode() for n in names
    ]
    if sum(map(len, rows)) > BODY_LIMIT:
        problem = Msg("the directory lists more than {limit} bytes of names", limit=BODY_LIMIT)
        raise RemoteFormatError(url, problem)
    return b"<!DOCTYPE html><html><body>\n" + b"".join(rows) + b"</body></html>\n"


def _listed(entry: os.DirEntry[str]) -> bool:
    """A regular file (through links) with a UTF-8 name: a name with surrogate escapes names no
    wheel (PEP 427 names are ASCII) and could not be put in a URL; a link loop or an entry that
    cannot be examined is left out, not a reason to refuse the folder."""
    try:
        entry.name.encode()
        return entry.is_file()
    except (UnicodeEncodeError, OSError):
        return False


def _local_error(url: str, exc: OSError) -> RemoteError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return NotFound(url, Msg("no such file"))
    return RemoteError(url, exc.strerror or str(exc))


def http_timeout(environ: dict[str, str] | None = None) -> float:
    """$TORCHENV_HTTP_TIMEOUT in seconds when it is a positive number, else the default."""
    text = (environ if environ is not None else os.environ).get("TORCHENV_HTTP_TIMEOUT", "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT
