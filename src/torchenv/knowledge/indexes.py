"""Project pages of package indexes, parsed into file records.

Two formats answer the same URL ``{index}/{project}/``: the JSON simple API (PEP 691, asked for
with ``Accept: application/vnd.pypi.simple.v1+json``; it carries ``upload-time`` since API 1.1,
PEP 700) and the HTML page of PEP 503 (anchors with ``data-requires-python``, ``data-yanked`` and,
PEP 658/714, ``data-core-metadata``; no upload time). download.pytorch.org and file:// mirrors
serve HTML; pypi.org serves both.

An index may also be a flat listing of files, what ``pip --find-links`` reads: one HTML page of
links to the wheels of every project (download.pytorch.org/whl/torch_stable.html), or a local
directory of wheels (``Remote`` lists a directory without an index.html). ``IndexPages`` tells
the two apart: when ``{index}/{project}/`` is not found but the index URL itself links to wheel
files, that listing is used, filtered by project name.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from torchenv.i18n import Msg
from torchenv.knowledge.remote import NotFound, Page, Remote, RemoteError, RemoteFormatError
from torchenv.untrusted.text import load_json

# PEP 691's recommended Accept header: JSON first, HTML as the fallback a PEP 503 index serves.
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str  # absolute, without the #hash fragment
    upload_time: str | None  # ISO 8601 (PEP 700), None from HTML pages
    yanked: bool
    requires_python: str | None
    core_metadata: bool | None  # what the page says about a PEP 658 .metadata file

    @property
    def version(self) -> Version | None:
        """The version in the file name (with any local tag); None for other files."""
        try:
            if self.filename.endswith(".whl"):
                return parse_wheel_filename(self.filename)[1]
            return parse_sdist_filename(self.filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename):
            return None


def project_url(index: str, project: str) -> str:
    """``{index}/{normalised name}/`` (PEP 503 normalisation)."""
    return index.rstrip("/") + "/" + canonicalize_name(project) + "/"


def fetch_files(remote: Remote, index: str, project: str) -> list[IndexFile]:
    """The files of ``project`` on a simple index or a flat listing (NotFound when neither)."""
    return IndexPages(remote, index).require(project).files


@dataclass(frozen=True)
class Listing:
    url: str  # the page read: {index}/{project}/, or the index itself for a flat listing
    files: list[IndexFile]
    flat: bool = False
    others: int = 0  # the files of other projects a flat listing holds


class IndexPages:
    """The file lists of one index, a simple index or a flat listing. Which one it is, is learnt
    from the first project asked for and kept: a flat page is read once, and once a project page
    was found a missing one is just missing (the root of a simple index is never read: pypi.org's
    is 40 MB)."""

    def __init__(self, remote: Remote, index: str) -> None:
        self.remote = remote
        self.index = index
        self._flat: Listing | None = None
        self._simple = False

    def listing(self, project: str) -> Listing:
        """The files of ``project``; from a flat listing possibly none."""
        if self._flat is not None:
            return _only(self._flat, project)
        url = project_url(self.index, project)
        try:
            page = self.remote.get(url, accept=ACCEPT)
        except NotFound:
            flat = None if self._simple else self._read_flat()
            if flat is None:
                raise
            self._flat = flat
            return _only(flat, project)
        self._simple = True
        return Listing(url, parse_page(page, url))

    def require(self, project: str) -> Listing:
        """``listing``, with a flat listing that holds no file of ``project`` as NotFound."""
        found = self.listing(project)
        if found.flat and not found.files:
            raise NotFound(
                project_url(self.index, project),
                Msg(
                    "not found, and {url} is a flat listing without {project} files",
                    url=found.url,
                    project=project,
                ),
            )
        return found

    def _read_flat(self) -> Listing | None:
        """The index URL as a flat listing, None when it is not one (no link to a wheel)."""
        # the index URL arrives without its trailing slash (db update strips it): a page such
        # as torch_stable.html is read as named, a directory with the slash so that relative
        # links resolve inside it
        page = self.index.lower().endswith((".html", ".htm")) or _is_local_file(self.index)
        url = self.index if page else self.index + "/"
        try:
            files = parse_page(self.remote.get(url, accept=ACCEPT), url)
        except (RemoteError, RemoteFormatError):
            return None  # the caller reports the project page that was not found
        if not any(f.filename.endswith(".whl") for f in files):
            return None  # e.g. the root page of a simple index: links to projects
        return Listing(url, files, flat=True)


def _only(flat: Listing, project: str) -> Listing:
    """The files of ``project`` in a flat listing: PEP 427/625 file names begin with the
    distribution name up to the first "-" (normalised, PEP 503); files without a version in
    their name (a PEP 658 ``.metadata`` file next to its wheel) are left out."""
    name = canonicalize_name(project)
    files = [
        f
        for f in flat.files
        if canonicalize_name(f.filename.split("-", 1)[0]) == name and f.version is not None
    ]
    return replace(flat, files=files, others=len(flat.files) - len(files))


def parse_page(page: Page, url: str | None = None) -> list[IndexFile]:
    """The files of a project page in either format (chosen by content type, then content)."""
    where = url or page.url
    head = page.body.lstrip()[:1]
    if "json" in page.content_type.lower() or head == b"{":
        return parse_json_page(page.body, page.url, where)
    if head != b"<":
        raise RemoteFormatError(where, Msg("neither a PEP 691 JSON nor a PEP 503 HTML page"))
    return parse_html_page(page.body, page.url)


def parse_json_page(body: bytes, base: str, where: str | None = None) -> list[IndexFile]:
    try:
        data = load_json(body)
    except ValueError as exc:
        problem = Msg("invalid JSON: {error}", error=str(exc))
        raise RemoteFormatError(where or base, problem) from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise RemoteFormatError(where or base, Msg('a PEP 691 page needs a "files" list'))
    return [_json_file(row, base, where or base) for row in files]


def _json_file(row: Any, base: str, where: str) -> IndexFile:
    if not isinstance(row, dict) or not isinstance(row.get("filename"), str):
        problem = Msg("a file entry without a filename: {entry}", entry=str(row)[:80])
        raise RemoteFormatError(where, problem)
    if not isinstance(row.get("url"), str):
        raise RemoteFormatError(where, Msg("{file} has no url", file=row["filename"]))
    upload = row.get("upload-time")
    requires = row.get("requires-python")
    metadata = row.get("core-metadata", row.get("dist-info-metadata"))
    return IndexFile(
        filename=row["filename"],
        url=_absolute(base, row["url"]),
        upload_time=upload if isinstance(upload, str) else None,
        # PEP 592/691: false, true, or a string with the reason
        yanked=bool(row.get("yanked")),
        requires_python=requires if isinstance(requires, str) and requires else None,
        core_metadata=None if metadata is None else bool(metadata),
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._text = []
            self.anchors.append((dict(attrs), self._text))

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None


def parse_html_page(body: bytes, base: str) -> list[IndexFile]:
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    parser.close()
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        absolute = _absolute(base, href)
        # PEP 503: the link text is the file name; the URL's last segment is the fallback.
        # torch_stable.html prefixes the text with the variant's folder ("cu130/torch-...whl"),
        # and no file name holds a "/": the last segment is the name.
        name = "".join(text).strip().rsplit("/", 1)[-1]
        name = name or urllib.parse.unquote(absolute.rsplit("/", 1)[-1])
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        files.append(
            IndexFile(
                filename=name,
                url=absolute,
                upload_time=None,
                yanked="data-yanked" in attrs,
                requires_python=attrs.get("data-requires-python") or None,
                core_metadata=None if metadata is None else metadata.lower() != "false",
            )
        )
    return files


def _is_local_file(url: str) -> bool:
    """A file:// URL of a saved page (any name), not of a directory of wheels."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        return False
    return Path(urllib.request.url2pathname(parts.path)).is_file()


def _absolute(base: str, href: str) -> str:
    """The link as a URL; a page served over http(s) may not point into the local filesystem
    (a hostile index would make ``db update`` read local files and record their paths)."""
    url = urllib.parse.urldefrag(urllib.parse.urljoin(base, href))[0]
    if urllib.parse.urlsplit(url).scheme.lower() == "file" and not base.lower().startswith("file:"):
        return urllib.parse.urldefrag(urllib.parse.urljoin(base, urllib.parse.quote(href)))[0]
    return url


_LOCAL_SUFFIX = re.compile(r"\.cxx11\.abi$")


def variant_of_local(local: str | None) -> str:
    """The variant named by a wheel's local version: "cu126", "rocm6.2.4", "xpu"; "cpu" when
    there is none (macOS wheels carry no tag). The 2.5/2.6 ``cpu.cxx11.abi`` builds are the same
    variant as ``cpu`` for choosing an index URL."""
    return _LOCAL_SUFFIX.sub("", local) if local else "cpu"
