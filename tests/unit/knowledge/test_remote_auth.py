"""Credentials of a mirror given in its URL: sent to the mirror as HTTP basic authentication,
and to nobody else (urllib carries ordinary headers over a redirect to any host)."""

from __future__ import annotations

import base64

from indexserver import serve
from torchenv.knowledge.remote import Remote


def test_credentials_go_to_the_mirror_only() -> None:
    with serve() as mirror, serve() as cdn:
        cdn.add("/files/torch.html", b"<html></html>", "text/html")
        mirror.redirects["/simple/torch/"] = f"{cdn.url}/files/torch.html"
        url = mirror.url.replace("http://", "http://alice:S3CRET@", 1) + "/simple/torch/"
        page = Remote(retries=0).get(url)
        assert page.body == b"<html></html>"
        assert mirror.authorized == ["/simple/torch/"]  # the mirror got them
        assert cdn.authorized == []  # the host it redirected to did not
        assert cdn.requests == [("/files/torch.html", None)]


def test_the_header_is_basic_authentication_of_the_url_parts() -> None:
    remote = Remote()
    assert remote._take_credentials("https://al%40ice:p%3Ass@host:81/simple") == (
        "https://host:81/simple"
    )
    token = base64.b64encode(b"al@ice:p:ss").decode()
    assert remote.auth == {"host:81": f"Basic {token}"}
