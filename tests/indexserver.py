"""A local package index for the `db update` tests: recorded PyPI pages, synthetic wheels.

``IndexServer`` is a real HTTP server (http.server in a thread) that answers ``Range: bytes=a-b``,
``bytes=a-`` and ``bytes=-n`` with 206 and counts the bytes it sends per path, so tests can bound
what a wheel read costs (a body the client hangs up on counts whole). ``PypiWorld`` loads the
pages recorded from pypi.org in fixtures/indexes/ (their file URLs rewritten to the server) and
puts a small real zip at each wheel URL: METADATA, torch/version.py and (2.13.0 Linux x86_64)
torch/cuda/__init__.py as recorded from the real wheels, a few MB of incompressible filler, and a
torch/lib/libtorch_python.so whose filler carries the arch string.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import random
import socket
import threading
import urllib.parse
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "indexes"
RECORDED = FIXTURES / "wheels"
PYPI_FILES = "https://files.pythonhosted.org"
# The CUDA_ARCH_FLAGS strings of the real PyPI wheels (read with `db update` on 2026-11-23).
ARCHS = {
    "1.13.1": "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86",
    "2.13.0": "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120",
}
FILLER = 3 << 20  # the incompressible member before the library: never to be read


def _sm(*codes: int) -> list[str]:
    return [f"sm_{c}" for c in codes]


# PYTORCH_RELEASES_CODE_CC of the recorded wheels/*.cuda_init.py as db update records it
_X86_2_13, _ARM_2_13 = _sm(75, 80, 86, 90, 100, 120), _sm(80, 90, 100, 110, 120)
CODE_CC = {
    "2.11.0": {
        "12.6": {"linux_x86_64": _sm(50, 60, 70, 80, 86, 90)},
        "12.8": {"linux_x86_64": _sm(70, 80, 86, 90, 100, 120)},
        "13.0": {"linux_x86_64": _sm(75, 80, 86, 90, 100, 110, 120)},
    },
    "2.12.1": {
        "12.6": {"linux_x86_64": _sm(50, 60, 70, 75, 80, 86, 90)},
        "13.0": {"linux_x86_64": _sm(75, 80, 86, 90, 100, 110, 120)},
        "13.2": {"linux_x86_64": _sm(75, 80, 86, 90, 100, 110, 120)},
    },
    "2.13.0": {
        "12.6": {"linux_x86_64": _sm(50, 60, 70, 75, 80, 86, 90), "linux_aarch64": _sm(80, 90)},
        "12.9": {"linux_x86_64": _X86_2_13, "linux_aarch64": _sm(80, 90, 100, 120)},
        "13.0": {"linux_x86_64": _X86_2_13, "linux_aarch64": _ARM_2_13},
        "13.2": {"linux_x86_64": _X86_2_13, "linux_aarch64": _ARM_2_13},
    },
}


@dataclass
class IndexServer:
    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    served: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    ranges: bool = True  # False: answer every request with the whole file, as some servers do
    url: str = ""
    authorized: list[str] = field(default_factory=list)  # paths asked with an Authorization
    redirects: dict[str, str] = field(default_factory=dict)  # path -> where a 302 sends it

    def add(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.routes[path] = (body, content_type)

    def bytes_for(self, suffix: str) -> int:
        return sum(n for path, n in self.served.items() if path.endswith(suffix))

    def wheel_bytes(self) -> int:
        return sum(n for path, n in self.served.items() if ".whl" in path)


def _handler(server: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            header = self.headers.get("Range")
            server.requests.append((path, header))
            if self.headers.get("Authorization"):
                server.authorized.append(path)
            if path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path not in server.routes:
                self.send_error(404)
                return
            body, kind = server.routes[path]
            status, start, end = 200, 0, len(body)
            if header and server.ranges:
                first, _, last = header.removeprefix("bytes=").partition("-")
                if not first:
                    start = max(0, len(body) - int(last))
                else:
                    start = int(first)
                    end = min(len(body), int(last) + 1) if last else len(body)
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(end - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
            self.end_headers()
            # counted before the write: once the last byte is sent the client may finish and the
            # test read ``served`` before this thread runs again (a race that failed 3 runs in 10)
            server.served[path] += end - start
            # the client may stop reading: a 200 to a range request it refused
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body[start:end])

    return Handler


@contextmanager
def serve(server: IndexServer | None = None) -> Iterator[IndexServer]:
    server = server or IndexServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    """A URL on a local port where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- wheels
def incompressible(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311  (filler: reproducible, not secret)


def build_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def recorded(filename: str, suffix: str) -> bytes | None:
    path = RECORDED / f"{filename}{suffix}"
    return path.read_bytes() if path.exists() else None


@functools.cache
def torch_wheel(filename: str) -> bytes:
    """A torch wheel: recorded version.py and METADATA where the real wheel was read, filler,
    and (Linux x86_64) a library with the arch string after 1 MB of incompressible bytes."""
    version = filename.split("-")[1]
    version_py = recorded(filename, ".version.py") or f"__version__ = '{version}+cpu'\n".encode()
    metadata = recorded(filename, ".METADATA") or (
        f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n".encode()
    )
    members = [("torch/__init__.py", b""), ("torch/version.py", version_py)]
    cuda_init = recorded(filename, ".cuda_init.py")  # PYTORCH_RELEASES_CODE_CC (2.11 on)
    if cuda_init is not None:
        members.append(("torch/cuda/__init__.py", cuda_init))
    if "x86_64" in filename and "linux" in filename:
        library = incompressible(1 << 20, 1) + b"\0" + ARCHS[version].encode() + b"\0"
        library += incompressible(2 << 20, 2)  # the scan must stop before this
        members += [
            ("torch/lib/libtorch_cuda.so", incompressible(FILLER, 3)),
            ("torch/lib/libtorch_python.so", library),
        ]
    members.append((f"torch-{version}.dist-info/METADATA", metadata))
    return build_zip(members)


def small_wheel(filename: str) -> bytes:
    name, version = filename.split("-")[:2]
    metadata = recorded(filename, ".METADATA") or (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    return build_zip(
        [(f"{name}/__init__.py", b""), (f"{name}-{version}.dist-info/METADATA", metadata)]
    )


JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# the PEP 658 files pypi.org serves for these (others answer 404 there too; recorded 2026-11-23)
PEP658 = {
    "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "cuda_toolkit-13.0.3.0-py2.py3-none-any.whl",
}


def add_pypi(server: IndexServer, *, html_torch: bool = False, prefix: str = "/simple") -> str:
    """The recorded PyPI pages under ``prefix`` and a wheel at every file URL; the index URL."""
    for project in ("torch", "torchvision", "torchaudio", "cuda-toolkit"):
        text = (FIXTURES / f"pypi-{project}.json").read_text().replace(PYPI_FILES, server.url)
        page = json.loads(text)
        for row in page["files"]:
            path = urllib.parse.urlsplit(row["url"]).path
            filename = row["filename"]
            body = torch_wheel(filename) if project == "torch" else small_wheel(filename)
            server.add(path, body)
            metadata = recorded(filename, ".METADATA")
            if filename in PEP658 and metadata is not None:
                server.add(path + ".metadata", metadata)
        server.add(f"{prefix}/{project}/", text.encode(), JSON_TYPE)
    if html_torch:
        html = (FIXTURES / "pypi-torch.html").read_text().replace(PYPI_FILES, server.url)
        server.add(f"{prefix}/torch/", html.encode(), "text/html")
    return server.url + prefix


def add_pytorch_index(server: IndexServer) -> str:
    """The download.pytorch.org-style page and, for the CUDA variants, a wheel per link."""
    page = (FIXTURES / "pytorch-torch.html").read_text()
    server.add("/whl/torch/", page.encode(), "text/html")
    for href in (line.split('"')[1] for line in page.splitlines() if "<a href" in line):
        path = urllib.parse.unquote(href.split("#")[0])
        filename = path.rsplit("/", 1)[-1]
        if "x86_64" in filename and "+cu" in filename:
            server.add(path, variant_wheel(filename))
    return server.url + "/whl"


@functools.cache
def variant_wheel(filename: str) -> bytes:
    version, variant = filename.split("-")[1].split("+")
    archs = {"cu126": "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90 compute_90"}.get(
        variant, ARCHS.get(version, "sm_50 sm_60")
    )
    library = incompressible(1 << 16, 4) + b"\0" + archs.encode() + b"\0"
    version_py = f"__version__ = '{version}+{variant}'\n".encode()
    return build_zip([("torch/version.py", version_py), ("torch/lib/libtorch_python.so", library)])


def pep503_tree(root: Path) -> str:
    """A file:// mirror: simple/<project>/index.html with relative links to ../../files/."""
    files = root / "files"
    files.mkdir(parents=True)
    for project in ("torch", "torchvision", "torchaudio", "cuda-toolkit"):
        page = json.loads((FIXTURES / f"pypi-{project}.json").read_text())
        links = []
        for row in page["files"]:
            name = row["filename"]
            body = torch_wheel(name) if project == "torch" else small_wheel(name)
            (files / name).write_bytes(body)
            links.append(f'<a href="../../files/{name}#sha256=0">{name}</a><br/>')
        directory = root / "simple" / project
        directory.mkdir(parents=True)
        html = "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        (directory / "index.html").write_text(html)
    return (root / "simple").as_uri()
