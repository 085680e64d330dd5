"""The running service (``trustsvc serve``: gunicorn, two workers) against independent clients.

A fresh home is made with ``trustsvc init --algorithm ecdsa-p256`` and served on a free loopback port; its
public base URL is that port, so the OCSP and CRL URLs in its certificates point at the running service.
Leaves are issued and revoked with the ``trustsvc`` command line against the same home while it runs.

* ``openssl ocsp -url http://127.0.0.1:PORT/ocsp`` (ECDSA) says ``good``, then ``revoked`` after
  ``trustsvc ca revoke`` — with and without nonce, so both the signed-on-demand and the pre-signed paths
  are seen to follow the revocation; an RFC 5019 GET fetched here is verified by ``openssl ocsp -respin``.
* ``openssl ts -verify`` accepts an ECDSA token from ``POST /tsa/ecdsa`` for its data; an SM2 token from
  ``POST /tsa`` is validated by pyHanko with our SM2 plug-in (signature, TSA chain, revocation from the
  live OCSP and CRLs) and its signature by ``openssl dgst -sm3 -sigopt distid:...`` over the signed
  attributes (OpenSSL 3.0's ``ts -verify`` cannot pass an SM2 distinguishing ID).
* An SM2 OCSP response from the live service is accepted by pyhanko-certvalidator through
  ``sm2_validation_context`` (good) and reports the certificate revoked after revocation.
* Garbage and truncated requests get ``malformedRequest`` and a ``badDataFormat`` rejection, read by openssl.

The server always stops (process group terminated in ``finally``); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms, crl, pem, tsp, x509
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import RevokedError

from tests.test_ocsp_service import ocsp_request
from tests.tools import DISTID, OpenSSL
from trustsvc.ca.ocsp import cert_id_for
from trustsvc.config import Settings
from trustsvc.keys.sm3 import sm3
from trustsvc.pdf.sm2_validation import sm2_validation_context

pytestmark = [pytest.mark.interop, pytest.mark.slow]

DATA = "某市市场监督管理局\n营业执照 91110000600037341L\n".encode()
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 20.0
SUBJECT = ("--subject-o", "某市市场监督管理局", "--subject-uscc", "11330105002500287C")


def _trustsvc_command() -> list[str]:
    script = Path(sys.executable).with_name("trustsvc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trustsvc.cli"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    """A running ``trustsvc serve`` and the openssl working directory with its certificates."""

    base_url: str
    env: dict[str, str]
    openssl: OpenSSL

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*_trustsvc_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"trustsvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.base_url + path, data=body, headers={"Content-Type": content_type}, method="POST"
        )
        return self._open(request)

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self._open(urllib.request.Request(self.base_url + path))

    def _open(self, request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def export_ca(self, name: str, filename: str) -> x509.Certificate:
        self.cli("ca", "export", "--ca", name, "--pem", "--out", str(self.openssl.workdir / filename))
        _, _, der = pem.unarmor((self.openssl.workdir / filename).read_bytes())
        return x509.Certificate.load(der)

    def issue(self, hierarchy: str, filename: str, common_name: str) -> tuple[str, x509.Certificate]:
        algorithm = "sm2" if hierarchy == "sm2" else "ecdsa-p256"
        out = self.openssl.workdir / filename
        serial = self.cli(
            "ca", "issue", "--ca", f"{hierarchy}-issuing", "--profile", "seal-signer",
            "--generate-key", algorithm, "--subject-cn", common_name, *SUBJECT, "--out", str(out),
        ).strip()  # fmt: skip
        _, _, der = pem.unarmor(out.read_bytes())
        return serial, x509.Certificate.load(der)


@pytest.fixture
def live(settings: Settings, openssl: OpenSSL, tmp_path: Path) -> Iterator[Live]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRUSTSVC_")} | {
        "TRUSTSVC_HOME": str(settings.home),
        "TRUSTSVC_DATABASE_URL": settings.database_url,
        "TRUSTSVC_PUBLIC_BASE_URL": base_url,
    }
    service = Live(base_url, env, openssl)
    service.cli("init", "--algorithm", "ecdsa-p256")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_trustsvc_command(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's workers stop with it
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"trustsvc serve exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(base_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"trustsvc serve did not answer within {START_TIMEOUT} s:\n{log_path.read_text()}"
                )
            time.sleep(0.2)
        yield service
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass


def _ocsp_cli(live: Live, *extra: str) -> subprocess.CompletedProcess[str]:
    return live.openssl.run(
        "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-CAfile", "root.pem",
        "-url", f"{live.base_url}/ocsp", "-timeout", "20", *extra,
    )  # fmt: skip


def _status_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Response verify OK" in result.stderr, result.stdout + result.stderr
    found = re.search(r"^leaf\.pem: (\w+)$", result.stdout, re.MULTILINE)
    assert found, result.stdout + result.stderr
    return found.group(1)


# --- OCSP, ECDSA: openssl ------------------------------------------------------------------------


def test_openssl_ocsp_says_good_then_revoked_after_revocation(live: Live) -> None:
    live.export_ca("ecdsa-root", "root.pem")
    live.export_ca("ecdsa-issuing", "issuing.pem")
    serial, _ = live.issue("ecdsa", "leaf.pem", "印章签名 ECDSA")

    assert _status_line(_ocsp_cli(live)) == "good"  # with openssl's nonce: signed on demand
    assert _status_line(_ocsp_cli(live, "-no_nonce")) == "good"  # pre-signed, now stored
    assert _status_line(_ocsp_cli(live, "-no_nonce")) == "good"  # served from the store

    # RFC 5019 GET of the same (nonce-less) request: cacheable, and openssl verifies the response
    live.openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der")
    encoded = base64.b64encode(live.openssl.workdir.joinpath("req.der").read_bytes()).decode()
    status, headers, body = live.get("/ocsp/" + encoded)
    assert status == 200 and headers["Content-Type"] == "application/ocsp-response"
    assert re.fullmatch(r"max-age=\d+, public, no-transform, must-revalidate", headers["Cache-Control"])
    assert headers["ETag"] and headers["Last-Modified"] and headers["Expires"]
    live.openssl.write("get.der", body)
    fetched = live.openssl.ok("ocsp", "-respin", "get.der", "-issuer", "issuing.pem", "-cert", "leaf.pem",
                              "-CAfile", "root.pem", "-no_nonce")  # fmt: skip
    assert _status_line(fetched) == "good"

    live.cli("ca", "revoke", "--ca", "ecdsa-issuing", serial, "--reason", "keyCompromise")

    revoked = _ocsp_cli(live, "-no_nonce")  # the stored "good" must not be served any more
    assert _status_line(revoked) == "revoked"
    assert "Reason: keyCompromise" in revoked.stdout
    assert _status_line(_ocsp_cli(live)) == "revoked"
    _, _, body = live.get("/ocsp/" + encoded)
    live.openssl.write("get.der", body)
    fetched = live.openssl.ok("ocsp", "-respin", "get.der", "-issuer", "issuing.pem", "-cert", "leaf.pem",
                              "-CAfile", "root.pem", "-no_nonce")  # fmt: skip
    assert _status_line(fetched) == "revoked"


def test_garbage_and_truncated_requests_get_each_protocols_error_status(live: Live) -> None:
    live.export_ca("ecdsa-root", "root.pem")
    live.export_ca("ecdsa-issuing", "issuing.pem")
    live.issue("ecdsa", "leaf.pem", "印章签名")
    live.openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
    request = live.openssl.workdir.joinpath("req.der").read_bytes()

    answers = [
        live.post("/ocsp", b"garbage, not an OCSP request", "application/ocsp-request"),
        live.post("/ocsp", request[: len(request) // 2], "application/ocsp-request"),
        live.get("/ocsp/" + base64.b64encode(request[:-5]).decode()),
        live.get("/ocsp/%%%25not-base64"),
    ]
    for status, headers, body in answers:
        assert status == 200 and headers["Content-Type"] == "application/ocsp-response"
        live.openssl.write("err.der", body)
        result = live.openssl.run("ocsp", "-respin", "err.der", "-resp_text")
        assert "Responder Error: malformedrequest (1)" in result.stdout + result.stderr

    live.openssl.write("data.bin", DATA)
    live.openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq")
    query = live.openssl.workdir.joinpath("q.tsq").read_bytes()
    for body in (b"garbage, not a TimeStampReq", query[: len(query) // 2]):
        status, headers, reply = live.post("/tsa", body, "application/timestamp-query")
        assert status == 200 and headers["Content-Type"] == "application/timestamp-reply"
        live.openssl.write("err.tsr", reply)
        text = live.openssl.ok("ts", "-reply", "-in", "err.tsr", "-text").stdout
        assert "Status: Rejected." in text
        assert "Failure info: the data submitted has the wrong format" in text

    status, headers, _ = live.post("/tsa", query, "application/octet-stream")
    assert status == 415 and headers["Content-Type"] == "application/problem+json"


# --- TSA -----------------------------------------------------------------------------------------


def test_openssl_ts_verifies_an_ecdsa_token_from_the_running_service(live: Live) -> None:
    live.export_ca("ecdsa-root", "root.pem")
    live.export_ca("ecdsa-issuing", "chain.pem")
    live.openssl.write("data.bin", DATA)
    live.openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq")
    status, headers, reply = live.post(
        "/tsa/ecdsa", live.openssl.workdir.joinpath("q.tsq").read_bytes(), "application/timestamp-query"
    )
    assert status == 200 and headers["Content-Type"] == "application/timestamp-reply"
    live.openssl.write("resp.tsr", reply)
    verified = live.openssl.ok("ts", "-verify", "-data", "data.bin", "-in", "resp.tsr", "-CAfile", "root.pem",
                               "-untrusted", "chain.pem")  # fmt: skip
    assert verified.stdout.strip() == "Verification: OK"
    verified = live.openssl.ok("ts", "-verify", "-queryfile", "q.tsq", "-in", "resp.tsr",
                               "-CAfile", "root.pem", "-untrusted", "chain.pem")  # fmt: skip
    assert verified.stdout.strip() == "Verification: OK"
    text = live.openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Policy OID: 1.3.6.1.4.1.32473.1.2" in text and "Accuracy: 0x01 seconds" in text

    # another token for the same data: another serial
    live.openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q2.tsq")
    _, _, second = live.post(
        "/tsa/ecdsa", live.openssl.workdir.joinpath("q2.tsq").read_bytes(), "application/timestamp-query"
    )
    live.openssl.write("resp2.tsr", second)
    serials = [
        re.search(r"Serial number: (0x[0-9A-F]+)", live.openssl.ok("ts", "-reply", "-in", f, "-text").stdout)
        for f in ("resp.tsr", "resp2.tsr")
    ]
    assert serials[0] and serials[1] and serials[0].group(1) != serials[1].group(1)


def _crls(live: Live, ca_name: str) -> list[crl.CertificateList]:
    found = []
    for suffix in ("", "-delta"):
        status, _, body = live.get(f"/crl/{ca_name}{suffix}.crl")
        assert status == 200
        found.append(crl.CertificateList.load(body))
    return found


def _ocsp_for(live: Live, certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    body = ocsp_request(cert_id_for(certificate, issuer).der)
    status, _, der = live.post("/ocsp", body, "application/ocsp-request")
    assert status == 200
    return der


def test_sm2_token_from_the_running_service_verifies_with_our_code_and_openssl_dgst(live: Live) -> None:
    root = live.export_ca("sm2-root", "root.pem")
    issuing = live.export_ca("sm2-issuing", "issuing.pem")
    live.openssl.write("data.bin", DATA)
    live.openssl.ok("ts", "-query", "-data", "data.bin", "-sm3", "-cert", "-out", "q.tsq")
    status, _, reply = live.post("/tsa", live.openssl.workdir.joinpath("q.tsq").read_bytes(),
                                 "application/timestamp-query")  # fmt: skip
    assert status == 200
    live.openssl.write("resp.tsr", reply)
    text = live.openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Granted." in text and "Hash Algorithm: sm3" in text

    signed_data = tsp.TimeStampResp.load(reply)["time_stamp_token"]["content"]
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    (tsa_certificate,) = [
        c.chosen
        for c in signed_data["certificates"]
        if c.chosen.extended_key_usage_value and "time_stamping" in c.chosen.extended_key_usage_value.native
    ]

    # our code: pyHanko's time-stamp token validation with the SM2 plug-in, revocation from the live service
    context = sm2_validation_context(
        trust_roots=[root],
        other_certs=[issuing],
        crls=_crls(live, "sm2-root"),
        ocsps=[_ocsp_for(live, tsa_certificate, issuing)],
        revocation_mode="hard-fail",
    )
    result = asyncio.run(validate_tst_signed_data(signed_data, context, lambda algorithm: sm3(DATA)))
    assert result["intact"] and result["valid"]
    assert result["trust_problem_indic"] is None, result
    wrong = asyncio.run(validate_tst_signed_data(signed_data, context, lambda algorithm: sm3(b"other")))
    assert not wrong["intact"]

    # openssl: the SM2 signature over the DER SET OF signed attributes, with the GM/T 0009 default ID
    live.openssl.write("tsa.pem", pem.armor("CERTIFICATE", tsa_certificate.dump()))
    live.openssl.ok("x509", "-in", "tsa.pem", "-pubkey", "-noout", "-out", "tsapub.pem")
    live.openssl.write("attrs.der", cms.CMSAttributes.load(signer_info["signed_attrs"].untag().dump()).dump())
    live.openssl.write("sig.der", signer_info["signature"].native)
    checked = live.openssl.ok("dgst", "-sm3", "-verify", "tsapub.pem", "-sigopt", DISTID,
                              "-signature", "sig.der", "attrs.der")  # fmt: skip
    assert "Verified OK" in checked.stdout
    live.openssl.write("bad.der", b"\x31" + signer_info["signed_attrs"].untag().dump()[1:-1] + b"\x00")
    assert live.openssl.run("dgst", "-sm3", "-verify", "tsapub.pem", "-sigopt", DISTID,
                            "-signature", "sig.der", "bad.der").returncode != 0  # fmt: skip


# --- OCSP, SM2: pyhanko-certvalidator ---------------------------------------------------------------


def test_sm2_ocsp_from_the_running_service_is_accepted_by_pyhanko_then_revoked(live: Live) -> None:
    root = live.export_ca("sm2-root", "root.pem")
    issuing = live.export_ca("sm2-issuing", "issuing.pem")
    serial, leaf = live.issue("sm2", "leaf.pem", "印章签名 SM2")

    def validate() -> object:
        # No CRL of the issuing CA: in hard-fail mode the leaf passes only on the live OCSP response.
        context = sm2_validation_context(
            trust_roots=[root],
            other_certs=[issuing],
            crls=_crls(live, "sm2-root"),
            ocsps=[_ocsp_for(live, leaf, issuing)],
            revocation_mode="hard-fail",
        )
        validator = CertificateValidator(leaf, validation_context=context)
        return asyncio.run(validator.async_validate_usage({"digital_signature"}))

    path = validate()
    assert len(path) == 3  # type: ignore[arg-type]
    live.cli("ca", "revoke", "--ca", "sm2-issuing", serial, "--reason", "keyCompromise")
    with pytest.raises(RevokedError, match="OCSP"):
        validate()
