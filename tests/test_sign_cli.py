"""``trustsvc sign``: seal a PDF or OFD on the command line for a principal holding the seal's grant;
bad input ends with exit code 2 and one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509
from sqlalchemy import select

from tests.conftest import CliRun
from tests.test_ofd_signing import document
from tests.test_pdf_sealing import encrypted_pdf, make_pdf, validate, widget_rect
from tests.test_sealing_service import PNG, ofd_checks
from trustsvc.audit import AuditRecord
from trustsvc.cli import cli_actor
from trustsvc.config import Settings
from trustsvc.keys.sm3 import sm3
from trustsvc.pdf import sm2_validation_context
from trustsvc.service import TrustService

ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"


@pytest.fixture
def es_id(run_cli: CliRun) -> str:
    """A home with the SM2 PKI, an API key 审批系统 and a contract seal granted to it."""
    assert run_cli("init").exit_code == 0
    key = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert key.exit_code == 0, key.stderr
    made = run_cli(
        "seal", "create", "--org", ORG, "--org-name", ORG_NAME, "--kind", "contract", "--grant", "审批系统"
    )
    assert made.exit_code == 0, made.stderr
    return made.stdout.strip()


def _records(settings: Settings) -> list[AuditRecord]:
    service = TrustService.from_settings(settings)
    try:
        with service.session(read_only=True) as session, session.begin():
            rows = list(
                session.execute(
                    select(AuditRecord).where(AuditRecord.action == "seal.apply").order_by(AuditRecord.seq)
                ).scalars()
            )
            session.expunge_all()
            assert service.audit.verify(session) > 0
        return rows
    finally:
        service.close()


def _root(settings: Settings) -> x509.Certificate:
    service = TrustService.from_settings(settings)
    try:
        return service.ca.ca("sm2-root").certificate
    finally:
        service.close()


def test_sign_seals_a_pdf_that_validates_and_is_audited(
    run_cli: CliRun, es_id: str, settings: Settings, tmp_path: Path
) -> None:
    source, out = tmp_path / "合同.pdf", tmp_path / "sealed.pdf"
    source.write_bytes(make_pdf(2))
    result = run_cli(
        "sign", str(source), "--seal", es_id, "--out", str(out), "--as", "审批系统",
        "--page", "2", "--x", "120", "--y", "200", "--level", "B-T", "--reason", "同意",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert result.stdout.count("\n") == 1 and es_id in result.stdout and sm3(data).hex() in result.stdout
    context = sm2_validation_context(trust_roots=[_root(settings)], revocation_mode="soft-fail")
    status = validate(data, context)
    assert status.bottom_line and status.timestamp_validity is not None
    assert widget_rect(data)[0] == pytest.approx(120 * 72 / 25.4, abs=0.01)

    (record,) = _records(settings)
    assert record.actor == cli_actor()  # the operator acted ...
    assert record.details["principal"].startswith("apikey:")  # ... with the grant of the API key
    assert record.details["output_sm3"] == sm3(data).hex() and record.details["pages"] == [2]


def test_sign_seals_an_ofd_on_a_keyword_and_across_pages(run_cli: CliRun, es_id: str, tmp_path: Path) -> None:
    source, out = tmp_path / "licence.ofd", tmp_path / "sealed.ofd"
    doc = document(2)
    source.write_bytes(doc.ofd)
    result = run_cli(
        "sign", str(source), "--seal", es_id, "--out", str(out), "--as", "审批系统", "--keyword", "盖章处"
    )
    assert result.exit_code == 0, result.stderr
    (check,) = ofd_checks(out.read_bytes())
    assert check.stamp_annots[0].page_index == 0
    result = run_cli(
        "sign", str(out), "--seal", es_id, "--out", str(out), "--as", "审批系统", "--across-pages"
    )
    assert result.exit_code == 0, result.stderr
    assert len(ofd_checks(out.read_bytes())) == 2  # the second seal kept the first valid


@pytest.mark.parametrize(
    ("content", "extra", "words"),
    [
        (PNG, (), "neither a PDF nor an OFD: it looks like a PNG image"),
        (b"%PDF-1.7\nnonsense", (), "could not be read"),
        (None, (), "encrypted"),
        (make_pdf(), ("--page", "5"), "page 5 does not exist: the document has 1 page"),
        (make_pdf(), ("--level", "B-LT", "--across-pages"), "OFD documents only"),
    ],
    ids=["png", "broken-pdf", "encrypted", "page-out-of-range", "pdf-across-pages"],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    run_cli: CliRun, es_id: str, tmp_path: Path, content: bytes | None, extra: tuple[str, ...], words: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    source, out = work / "in.bin", work / "out.pdf"
    source.write_bytes(encrypted_pdf() if content is None else content)
    placement = () if "--across-pages" in extra else ("--x", "20", "--y", "30")
    result = run_cli(
        "sign", str(source), "--seal", es_id, "--out", str(out), "--as", "审批系统", *placement, *extra
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("trustsvc: error: ")
    assert words in result.stderr
    assert not out.exists()
    assert list(work.iterdir()) == [source]  # no temporary file left either


def test_missing_file_and_unknown_principal_exit_2(run_cli: CliRun, es_id: str, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    result = run_cli(
        "sign", str(tmp_path / "nope.pdf"), "--seal", es_id, "--out", str(out), "--as", "审批系统"
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "cannot read" in result.stderr
    (tmp_path / "in.pdf").write_bytes(make_pdf())
    result = run_cli(
        "sign",
        str(tmp_path / "in.pdf"),
        "--seal",
        es_id,
        "--out",
        str(out),
        "--as",
        "无此系统",
        "--x",
        "1",
        "--y",
        "1",
    )
    assert result.exit_code == 2 and "no active API key" in result.stderr


def test_a_principal_without_the_grant_cannot_seal(run_cli: CliRun, es_id: str, tmp_path: Path) -> None:
    (tmp_path / "in.pdf").write_bytes(make_pdf())
    out = tmp_path / "out.pdf"
    result = run_cli(
        "sign",
        str(tmp_path / "in.pdf"),
        "--seal",
        es_id,
        "--out",
        str(out),
        "--as",
        "user:张三",
        "--x",
        "1",
        "--y",
        "1",
    )
    assert result.exit_code == 1
    assert result.stderr == f"trustsvc: error: user:张三 may not apply seal {es_id}\n"
    assert not out.exists()
    run_cli("seal", "suspend", es_id, "--reason", "遗失")
    result = run_cli(
        "sign",
        str(tmp_path / "in.pdf"),
        "--seal",
        es_id,
        "--out",
        str(out),
        "--as",
        "审批系统",
        "--x",
        "1",
        "--y",
        "1",
    )
    assert result.exit_code == 1 and "suspended since" in result.stderr


def test_as_is_required(run_cli: CliRun, es_id: str, tmp_path: Path) -> None:
    (tmp_path / "in.pdf").write_bytes(make_pdf())
    result = run_cli("sign", str(tmp_path / "in.pdf"), "--seal", es_id, "--out", str(tmp_path / "o.pdf"))
    assert result.exit_code == 2 and "--as" in result.stderr
