"""Project pages of package indexes, parsed into file records.

Two formats answer the same URL ``{index}/{project}/``: the JSON simple API (PEP 691, asked for
with ``Accept: application/vnd.pypi.simple.v1+json``; it carries ``upload-time`` since API 1.1,
PEP 700) and the HTML page of PEP 503 (anchors with ``data-requires-python``, ``data-yanked`` and,
PEP 658/714, ``data-core-metadata``; no upload time). download.pytorch.org and file:// mirrors
serve HTML; pypi.org serves both.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from torchenv.knowledge.remote import Page, Remote, RemoteFormatError
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
    url = project_url(index, project)
    return parse_page(remote.get(url, accept=ACCEPT), url)


def parse_page(page: Page, url: str | None = None) -> list[IndexFile]:
    """The files of a project page in either format (chosen by content type, then content)."""
    where = url or page.url
    head = page.body.lstrip()[:1]
    if "json" in page.content_type.lower() or head == b"{":
        return parse_json_page(page.body, page.url, where)
    if head != b"<":
        raise RemoteFormatError(where, "neither a PEP 691 JSON nor a PEP 503 HTML page")
    return parse_html_page(page.body, page.url)


def parse_json_page(body: bytes, base: str, where: str | None = None) -> list[IndexFile]:
    try:
        data = load_json(body)
    except ValueError as exc:
        raise RemoteFormatError(where or base, f"invalid JSON: {exc}") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise RemoteFormatError(where or base, 'a PEP 691 page needs a "files" list')
    return [_json_file(row, base, where or base) for row in files]


def _json_file(row: Any, base: str, where: str) -> IndexFile:
    if not isinstance(row, dict) or not isinstance(row.get("filename"), str):
        raise RemoteFormatError(where, f"a file entry without a filename: {str(row)[:80]}")
    if not isinstance(row.get("url"), str):
        raise RemoteFormatError(where, f"{row['filename']} has no url")
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
        # PEP 503: the link text is the file name; the URL's last segment is the fallback
        name = "".join(text).strip() or urllib.parse.unquote(absolute.rsplit("/", 1)[-1])
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


def _absolute(base: str, href: str) -> str:
    return urllib.parse.urldefrag(urllib.parse.urljoin(base, href))[0]


_LOCAL_SUFFIX = re.compile(r"\.cxx11\.abi$")


def variant_of_local(local: str | None) -> str:
    """The variant named by a wheel's local version: "cu126", "rocm6.2.4", "xpu"; "cpu" when
    there is none (macOS wheels carry no tag). The 2.5/2.6 ``cpu.cxx11.abi`` builds are the same
    variant as ``cpu`` for choosing an index URL."""
    return _LOCAL_SUFFIX.sub("", local) if local else "cpu"
