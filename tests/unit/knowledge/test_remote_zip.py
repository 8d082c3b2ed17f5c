"""The HTTP/file gateway, remote zip reads by byte ranges, and index page parsing."""

from __future__ import annotations

import json
import urllib.request
import zipfile
from pathlib import Path
from typing import NoReturn

import pytest

from indexserver import (
    ARCHS,
    FILLER,
    FIXTURES,
    IndexServer,
    build_zip,
    closed_port_url,
    incompressible,
    serve,
    torch_wheel,
)
from torchenv.errors import ExitCode
from torchenv.knowledge.indexes import ACCEPT, parse_html_page, parse_json_page, parse_page
from torchenv.knowledge.remote import (
    NotFound,
    Page,
    Remote,
    RemoteError,
    RemoteFormatError,
    url_problem,
)
from torchenv.knowledge.wheelzip import RemoteZip, scan_arch_flags
from torchenv.models.archs import find_arch_flags

X86 = "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"


@pytest.fixture
def server() -> IndexServer:
    with serve() as running:
        yield running


# --------------------------------------------------------------------------- gateway
def test_ranges_tail_and_user_agent(server: IndexServer) -> None:
    server.add("/f.bin", bytes(range(256)) * 4)
    remote = Remote(retries=0)
    assert remote.read_range(server.url + "/f.bin", 10, 5) == bytes(range(10, 15))
    tail, size = remote.read_tail(server.url + "/f.bin", 3)
    assert (tail, size) == (bytes([253, 254, 255]), 1024)
    assert server.requests == [("/f.bin", "bytes=10-14"), ("/f.bin", "bytes=-3")]
    assert remote.stats.bytes == 8 and remote.stats.requests == 2
    assert remote.user_agent.startswith("torchenv/")


def test_missing_file_and_refused_connection(server: IndexServer) -> None:
    remote = Remote(retries=1, backoff=0.01)
    with pytest.raises(NotFound):
        remote.get(server.url + "/nothing/")
    dead = closed_port_url() + "/simple/torch/"
    with pytest.raises(RemoteError) as caught:
        remote.get(dead)
    assert caught.value.exit_code == ExitCode.EXTERNAL
    assert dead in caught.value.message and "refused" in caught.value.message.lower()
    assert remote.stats.requests == 3  # the 404 once, the refused connection twice (one retry)


def test_a_server_without_ranges_is_refused_before_the_download(server: IndexServer) -> None:
    server.ranges = False
    server.add("/big.whl", incompressible(1 << 20, 9))
    server.add("/small.whl", b"tiny")
    remote = Remote(retries=0)
    with pytest.raises(RemoteError, match="ignores HTTP range requests"):
        remote.read_tail(server.url + "/big.whl", 1000)
    assert remote.stats.bytes == 0
    assert remote.read_range(server.url + "/small.whl", 1, 2) == b"in"  # whole small file: fine


def test_file_urls_read_like_http(tmp_path: Path) -> None:
    path = tmp_path / "a b.bin"
    path.write_bytes(b"0123456789")
    remote = Remote()
    assert remote.read_range(path.as_uri(), 2, 3) == b"234"
    assert remote.read_tail(path.as_uri(), 4) == (b"6789", 10)
    (tmp_path / "simple").mkdir()
    (tmp_path / "simple" / "index.html").write_text("<html></html>")
    page = remote.get((tmp_path / "simple").as_uri() + "/")
    assert page.content_type == "text/html" and page.url.endswith("/simple/index.html")
    with pytest.raises(NotFound):
        remote.get((tmp_path / "missing").as_uri())


# --------------------------------------------------------------------------- zip
def test_member_reads_never_fetch_the_filler(server: IndexServer) -> None:
    wheel = torch_wheel(X86)
    server.add("/t.whl", wheel)
    remote = Remote(retries=0)
    archive = RemoteZip(remote, server.url + "/t.whl")
    assert "torch/lib/libtorch_cuda.so" in archive.members
    assert b"'2.13.0+cu130'" in archive.read("torch/version.py")
    pieces = archive.stream("torch/lib/libtorch_python.so", first=1 << 16, largest=1 << 18)
    assert scan_arch_flags(pieces) == tuple(ARCHS["2.13.0"].split())
    library = archive.members["torch/lib/libtorch_python.so"]
    served = server.served["/t.whl"]
    assert served == remote.stats.bytes
    # the tail, the directory, two local headers, version.py, and the library up to the string
    assert served < 65_600 + 4_000 + (1 << 20) + (1 << 18)
    assert served < library.compressed < len(wheel) - FILLER


def test_small_zip_comes_with_the_tail_and_stored_members(server: IndexServer) -> None:
    server.add("/a.zip", build_zip([("a.txt", b"hello")]))
    server.add("/b.zip", build_zip([("b.bin", b"raw bytes")], zipfile.ZIP_STORED))
    remote = Remote(retries=0)
    assert RemoteZip(remote, server.url + "/a.zip").read("a.txt") == b"hello"
    assert remote.stats.requests == 2  # the tail held the directory
    assert RemoteZip(remote, server.url + "/b.zip").read("b.bin") == b"raw bytes"


def test_zip64_records(server: IndexServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Python writes the zip64 end records and extra fields past these limits; lowering them
    # gives a small file with every zip64 structure (APPNOTE 4.3.14, 4.3.15, 4.5.3)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    data = build_zip([("one.txt", b"1" * 300), ("two/version.py", b"__version__ = '9'\n")])
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    server.add("/z.whl", data)
    archive = RemoteZip(Remote(retries=0), server.url + "/z.whl")
    assert archive.read("two/version.py") == b"__version__ = '9'\n"
    assert archive.read("one.txt") == b"1" * 300


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda z: incompressible(70_000, 5), "no end-of-central-directory record"),
        (lambda z: z[:-10], "no end-of-central-directory record"),
        (
            lambda z: z[: z.rfind(b"PK\x01\x02")] + b"XX" + z[z.rfind(b"PK\x01\x02") + 2 :],
            "damaged",
        ),
        (lambda z: z[200:], "past the file end"),
    ],
    ids=["not-a-zip", "truncated-eocd", "bad-directory-entry", "cut-at-the-front"],
)
def test_damaged_zips_give_a_clear_error(server: IndexServer, damage: object, message: str) -> None:
    data = build_zip([("torch/version.py", b"x = 1\n" * 50), ("b", b"2")])
    server.add("/bad.whl", damage(data))  # type: ignore[operator]
    with pytest.raises(RemoteFormatError, match=message) as caught:
        RemoteZip(Remote(retries=0), server.url + "/bad.whl")
    assert caught.value.exit_code == ExitCode.EXTERNAL
    assert "/bad.whl" in caught.value.message


def test_a_member_that_does_not_inflate(server: IndexServer) -> None:
    data = bytearray(build_zip([("torch/version.py", b"__version__ = '1.0'\n" * 40)]))
    start = data.find(b"torch/version.py") + len("torch/version.py")
    data[start : start + 8] = b"\xff" * 8
    server.add("/inflate.whl", bytes(data))
    archive = RemoteZip(Remote(retries=0), server.url + "/inflate.whl")
    with pytest.raises(RemoteFormatError, match="inflate"):
        archive.read("torch/version.py")
    with pytest.raises(RemoteFormatError, match=r"has no torch/missing\.py"):
        archive.read("torch/missing.py")


# --------------------------------------------------------------------------- arch flags
def test_arch_flags_across_piece_boundaries() -> None:
    text = b"\0" + b"x" * 1000 + b"sm_50 sm_60 sm_70 compute_70\0" + b"y" * 100
    for cut in (1001, 1005, 1010, 1020, 1030):
        pieces = iter([text[:cut], text[cut:]])
        assert scan_arch_flags(pieces) == ("sm_50", "sm_60", "sm_70", "compute_70"), cut
    assert scan_arch_flags(iter([b"abc sm_80 sm_90"])) == ("sm_80", "sm_90")  # at the very end
    assert scan_arch_flags(iter([b"no flags", b" here sm_80"])) == ()


def test_scan_stops_reading_once_the_string_is_complete() -> None:
    taken = []

    def pieces():
        for piece in (b"..sm_80 sm_9", b"0 sm_100.", b"never"):
            taken.append(piece)
            yield piece

    assert scan_arch_flags(pieces()) == ("sm_80", "sm_90", "sm_100")
    assert taken[-1] == b"0 sm_100."


def test_find_arch_flags_takes_the_longest_string() -> None:
    data = b"sm_80 sm_90\0junk\0sm_75 sm_80 sm_86 sm_90 compute_90\0"
    assert find_arch_flags(data) == ("sm_75", "sm_80", "sm_86", "sm_90", "compute_90")
    assert find_arch_flags(b"cpu only") == ()


# --------------------------------------------------------------------------- index pages
def test_recorded_json_page() -> None:
    body = (FIXTURES / "pypi-torch.json").read_bytes()
    files = parse_json_page(body, "https://pypi.org/simple/torch/")
    first = next(f for f in files if f.filename == X86)
    assert first.upload_time == "2026-07-08T16:04:07.075940Z"
    assert first.requires_python == ">=3.10" and first.yanked is False
    assert first.url.startswith("https://files.pythonhosted.org/packages/")
    assert first.core_metadata is None  # the recorded page does not say


def test_recorded_html_page_and_pep_attributes() -> None:
    body = (FIXTURES / "pypi-torch.html").read_bytes()
    files = parse_html_page(body, "https://pypi.org/simple/torch/")
    assert len(files) == 11
    assert {f.requires_python for f in files} == {">=3.7.0", ">=3.10"}
    assert all(f.upload_time is None and "#" not in f.url for f in files)
    page = (
        b'<html><body><a href="../../f/x-1.0-py3-none-any.whl#sha256=0" data-yanked=""'
        b' data-core-metadata="sha256=1">x-1.0-py3-none-any.whl</a>'
        b'<a href="y-1.0.tar.gz" data-dist-info-metadata="false">y-1.0.tar.gz</a></body></html>'
    )
    x, y = parse_page(Page(page, "text/html", "file:///m/simple/x/index.html"))
    assert x.url == "file:///m/f/x-1.0-py3-none-any.whl" and x.yanked and x.core_metadata
    assert y.url == "file:///m/simple/x/y-1.0.tar.gz" and not y.yanked
    assert y.core_metadata is False and str(y.version) == "1.0"


def test_json_yanked_reason_and_relative_urls() -> None:
    body = json.dumps(
        {"files": [{"filename": "x-1.0.tar.gz", "url": "../x-1.0.tar.gz", "yanked": "broken"}]}
    ).encode()
    (file,) = parse_page(Page(body, "application/vnd.pypi.simple.v1+json", "https://h/s/x/"))
    assert file.yanked is True and file.url == "https://h/s/x-1.0.tar.gz"
    assert "application/vnd.pypi.simple.v1+json" in ACCEPT


@pytest.mark.parametrize("body", [b"{not json", b'{"name": "torch"}', b"plain text, not an index"])
def test_malformed_pages(body: bytes) -> None:
    with pytest.raises(RemoteFormatError) as caught:
        parse_page(Page(body, "", "https://h/simple/torch/"))
    assert "https://h/simple/torch/" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/simple/torch/",
        "http://☃.invalid/simple/torch/",
        "http://h:99999/",
        "gopher://h/",
    ],
)
def test_malformed_urls_are_remote_errors_before_any_request(url: str) -> None:
    # a URL from an index page: "cannot be read" (exit 4), never a ValueError traceback
    remote = Remote(retries=0)
    with pytest.raises(RemoteError) as caught:
        remote.get(url)
    assert caught.value.exit_code == ExitCode.EXTERNAL and url in caught.value.message
    assert remote.stats.requests == 0


def test_a_url_urllib_refuses_late_is_a_remote_error() -> None:
    class Refusing(urllib.request.OpenerDirector):
        def open(self, *args: object, **kwargs: object) -> NoReturn:
            # what http.client raises for a non-ASCII request line
            raise UnicodeEncodeError("ascii", "/\u2603", 1, 2, "ordinal not in range(128)")

    remote = Remote(retries=2, opener=Refusing())
    with pytest.raises(RemoteError, match="not a valid URL: UnicodeEncodeError: 'ascii' codec"):
        remote.read_range("http://example.invalid/x.whl", 0, 10)
    assert remote.stats.requests == 1  # not retried


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://pypi.org/simple", None),
        ("http://[::1]:8080/simple", None),
        ("FILE:///srv/simple", None),
        ("file://localhost/srv/simple", None),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://xn--n3h.invalid/", None),
        ("http://☃.invalid/", "non-ASCII characters"),
        ("http://host/\x7f", "spaces or control characters"),
        ("file:", "no path"),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert found == problem if problem is None else (found or "").startswith(problem)


def test_an_http_page_cannot_point_into_the_local_filesystem() -> None:
    body = b'<a href="file:///etc/passwd#x">torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl</a>'
    files = parse_html_page(body, "https://mirror.example/simple/torch/")
    assert all(not f.url.startswith("file:") for f in files)
    assert all(f.url.startswith("https://mirror.example/") for f in files)
    local = parse_html_page(body, "file:///srv/simple/torch/")
    assert all(f.url.startswith("file:") for f in local)  # a local index may link locally
