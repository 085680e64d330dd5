"""Serving OCSP fast without serving it stale: several processes and threads on one database, keep-alive.

The per-request lookups read the database on every request (no response is cached in a process), so a status
change made by any process is in the very next answer of every other one, from any thread of it.
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asn1crypto import ocsp, pem, x509
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.test_ocsp_service import Leaf, issue_leaf, ocsp_request, request_for, single
from trustsvc.ca.models import serial_hex
from trustsvc.ca.ocsp import cert_id_for
from trustsvc.ca.status_models import OcspResponseRecord
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


@pytest.fixture
def leaf(pki: TrustService) -> Leaf:
    return issue_leaf(pki)


def cert_status(der: bytes) -> str:
    return str(single(der)["cert_status"].name)


def test_a_response_presigned_by_another_process_is_served_until_that_process_revokes(
    pki: TrustService, leaf: Leaf, clock: FakeClock
) -> None:
    bystander = issue_leaf(pki, common_name="另一印章")
    other = TrustService.from_settings(pki.settings, clock=clock)  # another worker on the same database
    try:
        other.ocsp.presign(leaf.ca_name)
        with pki.session(read_only=True) as session, session.begin():
            presigned = session.execute(
                select(OcspResponseRecord.der).where(OcspResponseRecord.serial == serial_hex(leaf.serial))
            ).scalar_one()
        assert pki.ocsp.respond(request_for(leaf)).der == presigned  # served as stored, not signed again

        other.ca.revoke(leaf.ca_name, leaf.serial, "keyCompromise", actor="test")
        # No time passes: every answer path of this process sees the revocation at once.
        stored_path = pki.ocsp.respond(request_for(leaf))
        assert stored_path.der != presigned and cert_status(stored_path.der) == "revoked"
        assert cert_status(pki.ocsp.respond(request_for(leaf, nonce=b"0123456789abcdef")).der) == "revoked"
        both = ocsp_request(
            cert_id_for(leaf.certificate, leaf.issuer).der,
            cert_id_for(bystander.certificate, bystander.issuer).der,
        )
        responses = ocsp.OCSPResponse.load(pki.ocsp.respond(both).der).basic_ocsp_response
        statuses = [r["cert_status"].name for r in responses["tbs_response_data"]["responses"]]
        assert statuses == ["revoked", "good"]
        # ... and the response this process stored in place is what the other one now serves.
        assert other.ocsp.respond(request_for(leaf)).der == stored_path.der
    finally:
        other.close()


def test_threads_answering_see_a_revocation_by_another_process_from_their_next_request(
    pki: TrustService, leaf: Leaf, clock: FakeClock
) -> None:
    request = request_for(leaf)
    assert cert_status(pki.ocsp.respond(request).der) == "good"
    revoked = threading.Event()
    stop = threading.Event()
    late_answers: list[str] = []
    errors: list[BaseException] = []

    def answer() -> None:
        try:
            while not stop.is_set():
                after = revoked.is_set()  # set only once the revocation is committed
                status = cert_status(pki.ocsp.respond(request).der)
                if after:
                    late_answers.append(status)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=answer) for _ in range(4)]
    for thread in threads:
        thread.start()
    other = TrustService.from_settings(pki.settings, clock=clock)
    try:
        time.sleep(0.2)
        other.ca.revoke(leaf.ca_name, leaf.serial, "superseded", actor="test")
        revoked.set()
        deadline = time.monotonic() + 10
        while len(late_answers) < 20 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        other.close()
    assert not errors, errors
    assert len(late_answers) >= 20 and set(late_answers) == {"revoked"}


def test_serve_runs_sync_workers_unless_given_threads_then_gthread_with_keep_alive() -> None:
    from gunicorn.config import Config

    from trustsvc.cli import SERVE_THREADS, _gunicorn_options

    assert SERVE_THREADS == 1
    for threads, worker in ((1, "SyncWorker"), (4, "ThreadWorker")):
        options = _gunicorn_options(bind="127.0.0.1:8080", workers=3, threads=threads)
        config = Config()
        for key, value in options.items():
            config.set(key, value)
        assert config.workers == 3 and config.threads == threads
        assert config.worker_class.__name__ == worker
        assert config.keepalive > 0
    assert _gunicorn_options(bind="127.0.0.1:8080", workers=2)["worker_class"] == "sync"


def _trustsvc() -> list[str]:
    script = Path(sys.executable).with_name("trustsvc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trustsvc.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_with_threads_answers_ocsp_gets_on_one_kept_alive_connection(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTSVC_")} | {
        "TRUSTSVC_HOME": str(tmp_path / "home"),
        "TRUSTSVC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }

    def cli(*args: str) -> None:
        result = subprocess.run([*_trustsvc(), *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    cli("init", "--algorithm", "ecdsa-p256")
    cli("ca", "export", "--ca", "ecdsa-issuing", "--pem", "--out", str(tmp_path / "issuing.pem"))
    cli("ca", "issue", "--ca", "ecdsa-issuing", "--profile", "seal-signer", "--generate-key", "ecdsa-p256",
        "--subject-cn", "保活", "--subject-o", "某市市场监督管理局", "--subject-uscc", "11330105002500287C",
        "--out", str(tmp_path / "leaf.pem"))  # fmt: skip
    leaf, issuer = (
        x509.Certificate.load(pem.unarmor((tmp_path / name).read_bytes())[2])
        for name in ("leaf.pem", "issuing.pem")
    )
    path = "/ocsp/" + base64.b64encode(ocsp_request(cert_id_for(leaf, issuer).der)).decode()

    server = subprocess.Popen(
        [*_trustsvc(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "trustsvc serve did not start"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            sockets = []
            for _ in range(3):
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and cert_status(body) == "good"
                assert response.getheader("Connection", "").lower() != "close"
                sockets.append(connection.sock)
            assert sockets[0] is not None and all(s is sockets[0] for s in sockets)  # one TCP connection
        finally:
            connection.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
