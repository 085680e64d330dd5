"""``trustsvc license issue | show | revoke | status | import``: licences on the command line, for a principal
holding the issuing seal's grant; bulk issuance from CSV / JSON Lines that goes on past bad rows, resumes
after an interruption and refuses bad files before issuing anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import CliRun
from tests.licences import BUSINESS, FIELDS, HOLDER, ISSUER, ISSUER_NAME, OPERATIONS, OPERATIONS_FIELDS
from trustsvc.audit import AuditRecord
from trustsvc.cli import cli_actor
from trustsvc.config import Settings
from trustsvc.keys.sm3 import sm3
from trustsvc.license.identifier import build
from trustsvc.license.issuance import AUDIT_ISSUE, STATEMENT_TYPE
from trustsvc.seal.status import verify_status_answer
from trustsvc.service import TrustService

OPS_HEADER = "case_id,matter_code,name,sex,citizen_id,category,operation_item,first_issued_on"


@pytest.fixture
def es_id(run_cli: CliRun) -> str:
    """A home with the SM2 PKI, an API key 审批系统 and the issuing organisation's seal granted to it."""
    assert run_cli("init").exit_code == 0
    key = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert key.exit_code == 0, key.stderr
    made = run_cli(
        "seal", "create", "--org", ISSUER, "--org-name", ISSUER_NAME, "--kind", "organisation",
        "--grant", "审批系统",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def opened(settings: Settings) -> Iterator[TrustService]:
    """The service on the command line's home (real clock), to check what the commands did."""
    service = TrustService.from_settings(settings)
    try:
        yield service
    finally:
        service.close()


def issue(run_cli: CliRun, fields: Path, out: Path, *extra: str) -> Result:
    return run_cli(
        "license", "issue", "--type", BUSINESS, "--case-id", "CASE-1", "--matter-code", "M-001",
        "--fields", str(fields), "--system", "审批系统", "--as", "审批系统", "--out-dir", str(out), *extra,
    )  # fmt: skip


def printed(result: Result, label: str) -> str:
    """Return the value of ``label:`` in the command's output."""
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(f"{label}:")]
    return line.split(":", 1)[1].strip()


def import_file(run_cli: CliRun, path: Path, type_code: str, *extra: str) -> Result:
    return run_cli(
        "license",
        "import",
        str(path),
        "--type",
        type_code,
        "--system",
        "审批系统",
        "--as",
        "审批系统",
        *extra,
    )


def ops_row(case_id: str, citizen_id: str = OPERATIONS_FIELDS["citizen_id"]) -> str:
    f = OPERATIONS_FIELDS
    return (
        f"{case_id},M-7,{f['name']},{f['sex']},{citizen_id},{f['category']},{f['operation_item']},2020-03-01"
    )


# --- issue -----------------------------------------------------------------------------------------


def test_issue_writes_both_sealed_files_and_a_retry_returns_the_same_licence(
    run_cli: CliRun, es_id: str, opened: TrustService, tmp_path: Path
) -> None:
    fields, out = tmp_path / "fields.json", tmp_path / "out"
    fields.write_text(json.dumps(FIELDS, ensure_ascii=False), encoding="utf-8")
    result = issue(run_cli, fields, out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("issued: 营业执照 for case CASE-1 of 审批系统")
    identifier = printed(result, "identifier")
    assert printed(result, "status") == f"http://127.0.0.1:8080/licenses/{identifier}/status"

    record = opened.licences.get(identifier)
    assert record.es_id == es_id and record.holder_code == HOLDER and record.system == "审批系统"
    for fmt, digest in (("pdf", record.pdf_sm3), ("ofd", record.ofd_sm3)):
        path = out / f"{identifier}.{fmt}"
        assert printed(result, fmt) == f"{path} (SM3 {digest})"
        data = path.read_bytes()
        assert sm3(data).hex() == digest
        verdict = opened.verifier.verify(data)
        assert verdict.report == "VALID" and verdict.format == fmt
    assert not [p for p in out.iterdir() if p.suffix == ".tmp"]

    again = issue(run_cli, fields, out)
    assert again.exit_code == 0, again.stderr
    assert "already issued" in again.stderr and printed(again, "identifier") == identifier
    assert opened.licences.count() == 1
    with opened.session(read_only=True) as session, session.begin():
        (audit,) = session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_ISSUE)).scalars()
        assert audit.actor == cli_actor() and audit.details["principal"].startswith("apikey:")


def test_issue_reads_fields_from_stdin_and_refuses_bad_fields_with_exit_2(
    es_id: str, cli_env: dict[str, str], opened: TrustService, tmp_path: Path
) -> None:
    from trustsvc.cli import main

    out = tmp_path / "out"

    def run(stdin: str, *extra: str) -> Result:
        args = [
            "license", "issue", "--type", OPERATIONS, "--case-id", "OPS-1", "--matter-code", "M-7",
            "--fields", "-", "--system", "审批系统", "--as", "审批系统", "--out-dir", str(out), *extra,
        ]  # fmt: skip
        return CliRunner().invoke(main, args, input=stdin, env=cli_env, catch_exceptions=False)

    bad_id = run(json.dumps({**OPERATIONS_FIELDS, "citizen_id": "110105194912310021"}))
    assert bad_id.exit_code == 2 and bad_id.stdout == ""
    assert bad_id.stderr.count("\n") == 1 and "citizen_id (公民身份号码)" in bad_id.stderr
    not_json = run("{'name': 1}")
    assert not_json.exit_code == 2 and "--fields is not UTF-8 JSON" in not_json.stderr
    not_object = run("[1, 2]")
    assert not_object.exit_code == 2 and "--fields must be a JSON object" in not_object.stderr
    assert not out.exists() and opened.licences.count() == 0

    made = run(
        json.dumps(OPERATIONS_FIELDS, ensure_ascii=False), "--holder-name", "李四（电工）", "--seal", es_id
    )
    assert made.exit_code == 0, made.stderr
    record = opened.licences.get(printed(made, "identifier"))
    assert record.holder_name == "李四（电工）" and record.holder_code == OPERATIONS_FIELDS["citizen_id"]
    assert (out / f"{record.identifier}.ofd").read_bytes() == record.ofd


# --- show, status, revoke --------------------------------------------------------------------------


def test_show_status_and_revoke(run_cli: CliRun, es_id: str, opened: TrustService, tmp_path: Path) -> None:
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps(FIELDS, ensure_ascii=False), encoding="utf-8")
    identifier = printed(issue(run_cli, fields, tmp_path / "out"), "identifier")
    record = opened.licences.get(identifier)

    shown = run_cli("license", "show", identifier)
    assert shown.exit_code == 0, shown.stderr
    assert printed(shown, "type") == f"营业执照 ({BUSINESS})" and printed(shown, "seal") == es_id
    assert printed(shown, "status").startswith("valid since ")
    assert printed(shown, "pdf") == f"{len(record.pdf)} bytes, SM3 {record.pdf_sm3}"
    assert f"  legal_representative: {FIELDS['legal_representative']}" in shown.stdout
    assert "%PDF" not in shown.stdout and "PK" not in shown.stdout  # the files themselves never
    assert record.holder_token is not None
    assert record.holder_token not in shown.stdout  # the holder's links only on request
    links = run_cli("license", "show", identifier, "--holder-links")
    assert printed(links, "holder pdf") == opened.licences.holder_download_urls(record)["pdf"]
    ofd_link = f"/licenses/{identifier}/licence.ofd?token={record.holder_token}"
    assert printed(links, "holder ofd").endswith(ofd_link)
    body = json.loads(run_cli("license", "show", identifier, "--json").stdout)
    assert body["holder"] == {"name": FIELDS["name"], "code": HOLDER, "code_type": "001"}
    assert body["files"]["ofd"] == {"bytes": len(record.ofd), "sm3": record.ofd_sm3}
    assert body["status"] == "valid" and body["fields"]["uscc"] == HOLDER and body["valid_to"] is None

    status = run_cli("license", "status", identifier)
    assert status.exit_code == 0, status.stderr
    assert (
        status.stdout.startswith(f"{identifier}: valid since ") and "issuer " + ISSUER_NAME in status.stdout
    )
    answer = run_cli("license", "status", identifier, "--json", "--nonce", "cli-1")
    statement = verify_status_answer(answer.stdout.encode(), statement_type=STATEMENT_TYPE).statement
    assert statement["status"] == "valid" and statement["nonce"] == "cli-1"
    assert statement["files"]["pdf_sm3"] == record.pdf_sm3

    revoked = run_cli("license", "revoke", identifier, "--kind", "注销", "--reason", "企业申请注销")
    assert revoked.exit_code == 0, revoked.stderr
    assert revoked.stdout.startswith(f"{identifier}: revoked (注销) since ")
    assert "revoked since" in run_cli("license", "status", identifier).stdout
    body = json.loads(run_cli("license", "show", identifier, "--json").stdout)
    assert (body["status"], body["revocation_kind"], body["reason"]) == ("revoked", "注销", "企业申请注销")

    twice = run_cli("license", "revoke", identifier, "--kind", "revoke", "--reason", "again")
    assert twice.exit_code == 1 and twice.stderr.count("\n") == 1 and "is revoked (注销)" in twice.stderr
    unknown = run_cli("license", "show", str(build(BUSINESS, ISSUER, "99999999999", 1)))
    assert unknown.exit_code == 1 and unknown.stderr.startswith("trustsvc: error: no licence 1.2.156.3005.2.")
    malformed = run_cli("license", "status", "1.2.3")
    assert malformed.exit_code == 2 and malformed.stderr.count("\n") == 1


# --- import ----------------------------------------------------------------------------------------


def test_import_goes_on_past_bad_rows_and_a_rerun_skips_what_was_issued(
    run_cli: CliRun, es_id: str, opened: TrustService, tmp_path: Path
) -> None:
    backlog, errors, out = tmp_path / "backlog.csv", tmp_path / "errors.jsonl", tmp_path / "out"
    lines = [
        OPS_HEADER,
        ops_row("C-1"),
        ops_row("C-2"),
        ops_row("C-3", "110105194912310021"),  # check character wrong
        "C-4,M-7,李四",  # too few cells
        "",
        ops_row("C-5"),
    ]
    backlog.write_bytes("\ufeff".encode() + "\r\n".join(lines).encode())
    result = import_file(run_cli, backlog, OPERATIONS, "--errors", str(errors), "--out-dir", str(out))
    assert result.exit_code == 1, result.stderr
    assert result.stdout.splitlines()[-1] == "3 issued, 0 already issued, 2 failed"
    issued = [line for line in result.stdout.splitlines() if ": issued " in line]
    assert [line.split(":")[0] for line in issued] == ["line 2", "line 3", "line 7"]
    failures = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert [(f["line"], f["case_id"], f["field"], f["rule"]) for f in failures] == [
        (4, "C-3", "citizen_id", "citizen ID check character"),
        (5, "C-4", "row", "cell count"),
    ]
    assert "{" not in result.stderr  # with --errors, the failures go to the file only

    identifiers = [line.split()[3] for line in issued]
    assert len({*identifiers}) == 3 and opened.licences.count() == 3
    for identifier in identifiers:
        record = opened.licences.get(identifier)
        assert record.case_id in ("C-1", "C-2", "C-5") and record.matter_code == "M-7"
        assert (out / f"{identifier}.pdf").read_bytes() == record.pdf
    assert opened.verifier.verify((out / f"{identifiers[0]}.pdf").read_bytes()).report == "VALID"

    again = import_file(run_cli, backlog, OPERATIONS)
    assert again.exit_code == 1
    assert again.stdout.splitlines()[-1] == "0 issued, 3 already issued, 2 failed"
    assert [json.loads(line)["line"] for line in again.stderr.splitlines()] == [4, 5]
    assert opened.licences.count() == 3


def test_import_of_json_lines_with_a_holder_name_issues_every_row(
    run_cli: CliRun, es_id: str, opened: TrustService, tmp_path: Path
) -> None:
    backlog = tmp_path / "backlog.data"
    rows = [
        {"case_id": "B-1", "matter_code": "M-1", "fields": FIELDS, "holder": {"name": "湘江示范科技"}},
        {"case_id": "B-2", "matter_code": "M-1", "fields": {**FIELDS, "legal_representative": "王五"}},
    ]
    backlog.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    unknown_format = import_file(run_cli, backlog, BUSINESS)
    assert unknown_format.exit_code == 2 and "--csv or --jsonl" in unknown_format.stderr

    result = import_file(run_cli, backlog, BUSINESS, "--jsonl", "--seal", es_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2 issued, 0 already issued, 0 failed"
    first = opened.licences.get(result.stdout.splitlines()[0].split()[3])
    assert first.case_id == "B-1" and first.holder_name == "湘江示范科技"


def test_import_stops_at_an_error_every_row_would_hit(
    run_cli: CliRun, es_id: str, opened: TrustService, tmp_path: Path
) -> None:
    assert run_cli("apikey", "create", "另一系统", "--role", "business-system").exit_code == 0
    backlog = tmp_path / "backlog.csv"
    backlog.write_text(
        "\n".join([OPS_HEADER, ops_row("C-1"), ops_row("C-2"), ops_row("C-3")]), encoding="utf-8"
    )
    result = run_cli(
        "license", "import", str(backlog), "--type", OPERATIONS, "--system", "另一系统", "--as", "另一系统",
        "--seal", es_id,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "0 issued, 0 already issued, 1 failed, 2 not attempted: stopped at line 2"
    )
    (failure,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert failure["line"] == 2 and failure["problem"] == "forbidden"
    assert opened.licences.count() == 0


@pytest.mark.parametrize(
    ("content", "extra", "words"),
    [
        (f"{OPS_HEADER}\n{ops_row('C-1')}\n".encode("gbk"), (), "line 2 is not UTF-8"),
        (f"{OPS_HEADER.replace(',citizen_id', '')}\n".encode(), (), "missing column(s) citizen_id"),
        (f"{OPS_HEADER},备注\n".encode(), (), "unknown column(s) '备注'"),
        (f"{OPS_HEADER}\n".encode(), ("--type", "11100000MB03271699999"), "no licence type"),
    ],
    ids=["gbk", "missing-column", "unknown-column", "unknown-type"],
)
def test_import_refuses_a_bad_file_before_issuing_anything(
    run_cli: CliRun,
    es_id: str,
    opened: TrustService,
    tmp_path: Path,
    content: bytes,
    extra: tuple[str, ...],
    words: str,
) -> None:
    backlog = tmp_path / "backlog.csv"
    backlog.write_bytes(content)
    result = import_file(run_cli, backlog, OPERATIONS, *extra)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and words in result.stderr and result.stdout == ""
    assert opened.licences.count() == 0
