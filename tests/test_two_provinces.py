"""Two provinces, live: two independent ``trustsvc serve`` instances on loopback ports talk over real HTTP.

Province A (甲省, 330000) and province B (乙省, 440000) each have their own home, SQLite database, key
store and CA, made by ``trustsvc init`` with ``TRUSTSVC_PUBLIC_BASE_URL`` set to the instance's own
loopback URL first, so A's certificates name A's OCSP / CRL URLs and A's trust list its seal-status URL.

A makes a seal (``trustsvc seal create --grant``) and seals an OFD (B-T, time-stamped by A's TSA) and a
PDF (B-B, no time-stamp) with ``trustsvc sign --as``. Then B, with ``trustsvc verify --json`` and
``POST /api/v1/verify``:

* without A's trust list: INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND (exit 3);
* after ``trustsvc trust import`` of A's ``/trust-list`` pinned to A's exported signer certificate: VALID
  (exit 0), the signer's status from A's OCSP responder and the seal's from A's seal-status URL;
* after A revokes the signer certificate (``trustsvc ca revoke``), i.e. revoked after the signing, per
  docs/VERIFY-REPORT.md: VALID with a warning naming the revocation (lenient, and strict when a time-stamp
  proves the signing time); strict without a time-stamp: INDETERMINATE / REVOKED_NO_POE (exit 3);
* a document signed with a seal A had suspended before the signing time: INVALID /
  SIG_CONSTRAINTS_FAILURE (exit 1). A live A refuses to apply a suspended seal, so that document is made
  the way a stolen key would make it: the signing material is taken from A's home while the seal is
  active, A suspends the seal, and the document is sealed afterwards (claimed signing time after the
  suspension);
* A stopped: INDETERMINATE / TRY_LATER (exit 3), no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.test_ofd_signing import document
from tests.test_pdf_sealing import make_pdf
from tests.test_trustlist_two_provinces import A_ENV, _free_port, _stop, _trustsvc

pytestmark = pytest.mark.slow

B_ENV = {
    "TRUSTSVC_REGION_CODE": "440000",
    "TRUSTSVC_REGION_NAME": "乙省",
    "TRUSTSVC_ORG_NAME": "乙省政务服务数据管理局",
    "TRUSTSVC_ORG_CODE": "114400000069402200",
}
SEAL_ORG = "91110000600037341L"
SEAL_ORG_NAME = "甲市某某科技有限公司"
START_WAIT = 30.0


@dataclass
class Province:
    """One instance: its environment (home, public URL, organisation) and, once started, its server."""

    name: str
    home: Path
    port: int
    extra: dict[str, str]
    server: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TRUSTSVC_HOME": str(self.home),
            "TRUSTSVC_PUBLIC_BASE_URL": self.base,
            "TRUSTSVC_FETCH_TIMEOUT": "5",
            **self.extra,
        }

    def cli(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*_trustsvc(), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if expect is not None:
            command = f"{self.name}: trustsvc {' '.join(args)} -> {result.returncode}"
            assert result.returncode == expect, f"{command}:\n{result.stdout}\n{result.stderr}"
        return result

    def start(self) -> None:
        self.server = subprocess.Popen(
            [*_trustsvc(), "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        assert self.server is not None
        deadline = time.monotonic() + START_WAIT
        while True:
            assert self.server.poll() is None, f"{self.name}: trustsvc serve exited"
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, f"{self.name}: no answer on /health within {START_WAIT:g} s"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.server is not None:
            _stop(self.server)


@pytest.fixture
def provinces(tmp_path: Path) -> Iterator[tuple[Province, Province]]:
    """A and B initialised and served on two free loopback ports; both servers always stopped."""
    a = Province("A", tmp_path / "province-a", _free_port(), A_ENV)
    b = Province("B", tmp_path / "province-b", _free_port(), B_ENV)
    assert a.port != b.port
    try:
        for p in (a, b):
            p.cli("init")
            p.start()
        for p in (a, b):
            p.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


def verify(b: Province, path: Path, *more: str, expect: int) -> dict[str, Any]:
    """Return B's ``trustsvc verify --json`` report of ``path``, checking the exit status and no traceback."""
    result = b.cli("verify", "--json", *more, str(path), expect=expect)
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def check(signature: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in signature["checks"] if c["name"] == name)
    return found


def test_two_live_provinces(tmp_path: Path, provinces: tuple[Province, Province]) -> None:
    a, b = provinces

    # --- A: the trust-list signer (the pin, handed over out of band), an API key, two seals -------------
    signer_pem = tmp_path / "a-signer.pem"
    a.cli("trust", "export", "--out", str(tmp_path / "a-list.json"), "--signer-out", str(signer_pem))
    a.cli("apikey", "create", "business-system", "--role", "business-system")
    seal_args = (
        "seal",
        "create",
        "--org",
        SEAL_ORG,
        "--org-name",
        SEAL_ORG_NAME,
        "--grant",
        "business-system",
    )
    es_id = a.cli(*seal_args, "--kind", "contract").stdout.strip()
    lost_es_id = a.cli(*seal_args, "--kind", "finance").stdout.strip()
    assert es_id and lost_es_id and es_id != lost_es_id

    # --- A seals an OFD (B-T: time-stamped by A's TSA) and a PDF (B-B: claimed time only) --------------
    (tmp_path / "doc.ofd").write_bytes(document(1).ofd)
    (tmp_path / "doc.pdf").write_bytes(make_pdf())
    ofd, pdf = tmp_path / "sealed.ofd", tmp_path / "sealed.pdf"
    box = ("--page", "1", "--x", "20", "--y", "30")
    a.cli(
        "sign", str(tmp_path / "doc.ofd"), "--seal", es_id, "--as", "business-system", "--out", str(ofd), *box
    )
    a.cli(
        "sign", str(tmp_path / "doc.pdf"), "--seal", es_id, "--as", "business-system", "--out", str(pdf),
        "--level", "B-B", *box,
    )  # fmt: skip
    signed_at = time.time()

    # --- B without A's list: no chain ------------------------------------------------------------------
    alone = verify(b, ofd, expect=3)
    assert (alone["indication"], alone["sub_indication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")

    # --- B imports A's list over HTTP, pinned to A's signer --------------------------------------------
    imported = b.cli(
        "trust", "import", "--name", "province-a", f"{a.base}/trust-list", "--signer-cert", str(signer_pem)
    )
    assert "imported province-a: 甲省" in imported.stdout, imported.stdout

    for path in (ofd, pdf):
        report = verify(b, path, expect=0)
        assert (report["indication"], report["sub_indication"]) == ("VALID", None), report
        (sig,) = report["signatures"]
        assert sig["seal"]["es_id"] == es_id
        revocation = check(sig, "signer_revocation")
        assert revocation["status"] == "passed" and f"ocsp:{a.base}/ocsp" in revocation["detail"], revocation
        status = check(sig, "seal_status")
        assert status == {
            "name": "seal_status",
            "status": "passed",
            "detail": f"active (seal-status:{a.base}/seals/{es_id}/status)",
        } | {k: v for k, v in status.items() if k not in ("name", "status", "detail")}
        assert {"province-a", "ocsp", "seal-status"} <= set(report["trust_sources"]), report["trust_sources"]
    ofd_report = verify(b, ofd, expect=0)
    assert ofd_report["signatures"][0]["timestamp_time"] is not None  # A's TSA, trusted through A's list
    signer_serial = ofd_report["signatures"][0]["signer"]["serial"]

    # ... and the same through B's HTTP API
    request = urllib.request.Request(
        f"{b.base}/api/v1/verify", data=ofd.read_bytes(), headers={"Content-Type": "application/ofd"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        api_report = json.load(response)
    assert (api_report["indication"], api_report["sub_indication"]) == ("VALID", None), api_report
    assert f"ocsp:{a.base}/ocsp" in check(api_report["signatures"][0], "signer_revocation")["detail"]

    # --- A revokes the signer certificate after the signing --------------------------------------------
    time.sleep(max(0.0, signed_at + 2.0 - time.time()))  # revocation time (whole seconds) after signing time
    a.cli("ca", "revoke", "--ca", "sm2-issuing", signer_serial, "--reason", "keyCompromise")
    for path, strict in ((ofd, False), (ofd, True), (pdf, False)):
        report = verify(b, path, *(["--strict"] if strict else []), expect=0)
        assert (report["indication"], report["sub_indication"]) == ("VALID", None), report
        (sig,) = report["signatures"]
        assert any("revoked at" in w for w in sig["warnings"]), sig["warnings"]
        assert "revoked at" in check(sig, "signer_revocation")["detail"]
        assert "ocsp" in report["trust_sources"]  # seen at A's OCSP responder
    no_poe = verify(b, pdf, "--strict", expect=3)
    assert (no_poe["indication"], no_poe["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE"), no_poe
    revocation = check(no_poe["signatures"][0], "signer_revocation")
    assert (revocation["status"], revocation["sub_indication"]) == ("indeterminate", "REVOKED_NO_POE")

    # --- a seal A suspended before the signing ---------------------------------------------------------
    from trustsvc.config import Settings
    from trustsvc.ofd.signing import OfdPlacement, seal_ofd
    from trustsvc.service import TrustService

    a_service = TrustService.from_settings(Settings.from_env(a.env))
    try:
        seals = a_service.seals
        material = seals.signing_key_for(lost_es_id, seals.principal_for("business-system"))
    finally:
        a_service.close()
    a.cli("seal", "suspend", lost_es_id, "--reason", "lost")
    time.sleep(1.1)  # the status answer's "since" has whole seconds: sign strictly after it
    late = tmp_path / "late.ofd"
    late.write_bytes(
        seal_ofd(
            document(1).ofd,
            seal_der=material.seal_der,
            signer_cert_der=material.certificate_der,
            signer=material.signer,
            placement=OfdPlacement.box(1, 20, 30, 40, 40),
            time_info=datetime.now(UTC),
        )
    )
    invalid = verify(b, late, expect=1)
    assert (invalid["indication"], invalid["sub_indication"]) == ("INVALID", "SIG_CONSTRAINTS_FAILURE"), (
        invalid
    )
    (sig,) = invalid["signatures"]
    assert {c["name"] for c in sig["checks"] if c["status"] != "passed"} == {"seal_status"}, sig["checks"]
    status = check(sig, "seal_status")
    assert "suspended since" in status["detail"] and "before the signing time" in status["detail"], status
    assert "seal-status" in invalid["trust_sources"]  # A's answer, fetched over HTTP

    # --- A goes away: TRY_LATER, not a crash -----------------------------------------------------------
    a.stop()
    down = verify(b, ofd, expect=3)
    assert (down["indication"], down["sub_indication"]) == ("INDETERMINATE", "TRY_LATER"), down
    assert a.base in check(down["signatures"][0], "signer_revocation")["detail"]
