"""trustsvc.verify.report: the HTML and PDF human reports (Chinese and English, outside input escaped, text
extractable, fonts embedded), the report signed by the service (checked by us and by ``openssl dgst``), and
``POST /api/v1/verify`` / ``trustsvc verify --report`` serving each format."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import pem, x509
from flask.testing import FlaskClient

from tests.conftest import CliRun
from tests.test_ofd_signing import document
from tests.test_sealing_service import Setup, make_setup
from tests.test_verify_engine import BOX
from trustsvc.errors import InvalidInput, InvalidSignature, MalformedInput
from trustsvc.routes import verify as verify_route
from trustsvc.service import TrustService
from trustsvc.verify import report
from trustsvc.verify.result import (
    CheckResult,
    Indication,
    SignatureResult,
    SubIndication,
    VerificationResult,
)

EVIL = '<script>alert("x")</script>'
ES_ID = "33010000000012345"


def result(
    indication: Indication = Indication.TOTAL_PASSED, *, subject: str = "CN=某市市场监督管理局"
) -> VerificationResult:
    sub = None if indication is Indication.TOTAL_PASSED else SubIndication.HASH_FAILURE
    checks = (
        CheckResult.passed("signature_value"),
        CheckResult.passed("signer_chain", "2 certificate(s) to 某省电子印章根CA"),
        CheckResult.skipped("seal_status", "no seal-status service is known"),
    )
    if sub is not None:
        checks += (CheckResult.failed("references", sub, "Doc_0/Content.xml changed"),)
    signature = SignatureResult(
        index=0,
        format="ofd-seal",
        type="seal",
        indication=indication,
        sub_indication=sub,
        checks=checks,
        signer_subject=subject,
        signer_serial="1234",
        signer_issuer="CN=某省电子印章签发CA",
        seal_es_id=ES_ID,
        seal_name="行政审批专用章",
        seal_org="某市市场监督管理局",
        signing_time=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
        location="Doc_0/Signs/Sign_0/Signature.xml",
        warnings=("the seal's status cannot be checked",),
    )
    return VerificationResult(
        sha256="ab" * 32,
        sm3="cd" * 32,
        format="ofd",
        signatures=(signature,),
        indication=indication,
        sub_indication=sub,
        verified_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        trust_sources=("own",),
    )


# --- HTML --------------------------------------------------------------------------------------------------


def test_html_has_the_verdict_in_chinese_and_english() -> None:
    html = report.render_html(result(), lang="zh-en")
    assert "有效 / Valid" in html and "验证结论" in html and "Verdict" in html
    assert html.index("有效") < html.index("Valid")  # Chinese first
    assert ES_ID in html and "行政审批专用章" in html and "2026-11-27T08:00:00Z" in html
    assert "ab" * 32 in html and "cd" * 32 in html and "2026-11-27T09:00:00Z" in html
    assert "#1a7f37" in html  # green
    invalid = report.render_html(result(Indication.TOTAL_FAILED), lang="zh-en")
    assert "无效 / Invalid" in invalid and "HASH_FAILURE" in invalid and "#cf222e" in invalid


def test_html_in_one_language() -> None:
    zh = report.render_html(result(), lang="zh")
    en = report.render_html(result(), lang="en")
    assert "有效" in zh and "Valid (VALID)" not in zh
    assert "Valid (VALID)" in en and "验证结论" not in en
    with pytest.raises(InvalidInput):
        report.render_html(result(), lang="fr")  # type: ignore[arg-type]


def test_html_escapes_outside_input() -> None:
    html = report.render_html(result(subject=EVIL), lang="zh-en", file_name=f"{EVIL}.ofd")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


# --- PDF ---------------------------------------------------------------------------------------------------

needs_pdf = pytest.mark.skipif(not report.pdf_available(), reason="reportlab is not installed")
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@needs_pdf
@needs_poppler
def test_pdf_text_is_extractable_and_fonts_embedded(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(report.render_pdf(result(subject=EVIL), lang="zh-en", file_name="营业执照.ofd"))
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    words = text.stdout.decode("utf-8")
    assert "有效" in words and "Valid" in words and "验证结论" in words
    assert ES_ID in words and "行政审批专用章" in words and EVIL in words  # drawn as text, not markup
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(row.split()[1] == "TrueType" and row.split()[3] == "yes" for row in rows)  # emb
    assert any("+NotoSerifSC" in row for row in rows) and any("+NotoSansSC" in row for row in rows)


@needs_pdf
def test_pdf_in_english_only() -> None:
    pdf = report.render_pdf(result(Indication.INDETERMINATE), lang="en")
    assert pdf.startswith(b"%PDF-") and b"NotoSerifSC" in pdf and b"Helvetica" not in pdf


# --- signed reports ----------------------------------------------------------------------------------------


@pytest.fixture
def signed_setup(service: TrustService) -> Setup:
    setup = make_setup(service)
    service.trust.init_signers(actor="test")
    return setup


def test_signed_report_verifies_with_us_and_openssl(signed_setup: Setup, tmp_path: Path) -> None:
    service = signed_setup.service
    signer, chain = service.trust.service_signer()
    envelope = report.sign_report(report.report_json(result()), signer, chain)
    body, certificates = report.verify_signed_report(envelope)
    assert body["type"] == report.REPORT_TYPE and body["indication"] == "VALID"
    assert body["signatures"][0]["seal"]["es_id"] == ES_ID
    assert certificates == chain and certificates[0] == service.trust.signer_certificate()

    outer = json.loads(envelope)
    assert outer["format"] == "trustsvc-signed-json/1" and outer["signature_algorithm"] == "sm2-sm3"
    (tmp_path / "payload.json").write_bytes(base64.b64decode(outer["payload"]))
    (tmp_path / "sig.der").write_bytes(base64.b64decode(outer["signature"]))
    cert = x509.Certificate.load(pem.unarmor(outer["certificates"][0].encode())[2])
    (tmp_path / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", cert.public_key.dump()))
    verify = [
        "openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"),
        "-sigopt", "distid:1234567812345678", "-signature", str(tmp_path / "sig.der"),
    ]  # fmt: skip
    ok = subprocess.run([*verify, str(tmp_path / "payload.json")], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr

    # a tampered payload: refused by us and by openssl
    payload = base64.b64decode(outer["payload"]).replace(b'"VALID"', b'"INVALID"', 1)
    (tmp_path / "payload.json").write_bytes(payload)
    bad = subprocess.run([*verify, str(tmp_path / "payload.json")], capture_output=True, text=True)
    assert bad.returncode != 0
    outer["payload"] = base64.b64encode(payload).decode()
    with pytest.raises(InvalidSignature):
        report.verify_signed_report(json.dumps(outer).encode())


def test_sign_report_refuses_what_is_not_a_report(signed_setup: Setup) -> None:
    signer, chain = signed_setup.service.trust.service_signer()
    for junk in (b"not json", b'{"type":"trustsvc.seal-status"}', b'{"format":"trustsvc-trust-list/1"}'):
        with pytest.raises(MalformedInput):
            report.sign_report(junk, signer, chain)
    other = dict(result().to_json(), type="trustsvc.seal-status")
    with pytest.raises(MalformedInput):
        report.sign_report(json.dumps(other).encode(), signer, chain)


def test_signed_seal_status_answer_is_not_a_report(signed_setup: Setup) -> None:
    answer, _ = signed_setup.service.seals.signed_status(signed_setup.es_id)
    with pytest.raises(MalformedInput):
        report.verify_signed_report(answer)


# --- route and CLI -----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_route, "limiter", verify_route.TokenBucket(1000.0, 10_000))


@pytest.mark.parametrize(
    ("query", "accept", "media_type"),
    [
        ("", None, "application/json"),
        ("?format=json", "text/html", "application/json"),
        ("?format=html", None, "text/html"),
        ("", "text/html,application/xhtml+xml", "text/html"),
        ("?format=signed", None, verify_route.SIGNED_REPORT),
        ("", verify_route.SIGNED_REPORT, verify_route.SIGNED_REPORT),
        pytest.param("?format=pdf", None, "application/pdf", marks=needs_pdf),
        pytest.param("", "application/pdf", "application/pdf", marks=needs_pdf),
    ],
)
def test_route_serves_each_format(
    signed_setup: Setup, client: FlaskClient, query: str, accept: str | None, media_type: str
) -> None:
    sealed = signed_setup.seal(document(1).ofd, BOX, level="B-B").data
    headers = {"Accept": accept} if accept else {}
    response = client.post(
        f"/api/v1/verify{query}", data=sealed, content_type="application/ofd", headers=headers
    )
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == media_type
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    if media_type == "text/html":
        assert "有效 / Valid" in data.decode() and signed_setup.es_id in data.decode()
    elif media_type == "application/pdf":
        assert data.startswith(b"%PDF-")
    elif media_type == verify_route.SIGNED_REPORT:
        body, _ = report.verify_signed_report(data)
        assert body["indication"] == "VALID" and body["signatures"][0]["seal"]["es_id"] == signed_setup.es_id
    else:
        assert response.get_json()["indication"] == "VALID"


def test_route_refuses_unknown_format_and_language(signed_setup: Setup, client: FlaskClient) -> None:
    sealed = signed_setup.seal(document(1).ofd, BOX, level="B-B").data
    assert client.post("/api/v1/verify?format=docx", data=sealed).status_code == 406
    assert client.post("/api/v1/verify", data=sealed, headers={"Accept": "image/png"}).status_code == 406
    assert client.post("/api/v1/verify?format=html&lang=fr", data=sealed).status_code == 400


def test_cli_writes_each_report(signed_setup: Setup, run_cli: CliRun, tmp_path: Path) -> None:
    file = tmp_path / "licence.ofd"
    file.write_bytes(signed_setup.seal(document(1).ofd, BOX, level="B-B").data)
    html, signed = tmp_path / "r.html", tmp_path / "r.json"
    done = run_cli("verify", str(file), "--report", "html", "--out", str(html))
    assert done.exit_code == 0, done.output
    assert "licence.ofd" in html.read_text() and "有效" in html.read_text()
    done = run_cli("verify", str(file), "--report", "json-signed", "--out", str(signed))
    assert done.exit_code == 0, done.output
    body, _ = report.verify_signed_report(signed.read_bytes())
    assert body["indication"] == "VALID"
    if report.pdf_available():
        pdf = tmp_path / "r.pdf"
        done = run_cli("verify", str(file), "--report", "pdf", "--lang", "zh", "--out", str(pdf))
        assert done.exit_code == 0, done.output
        assert pdf.read_bytes().startswith(b"%PDF-")
