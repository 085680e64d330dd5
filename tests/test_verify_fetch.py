"""The status fetcher really goes over HTTP: a tiny http.server on 127.0.0.1 sees the requests.

``HttpFetcher`` (trustsvc/verify/status.py) GETs CRLs and seal-status answers and POSTs OCSP requests; its
limits come from the settings (``TRUSTSVC_FETCH_TIMEOUT``, ``TRUSTSVC_FETCH_MAX_BYTES``) through
``TrustService.fetcher``, which ``service.verifier`` (so ``trustsvc verify`` and ``POST /api/v1/verify``)
uses. Every failure is StatusUnavailable (the engine's INDETERMINATE / TRY_LATER), never a crash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import x509

from tests.conftest import FakeClock
from trustsvc.config import DEFAULT_FETCH_TIMEOUT, Settings
from trustsvc.service import TrustService
from trustsvc.verify.status import HttpFetcher, StatusUnavailable

Request = tuple[str, str, str | None, bytes]  # method, path, Content-Type, body
Served = tuple[str, list[Request]]  # base URL, the requests seen


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None, bytes]]

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def _answer(self, body: bytes) -> None:
        path = self.path
        if path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(1024 * 1024))
            self.end_headers()
            for _ in range(30):  # a drip: 30 small chunks, 0.1 s apart
                self.wfile.write(b"x" * 1024)
                self.wfile.flush()
                time.sleep(0.1)
            return
        if path == "/big":
            payload = b"y" * 5000
        elif path == "/redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif path == "/redirect-ok":
            self.send_response(302)
            self.send_header("Location", "/answer")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif path == "/missing":
            self.send_error(404)
            return
        else:
            payload = b"answer:" + body
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, self.headers.get("Content-Type"), b""))
        self._answer(b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(("POST", self.path, self.headers.get("Content-Type"), body))
        self._answer(body)


@pytest.fixture
def local_server() -> Iterator[Served]:
    """An HTTP server on a free loopback port, in a thread; yields its base URL and the requests it saw."""
    seen: list[tuple[str, str, str | None, bytes]] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_get_and_post_reach_the_server(local_server: Served) -> None:
    base, seen = local_server
    fetch = HttpFetcher(timeout=5)
    assert fetch(f"{base}/crl/a.crl") == b"answer:"
    assert fetch(f"{base}/ocsp", b"\x30\x00", "application/ocsp-request") == b"answer:\x30\x00"
    assert fetch(f"{base}/redirect-ok") == b"answer:"
    assert seen == [
        ("GET", "/crl/a.crl", None, b""),
        ("POST", "/ocsp", "application/ocsp-request", b"\x30\x00"),
        ("GET", "/redirect-ok", None, b""),
        ("GET", "/answer", None, b""),
    ]


def test_failures_are_status_unavailable(local_server: Served) -> None:
    base, _ = local_server
    with pytest.raises(StatusUnavailable, match="larger than 1000 bytes"):
        HttpFetcher(timeout=5, max_bytes=1000)(f"{base}/big")
    with pytest.raises(StatusUnavailable, match="HTTP 404"):
        HttpFetcher(timeout=5)(f"{base}/missing")
    with pytest.raises(StatusUnavailable, match=r"not allowed|non-HTTP"):
        HttpFetcher(timeout=5)(f"{base}/redirect-file")
    with pytest.raises(StatusUnavailable, match="not an http"):
        HttpFetcher(timeout=5)("file:///etc/passwd")
    # the time limit is for the whole answer, not per read: a drip of small chunks is cut off
    started = time.monotonic()
    with pytest.raises(StatusUnavailable, match="within 1 s"):
        HttpFetcher(timeout=1)(f"{base}/slow")
    assert time.monotonic() - started < 2.5
    # nobody listening
    with pytest.raises(StatusUnavailable):
        HttpFetcher(timeout=2)(f"http://127.0.0.1:{_closed_port()}/x")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_settings_give_the_limits(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    default = Settings.from_env({"TRUSTSVC_HOME": home})
    assert (default.fetch_timeout, default.fetch_max_bytes) == (DEFAULT_FETCH_TIMEOUT, 4 * 1024 * 1024)
    assert DEFAULT_FETCH_TIMEOUT == 10
    tuned = Settings.from_env(
        {"TRUSTSVC_HOME": home, "TRUSTSVC_FETCH_TIMEOUT": "3", "TRUSTSVC_FETCH_MAX_BYTES": "65536"}
    )
    assert (tuned.fetch_timeout, tuned.fetch_max_bytes) == (3, 65536)
    from trustsvc.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        Settings.from_env({"TRUSTSVC_HOME": home, "TRUSTSVC_FETCH_TIMEOUT": "0"})


def test_the_service_verifier_asks_over_http(
    service: TrustService,
    clock: FakeClock,
    local_server: Served,
) -> None:
    """``service.verifier`` resolves others' status with ``service.fetcher``: an HttpFetcher from settings."""
    base, seen = local_server
    fetcher = service.fetcher
    assert isinstance(fetcher, HttpFetcher)
    settings = service.settings
    assert (fetcher.timeout, fetcher.max_bytes) == (settings.fetch_timeout, settings.fetch_max_bytes)

    # a certificate of somebody else's CA (here: ours, asked as if remote) whose OCSP lives at the server
    service.ca.init_pki("sm2", actor="test")
    issuing = x509.Certificate.load(service.ca.ca("sm2-issuing").certificate_der)
    root = x509.Certificate.load(service.ca.ca("sm2-root").certificate_der)
    remote = service.verifier._remote  # the resolver the engine asks for others' status
    with pytest.raises(StatusUnavailable, match="not an OCSP response"):
        remote.certificate_status(issuing, root, ocsp_urls=(f"{base}/ocsp",))
    method, path, content_type, body = seen[-1]
    assert (method, path, content_type) == ("POST", "/ocsp", "application/ocsp-request")
    assert body.startswith(b"\x30")  # a DER OCSPRequest

    # a fetcher set on the service is the one the (re-built) verifier uses
    calls: list[str] = []

    def fake(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        calls.append(url)
        raise StatusUnavailable(f"{url}: refused")

    service.fetcher = fake
    with pytest.raises(StatusUnavailable):
        service.verifier._remote.certificate_status(
            issuing, root, ocsp_urls=("http://province-a.example/ocsp",)
        )
    assert calls[0] == "http://province-a.example/ocsp"  # then the CRL the certificate names
