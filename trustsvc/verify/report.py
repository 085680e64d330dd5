"""Verification reports: the JSON report, a human report in HTML and PDF (Chinese, English or both), and the
report signed by the service so that a relying party can keep it as evidence.

* **JSON** — :meth:`VerificationResult.to_json`, ``schema_version`` 1, documented in docs/VERIFY-REPORT.md.
  :func:`report_json` gives its canonical bytes (UTF-8, keys sorted, no whitespace).
* **HTML** — :func:`render_html`: the Jinja2 template ``trustsvc/web/templates/verify_report.html`` with
  autoescaping on (file names, subjects, seal names and details are outside input).
* **PDF** — :func:`render_pdf`: reportlab, with the shipped Noto SC TrueType subsets (:mod:`trustsvc.fonts`)
  registered once per process; the text is extractable and the fonts are embedded subsets.
* **Signed** — :func:`sign_report` / :func:`verify_signed_report`: the ``trustsvc-signed-json/1`` envelope of
  :mod:`trustsvc.seal.status` (payload bytes in base64, SM2/SM3 signature with user ID
  ``1234567812345678`` over exactly those bytes, signer certificate then its CA's), checkable with
  ``openssl dgst -sm3 -verify signer.pem -sigopt distid:1234567812345678``. The payload is the report's JSON
  with one member added, ``"type": "trustsvc.verification-report"``, so that no other statement signed by the
  same key (a trust list has ``"format": "trustsvc-trust-list/1"`` and no ``type``; a seal status answer has
  ``"type": "trustsvc.seal-status"``) can be taken for a report, nor a report for one of them.

**Who signs** (decision): the service's SM2 **trust-list signer** certificate
(:meth:`trustsvc.verify.trustlist.TrustListService.service_signer`). A verification report is the service's
statement about trust, which is what that certificate already speaks for and what other territories already
pin; every issuing CA has one from ``trustsvc init`` and its key is in the key store. Not the seal-maker
certificate (it speaks for one seal, and a relying party accepts it only about seals of its CA), not the OCSP
responder (DER responses about one certificate) and not the TSA (RFC 3161 wants timeStamping as its only
purpose). The ``type`` member keeps the uses apart, as above.

Decision, a signed JSON envelope rather than a PDF report sealed with a PDF signature: the envelope signs the
machine-readable verdict itself (the PDF is a rendering of it), needs no PDF signature validator to check (one
``openssl dgst`` call), and its bytes do not depend on the layout or on reportlab's version.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal
from xml.sax.saxutils import escape as xml_escape

from asn1crypto import pem, x509

from trustsvc.errors import ConfigurationError, InvalidInput, MalformedInput
from trustsvc.fonts import font_path
from trustsvc.keys.algorithms import SignatureAlgorithm
from trustsvc.keys.signer import Signer
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.seal.status import ENVELOPE_FORMAT, sign_statement
from trustsvc.verify.result import SCHEMA_VERSION, VerificationResult

__all__ = [
    "ENVELOPE_FORMAT",
    "REPORT_TYPE",
    "Lang",
    "render_html",
    "render_pdf",
    "report_json",
    "sign_report",
    "template_environment",
    "verify_signed_report",
]

Lang = Literal["zh", "en", "zh-en"]
LANGS: Final = ("zh", "en", "zh-en")

#: The ``type`` member of a signed report's payload.
REPORT_TYPE: Final = "trustsvc.verification-report"
#: Largest signed report accepted by :func:`verify_signed_report`.
MAX_SIGNED_REPORT: Final = 8 * 1024 * 1024

TEMPLATE_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "templates"
TEMPLATE_NAME: Final = "verify_report.html"

# --- words -------------------------------------------------------------------------------------------------

_LABELS: Final[dict[str, tuple[str, str]]] = {
    "title": ("电子签章验证报告", "Verification report"),
    "verdict": ("验证结论", "Verdict"),
    "document": ("文件", "Document"),
    "file_name": ("文件名", "File name"),
    "format": ("格式", "Format"),
    "verified_at": ("验证时间", "Verified at"),
    "trust_sources": ("信任来源", "Trust sources"),
    "signatures": ("签名", "Signatures"),
    "signature": ("签名", "Signature"),
    "no_signature": ("文件中没有签名", "The document carries no signature"),
    "signer": ("签章人", "Signer"),
    "serial": ("证书序列号", "Certificate serial"),
    "issuer": ("证书颁发者", "Issuer"),
    "seal": ("印章", "Seal"),
    "es_id": ("印章编码", "esID"),
    "seal_name": ("印章名称", "Seal name"),
    "organisation": ("单位", "Organisation"),
    "signing_time": ("签署时间", "Signing time"),
    "timestamp_time": ("时间戳时间", "Time-stamp time"),
    "location": ("位置", "Location"),
    "checks": ("检查项", "Checks"),
    "check": ("检查", "Check"),
    "status": ("结果", "Status"),
    "detail": ("说明", "Detail"),
    "warnings": ("警告", "Warnings"),
    "sub_indication": ("原因", "Reason"),
    "hashes": ("文件摘要", "Document hashes"),
    "footer": (
        "本报告由 trustsvc 生成；机器可读的报告见 JSON 格式（schema_version 1）。",
        "Produced by trustsvc; the machine-readable report is the JSON format (schema_version 1).",
    ),
    "none": ("无", "none"),
}

_VERDICTS: Final[dict[str, tuple[str, str]]] = {
    "VALID": ("有效", "Valid"),
    "INVALID": ("无效", "Invalid"),
    "INDETERMINATE": ("无法确定", "Indeterminate"),
}
_COLOURS: Final[dict[str, str]] = {"VALID": "#1a7f37", "INVALID": "#cf222e", "INDETERMINATE": "#9a6700"}

_STATUSES: Final[dict[str, tuple[str, str]]] = {
    "passed": ("通过", "passed"),
    "failed": ("未通过", "failed"),
    "indeterminate": ("无法确定", "indeterminate"),
    "skipped": ("未检查", "skipped"),
}

_CHECKS: Final[dict[str, tuple[str, str]]] = {
    "intact": ("文件完整性", "document integrity"),
    "valid": ("签名值", "signature value"),
    "signature_xml": ("签名描述文件", "Signature.xml"),
    "references": ("签名引用文件摘要", "referenced file digests"),
    "coverage": ("签名覆盖范围", "coverage"),
    "signed_value": ("签名值文件", "signed value file"),
    "format": ("格式", "format"),
    "strict_format": ("严格格式", "strict format"),
    "data_hash": ("数据摘要", "data hash"),
    "message_digest": ("消息摘要", "message digest"),
    "signature_value": ("签名值", "signature value"),
    "signer_certificate": ("签章人证书", "signer certificate"),
    "signer_listed": ("签章人在印章证书列表中", "signer listed in the seal"),
    "signer_chain": ("签章人证书链", "signer certificate chain"),
    "signer_revocation": ("签章人证书状态", "signer certificate status"),
    "seal_signature": ("制章者签名", "seal maker's signature"),
    "seal_maker_chain": ("制章者证书链", "seal maker certificate chain"),
    "seal_validity": ("印章有效期", "seal validity period"),
    "seal_status": ("印章状态", "seal status"),
    "licence_status": ("电子证照状态", "e-licence status"),
    "seal_file": ("印章文件", "seal file"),
    "timestamp": ("时间戳", "time-stamp"),
    "trust_list": ("信任列表", "trust list"),
}


def _check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise InvalidInput(f"unknown report language {lang!r}; expected one of {list(LANGS)}", field="lang")
    return lang  # type: ignore[return-value]


def _words(pair: tuple[str, str], lang: Lang, sep: str = " / ") -> str:
    zh, en = pair
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh}{sep}{en}" if zh != en else zh


def _translator(lang: Lang) -> Callable[..., str]:
    def t(key: str, table: str = "labels") -> str:
        source = {"labels": _LABELS, "verdicts": _VERDICTS, "statuses": _STATUSES, "checks": _CHECKS}[table]
        pair = source.get(key)
        return key if pair is None else _words(pair, lang)

    return t


def _context(result: VerificationResult, lang: Lang, file_name: str | None) -> dict[str, Any]:
    return {
        "r": result.to_json(),
        "t": _translator(lang),
        "lang": lang,
        "html_lang": "en" if lang == "en" else "zh-CN",
        "colour": _COLOURS.get(result.report, "#555555"),
        "file_name": file_name,
    }


# --- JSON --------------------------------------------------------------------------------------------------


def report_json(result: VerificationResult) -> bytes:
    """Return the canonical bytes of the JSON report (UTF-8, keys sorted, no insignificant whitespace)."""
    return _canonical(result.to_json())


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- HTML --------------------------------------------------------------------------------------------------


@cache
def template_environment() -> Any:
    """Return the Jinja2 environment of trustsvc's HTML pages: autoescaped, strict, over web/templates.

    Shared with the public licence status page (:mod:`trustsvc.routes.licence_page`) so that every page
    escapes outside input the same way.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,  # every value is outside input as far as the template is concerned
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: VerificationResult, *, lang: Lang = "zh-en", file_name: str | None = None) -> str:
    """Return the human report as a self-contained HTML page.

    ``lang``: ``"zh"``, ``"en"`` or ``"zh-en"`` (both, Chinese first). ``file_name`` is shown as given
    (escaped).
    """
    lang = _check_lang(lang)
    template = template_environment().get_template(TEMPLATE_NAME)
    return str(template.render(**_context(result, lang, file_name)))


# --- PDF ---------------------------------------------------------------------------------------------------

_PDF_SERIF: Final = "TrustsvcSerifSC"
_PDF_SANS: Final = "TrustsvcSansSC"


@cache
def _pdf_fonts() -> tuple[str, str]:
    """Register the shipped TrueType faces with reportlab, once per process; return (serif, sans) names."""
    try:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
    except ImportError:
        raise ConfigurationError("PDF reports need reportlab, which is not installed") from None
    pdfmetrics.registerFont(TTFont(_PDF_SERIF, str(font_path("serif"))))
    pdfmetrics.registerFont(TTFont(_PDF_SANS, str(font_path("sans"))))
    return _PDF_SERIF, _PDF_SANS


def pdf_available() -> bool:
    """Return True when reportlab is installed (PDF reports can be rendered)."""
    try:
        import reportlab  # noqa: F401
    except ImportError:
        return False
    return True


def render_pdf(result: VerificationResult, *, lang: Lang = "zh-en", file_name: str | None = None) -> bytes:
    """Return the human report as an A4 PDF (same content as :func:`render_html`).

    Raises ConfigurationError when reportlab is not installed.
    """
    lang = _check_lang(lang)
    serif, sans = _pdf_fonts()
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    t = _translator(lang)
    r = result.to_json()
    colour = colors.HexColor(_COLOURS.get(result.report, "#555555"))
    body = ParagraphStyle("body", fontName=serif, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    h1 = ParagraphStyle("h1", fontName=sans, fontSize=16, leading=20, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=sans, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    verdict_style = ParagraphStyle(
        "verdict", fontName=sans, fontSize=18, leading=24, textColor=colors.white, wordWrap="CJK"
    )

    def p(text: object, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(xml_escape("" if text is None else str(text)), style)

    def table(rows: Sequence[Sequence[object]], widths: Sequence[float], header: bool = False) -> Table:
        cells = [[c if isinstance(c, Paragraph) else p(c) for c in row] for row in rows]
        style = [
            ("FONTNAME", (0, 0), (-1, -1), serif),  # the cell default is Helvetica, which is not embedded
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
        else:
            style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f4f4f4")))
        out = Table(cells, colWidths=list(widths), repeatRows=1 if header else 0)
        out.setStyle(TableStyle(style))
        return out

    verdict_text = f"{t('verdict')}: {t(r['indication'], 'verdicts')} ({r['indication']})"
    if r["sub_indication"]:
        verdict_text += f" — {r['sub_indication']}"
    verdict = Table([[p(verdict_text, verdict_style)]], colWidths=[180 * mm])
    verdict.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), sans),
                ("BACKGROUND", (0, 0), (-1, -1), colour),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    story: list[Any] = [p(t("title"), h1), verdict, Spacer(1, 4 * mm)]
    doc_rows: list[list[object]] = []
    if file_name:
        doc_rows.append([t("file_name"), file_name])
    doc_rows += [
        [t("format"), r["document"]["format"]],
        [t("verified_at"), r["verified_at"]],
        ["SHA-256", r["document"]["sha256"]],
        ["SM3", r["document"]["sm3"]],
        [t("trust_sources"), ", ".join(r["trust_sources"]) or t("none")],
    ]
    story += [p(t("document"), h2), table(doc_rows, (40 * mm, 140 * mm))]
    for warning in r["warnings"]:
        story.append(p(f"{t('warnings')}: {warning}", small))
    story.append(p(f"{t('signatures')} ({len(r['signatures'])})", h2))
    if not r["signatures"]:
        story.append(p(t("no_signature")))
    for sig in r["signatures"]:
        head = (
            f"{t('signature')} {sig['index'] + 1}: {t(sig['indication'], 'verdicts')} ({sig['indication']})"
        )
        if sig["sub_indication"]:
            head += f" — {sig['sub_indication']}"
        story.append(
            p(head, ParagraphStyle("sig", parent=h2, fontSize=11, textColor=_pdf_colour(sig["indication"])))
        )
        rows: list[list[object]] = [
            [t("signer"), sig["signer"]["subject"] or "—"],
            [t("serial"), sig["signer"]["serial"] or "—"],
            [t("issuer"), sig["signer"]["issuer"] or "—"],
        ]
        if sig["seal"]:
            rows += [
                [t("es_id"), sig["seal"]["es_id"]],
                [t("seal_name"), sig["seal"]["name"] or "—"],
                [t("organisation"), sig["seal"]["organisation"] or "—"],
            ]
        rows += [
            [t("signing_time"), sig["signing_time"] or "—"],
            [t("timestamp_time"), sig["timestamp_time"] or "—"],
            [t("location"), sig["location"] or "—"],
            [t("format"), sig["format"]],
        ]
        story.append(table(rows, (40 * mm, 140 * mm)))
        story.append(Spacer(1, 2 * mm))
        check_rows: list[list[object]] = [[t("check"), t("status"), t("detail")]]
        for check in sig["checks"]:
            status = t(check["status"], "statuses")
            if check.get("sub_indication"):
                status += f" ({check['sub_indication']})"
            check_rows.append(
                [
                    p(f"{t(check['name'], 'checks')} [{check['name']}]", small),
                    p(status, small),
                    p(check["detail"], small),
                ]
            )
        story.append(table(check_rows, (50 * mm, 35 * mm, 95 * mm), header=True))
        if sig["warnings"]:
            story.append(p(t("warnings"), ParagraphStyle("w", parent=body, fontName=sans, spaceBefore=4)))
            story += [p(f"• {w}", small) for w in sig["warnings"]]
    story += [Spacer(1, 6 * mm), p(t("footer"), small)]

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=_words(_LABELS["title"], lang),
        author="trustsvc",
        creator="trustsvc",
        subject=f"{r['indication']} {r['document']['sha256']}",
        initialFontName=serif,  # else the canvas starts in Helvetica, a font the PDF would not embed
    )
    doc.build(story)
    return out.getvalue()


def _pdf_colour(indication: str) -> Any:
    from reportlab.lib import colors

    return colors.HexColor(_COLOURS.get(indication, "#555555"))


# --- signed reports ----------------------------------------------------------------------------------------


def sign_report(json_bytes: bytes, signer: Signer, chain: Sequence[bytes]) -> bytes:
    """Return the signed report: the ``trustsvc-signed-json/1`` envelope (SM2) over the report's payload.

    ``json_bytes`` is a JSON report (:func:`report_json` or any serialisation of ``to_json()``); it is
    parsed, checked to be a schema-1 report, given ``"type": "trustsvc.verification-report"`` and signed in
    canonical form. ``chain``: DER certificates, the signer's first (normally
    ``TrustListService.service_signer()``). Raises MalformedInput for anything that is not a report, so the
    service's key never signs arbitrary content.
    """
    try:
        body = json.loads(json_bytes)
    except (ValueError, UnicodeError):
        raise MalformedInput("the report is not JSON") from None
    _check_report(body)
    body = {**body, "type": REPORT_TYPE}
    if not chain:
        raise InvalidInput("the signer's certificate is needed")
    return sign_statement(_canonical(body), signer, tuple(bytes(c) for c in chain))


def verify_signed_report(envelope: bytes) -> tuple[dict[str, Any], tuple[bytes, ...]]:
    """Return (the report, the signer's certificates, DER, the signer's first) of a signed report.

    Checks the envelope, the SM2 signature over the payload bytes with the first certificate, and that the
    payload is a verification report. Whether that certificate is the service's (pinned, or chaining to an
    anchor) is the caller's decision. Raises MalformedInput (not a signed report) or InvalidSignature.
    """
    if not isinstance(envelope, bytes | bytearray) or len(envelope) > MAX_SIGNED_REPORT:
        raise MalformedInput(f"a signed report is at most {MAX_SIGNED_REPORT} bytes of JSON")
    try:
        outer = json.loads(envelope)
        if not isinstance(outer, dict) or outer.get("format") != ENVELOPE_FORMAT:
            raise MalformedInput(f"not a {ENVELOPE_FORMAT} document")
        if outer.get("signature_algorithm") != SignatureAlgorithm.SM2_SM3.value:
            raise MalformedInput("unsupported signature_algorithm (expected sm2-sm3)")
        uid = str(outer.get("sm2_user_id", "")).encode("ascii")
        payload = base64.b64decode(outer["payload"], validate=True)
        signature = base64.b64decode(outer["signature"], validate=True)
        pems = outer["certificates"]
        if not isinstance(pems, list) or not pems:
            raise MalformedInput("the signed report carries no certificate")
        certificates = tuple(_certificate_der(text) for text in pems)
        spki = x509.Certificate.load(certificates[0], strict=True).public_key
    except MalformedInput:
        raise
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise MalformedInput("the signed report is not well-formed") from None
    verify_signature(spki, SignatureAlgorithm.SM2_SM3, payload, signature, uid=uid)
    try:
        body = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeError):
        raise MalformedInput("the signed payload is not JSON") from None
    _check_report(body)
    if body.get("type") != REPORT_TYPE:
        raise MalformedInput(f"the signed payload is not a {REPORT_TYPE}")
    return body, certificates


def _check_report(body: Any) -> None:
    if (
        not isinstance(body, dict)
        or body.get("schema_version") != SCHEMA_VERSION
        or not isinstance(body.get("document"), dict)
        or body.get("indication") not in _VERDICTS
        or not isinstance(body.get("signatures"), list)
        or body.get("type", REPORT_TYPE) != REPORT_TYPE
    ):
        raise MalformedInput(f"not a verification report of schema_version {SCHEMA_VERSION}")


def _certificate_der(text: object) -> bytes:
    if not isinstance(text, str) or not pem.detect(text.encode("ascii")):
        raise MalformedInput("certificates are PEM strings")
    _, _, der = pem.unarmor(text.encode("ascii"))
    return bytes(der)
