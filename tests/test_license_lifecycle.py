"""Licence lifecycle after issuance (trustsvc.license.issuance, routes/licenses.py, cli.py): change (变更) to
the next version, the holder's capability download links, and the JSON-lines export for the national
catalogue.

The clock is pinned far from the real time (tests/licences.py ``pinned_clock``): everything, PDF signing
times included, follows the service clock.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from tests.conftest import CliRun, FakeClock
from tests.licences import (
    BUSINESS,
    FIELDS,
    HOLDER,
    ISSUER,
    ISSUER_NAME,
    OPERATIONS,
    OPERATIONS_FIELDS,
    Issuer,
    api_key,
    body,
    pinned_clock,
)
from trustsvc.audit import AuditRecord
from trustsvc.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from trustsvc.license import issuance
from trustsvc.license.identifier import parse
from trustsvc.license.issuance import AUDIT_CHANGE, LicenceRecord
from trustsvc.license.models import Licence, LicenceState

METADATA_KEYS = {
    "ZZMC",
    "ZZLXDM",
    "ZZBH",
    "ZZBS",
    "ZZBFJG",
    "ZZBFJGDM",
    "ZZBFRQ",
    "CZZT",
    "CZZTDM",
    "CZZTDMLXDM",
    "ZZYXQQSRQ",
    "ZZYXQJZRQ",
}
CHANGED = {**FIELDS, "legal_representative": "王五"}


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


def change(
    issuer: Issuer,
    identifier: str,
    case_id: str = "CHANGE-1",
    fields: dict[str, Any] = CHANGED,
    **options: Any,
) -> tuple[LicenceRecord, bool]:
    options.setdefault("reason", "法定代表人变更")
    return issuer.service.licences.change(
        identifier, issuer.system, case_id, "M-002", fields, principal=issuer.principal, **options
    )


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(url: str) -> str:
    """The path and query of an absolute URL, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# --- change ------------------------------------------------------------------------------------------


def test_change_issues_the_next_version_and_supersedes_the_previous(issuer: Issuer, clock: FakeClock) -> None:
    service = issuer.service
    first, _ = issuer.issue()
    clock.advance(minutes=3)
    new, created = change(issuer, first.identifier)

    assert created
    assert parse(new.identifier) == parse(first.identifier).next_version()
    assert (new.version, new.serial, new.type_code, new.issuer_code) == (
        2,
        first.serial,
        BUSINESS,
        ISSUER,
    )
    assert new.holder_code == HOLDER and new.fields["legal_representative"] == "王五"
    assert new.change_reason == "法定代表人变更" and first.change_reason is None
    assert new.holder_token and first.holder_token and new.holder_token != first.holder_token
    assert new.pdf != first.pdf
    for data in (new.pdf, new.ofd):
        result = service.verifier.verify(data)
        assert result.report == "VALID", [c for s in result.signatures for c in s.checks]
        assert result.signatures[0].seal_es_id == issuer.es_id

    old_status = service.licences.status(first.identifier)
    assert old_status.status is LicenceState.SUPERSEDED
    assert old_status.superseded_by == new.identifier and old_status.since == new.created_at == clock.now
    assert service.licences.status(new.identifier).status is LicenceState.VALID

    with service.session(read_only=True) as session, session.begin():
        (audit,) = session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_CHANGE)).scalars()
    details = json.loads(audit.details_json)
    assert audit.subject == f"licence:{new.identifier}"
    assert (details["previous"], details["identifier"]) == (first.identifier, new.identifier)
    assert details["change_reason"] == "法定代表人变更" and details["pdf_sm3"] == new.pdf_sm3


def test_a_change_keeps_the_term_counted_from_the_first_issue(issuer: Issuer, clock: FakeClock) -> None:
    """特种作业操作证 is valid six years from issue: a change a month later corrects content, not the term."""
    first, _ = issuer.issue("CASE-OP", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    clock.advance(timedelta(days=31))
    changed_fields = {**OPERATIONS_FIELDS, "operation_item": "高压电工作业"}
    new, _ = change(issuer, first.identifier, fields=changed_fields, reason="准操项目变更")
    assert new.issued_on == first.issued_on + timedelta(days=31)
    assert (new.valid_from, new.valid_to) == (first.valid_from, first.valid_to)
    assert first.valid_to is not None and first.valid_to.year == first.valid_from.year + 6


def test_the_same_change_case_twice_returns_the_same_version_and_another_request_conflicts(
    issuer: Issuer,
) -> None:
    first, _ = issuer.issue()
    new, _ = change(issuer, first.identifier)
    # A retry names the version it changed (now superseded): the stored answer, not "superseded".
    again, created = change(issuer, first.identifier)
    assert not created
    assert again.identifier == new.identifier and (again.pdf, again.ofd) == (new.pdf, new.ofd)

    with pytest.raises(Conflict) as caught:
        change(issuer, first.identifier, fields={**FIELDS, "legal_representative": "赵六"})
    assert caught.value.extra["field"] == "case_id"
    with pytest.raises(Conflict) as caught:
        issuer.issue("CHANGE-1")  # a case id names one request, issuance or change
    assert caught.value.extra["field"] == "case_id"
    assert issuer.service.licences.count() == 2


def test_only_the_latest_unrevoked_version_can_be_changed_by_its_issuing_system(
    issuer: Issuer, clock: FakeClock
) -> None:
    licences = issuer.service.licences
    first, _ = issuer.issue()
    new, _ = change(issuer, first.identifier)

    with pytest.raises(InvalidState) as stale:
        change(issuer, first.identifier, "CHANGE-2")
    assert stale.value.extra["latest"] == new.identifier and new.identifier in stale.value.detail

    with pytest.raises(Forbidden):
        licences.change(
            new.identifier, "另一个系统", "X-1", "M-002", CHANGED, reason="r", principal=issuer.principal
        )

    clock.advance(minutes=1)
    licences.revoke(new.identifier, "企业注销", kind="注销", actor="user:admin")
    with pytest.raises(InvalidState) as revoked:
        change(issuer, new.identifier, "CHANGE-3")
    assert revoked.value.extra["since"] == stamp(clock.now) and stamp(clock.now) in revoked.value.detail
    assert licences.count() == 2


def test_bad_change_requests_name_the_field(issuer: Issuer) -> None:
    first, _ = issuer.issue()
    # A valid USCC, but another holder: a new licence, not a change.
    with pytest.raises(InvalidInput) as caught:
        change(issuer, first.identifier, fields={**FIELDS, "uscc": ISSUER})
    assert (caught.value.extra["field"], caught.value.extra["rule"]) == ("holder.code", "holder change")
    for reason in ("", "  ", None, "x" * 1001):
        with pytest.raises(InvalidInput) as caught:
            change(issuer, first.identifier, reason=reason)
        assert caught.value.extra["field"] == "reason"
    with pytest.raises(InvalidInput) as caught:
        change(issuer, first.identifier, fields={**FIELDS, "domicile": ""})
    assert caught.value.extra["field"] == "domicile"
    with pytest.raises(NotFound):
        change(issuer, str(parse(first.identifier).next_version()))
    with pytest.raises(InvalidInput) as caught:
        change(issuer, first.identifier[:-1] + ("A" if first.identifier[-1] != "A" else "B"))
    assert caught.value.extra["field"] == "identifier"
    assert issuer.service.licences.count() == 1


def test_two_concurrent_changes_one_wins_and_the_other_conflicts_naming_the_winner(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    licences = issuer.service.licences
    first, _ = issuer.issue()
    real_seal = licences._seal
    # Both requests pass every check before either stores: they meet here, in the sealing of their PDF.
    both_checked = threading.Barrier(2, timeout=60)

    def seal(data: bytes, **options: Any) -> bytes:
        if options["format"] == "pdf":
            both_checked.wait()
        return real_seal(data, **options)

    monkeypatch.setattr(licences, "_seal", seal)
    outcomes: dict[str, Any] = {}

    def run(case_id: str, representative: str) -> None:
        try:
            outcomes[case_id] = change(
                issuer, first.identifier, case_id, {**FIELDS, "legal_representative": representative}
            )[0]
        except Exception as exc:
            outcomes[case_id] = exc

    threads = [threading.Thread(target=run, args=a) for a in (("RACE-A", "王五"), ("RACE-B", "赵六"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    winners = [o for o in outcomes.values() if isinstance(o, LicenceRecord)]
    losers = [o for o in outcomes.values() if not isinstance(o, LicenceRecord)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    (winner,), (loser,) = winners, losers
    assert isinstance(loser, Conflict), repr(loser)
    assert loser.extra["latest"] == winner.identifier and winner.identifier in loser.detail
    assert winner.version == 2 and licences.count() == 2
    assert licences.status(first.identifier).superseded_by == winner.identifier
    with issuer.service.session(read_only=True) as session, session.begin():
        changes = session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_CHANGE)).all()
    assert len(changes) == 1


# --- HTTP: change and holder links -----------------------------------------------------------------------


def test_http_change_answers_201_then_200_with_holder_links(issuer: Issuer, client: FlaskClient) -> None:
    service = issuer.service
    made = client.post("/api/v1/licenses", json=body(), headers=issuer.headers).get_json()
    base = f"{service.settings.public_base_url}/licenses/{made['identifier']}"
    token = service.licences.get(made["identifier"]).holder_token
    assert made["holder_downloads"] == {
        "pdf": f"{base}/licence.pdf?token={token}",
        "ofd": f"{base}/licence.ofd?token={token}",
    }

    path = f"/api/v1/licenses/{made['identifier']}/change"
    request = {"case_id": "CHANGE-1", "matter_code": "M-002", "fields": CHANGED, "reason": "法定代表人变更"}
    response = client.post(path, json=request, headers=issuer.headers)
    assert response.status_code == 201, response.get_json()
    changed = response.get_json()
    assert changed["created"] is True and changed["version"] == 2
    assert parse(changed["identifier"]) == parse(made["identifier"]).next_version()
    assert changed["change_reason"] == "法定代表人变更"
    assert response.headers["Location"].endswith(f"/licenses/{changed['identifier']}/status")
    assert set(changed["holder_downloads"]) == {"pdf", "ofd"}
    assert changed["holder_downloads"] != made["holder_downloads"]

    again = client.post(path, json=request, headers=issuer.headers)
    assert again.status_code == 200 and again.get_json()["identifier"] == changed["identifier"]
    assert again.get_json()["created"] is False

    def problem(response: Any) -> tuple[int, str | None]:
        assert response.mimetype == "application/problem+json"
        return response.status_code, response.get_json().get("field")

    no_reason = {k: v for k, v in request.items() if k != "reason"} | {"case_id": "CHANGE-2"}
    assert problem(client.post(path, json=no_reason, headers=issuer.headers)) == (400, "reason")
    surprise = request | {"case_id": "CHANGE-2", "type_code": BUSINESS}
    assert problem(client.post(path, json=surprise, headers=issuer.headers)) == (400, "type_code")
    stale = request | {"case_id": "CHANGE-2"}
    assert problem(client.post(path, json=stale, headers=issuer.headers)) == (409, "identifier")
    unknown = f"/api/v1/licenses/{parse(changed['identifier']).next_version()}/change"
    assert problem(client.post(unknown, json=stale, headers=issuer.headers))[0] == 404
    malformed = client.post("/api/v1/licenses/1.2.156.3005.2.x/change", json=stale, headers=issuer.headers)
    assert problem(malformed) == (400, "identifier")
    latest = f"/api/v1/licenses/{changed['identifier']}/change"
    other, _ = api_key(service, "另一个系统", "business-system")
    assert client.post(latest, json=stale, headers=other).status_code == 403
    auditor, _ = api_key(service, "审计", "auditor")
    assert client.post(latest, json=stale, headers=auditor).status_code == 403
    assert client.post(latest, json=stale).status_code == 401
    # The issuing system's own download stays.
    own = client.get(f"/api/v1/licenses/{changed['identifier']}/licence.pdf", headers=issuer.headers)
    assert own.status_code == 200 and own.data == service.licences.get(changed["identifier"]).pdf


def test_holder_links_open_each_versions_files_only_with_its_token(
    issuer: Issuer, client: FlaskClient
) -> None:
    licences = issuer.service.licences
    made = client.post("/api/v1/licenses", json=body(), headers=issuer.headers).get_json()
    stored = licences.get(made["identifier"])
    for fmt, mimetype, data in (
        ("pdf", "application/pdf", stored.pdf),
        ("ofd", "application/ofd", stored.ofd),
    ):
        response = client.get(local(made["holder_downloads"][fmt]))
        assert response.status_code == 200 and response.mimetype == mimetype and response.data == data
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{made["identifier"]}.{fmt}"'

    pdf_path = f"/licenses/{made['identifier']}/licence.pdf"
    wrong = client.get(pdf_path + "?token=" + "A" * 32)
    missing = client.get(pdf_path)
    unknown = client.get(
        f"/licenses/{parse(made['identifier']).next_version()}/licence.pdf?token={stored.holder_token}"
    )
    odd = client.get(pdf_path + "?token=%E8%AF%81" + "x" * 100)  # non-ASCII and too long: still just 404
    answers = [r.get_json() for r in (wrong, missing, unknown, odd)]
    assert [r.status_code for r in (wrong, missing, unknown, odd)] == [404] * 4
    assert all(a == answers[0] for a in answers), answers  # nothing tells a guesser which part was wrong
    assert (
        client.get(f"/licenses/1.2.156.3005.2.x/licence.pdf?token={stored.holder_token}").status_code == 400
    )

    # Each version its own token; a superseded or revoked version stays the holder's to download.
    new, _ = change(issuer, made["identifier"])
    new_links = licences.holder_download_urls(new)
    assert client.get(f"{pdf_path}?token={new.holder_token}").status_code == 404
    assert client.get(local(new_links["pdf"])).data == new.pdf
    licences.revoke(new.identifier, "企业注销", kind="注销", actor="user:admin")
    assert client.get(local(made["holder_downloads"]["pdf"])).data == stored.pdf
    assert client.get(local(new_links["ofd"])).data == new.ofd


# --- export ------------------------------------------------------------------------------------------------


def test_export_gives_one_record_per_version_with_metadata_and_derived_status(
    issuer: Issuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = issuer.service
    licences = service.licences
    one, _ = issuer.issue("CASE-1")
    two, _ = issuer.issue("CASE-2")
    person, _ = issuer.issue("CASE-3", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    clock.advance(minutes=1)
    since = clock.now
    clock.advance(minutes=1)
    changed, _ = change(issuer, one.identifier)
    clock.advance(minutes=1)
    licences.revoke(two.identifier, "违法经营", kind="吊销", actor="user:admin")

    monkeypatch.setattr(issuance, "EXPORT_BATCH", 2)  # several round trips
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(service.engine, "before_cursor_execute", capture)
    try:
        records = list(licences.export(actor="test"))
    finally:
        event.remove(service.engine, "before_cursor_execute", capture)

    assert [r["ZZBS"] for r in records] == [
        one.identifier,
        two.identifier,
        person.identifier,
        changed.identifier,
    ]
    for record in records:
        assert set(record) >= METADATA_KEYS
        assert json.loads(issuance.export_line(record)) == record
    by_id = {r["ZZBS"]: r for r in records}
    assert by_id[one.identifier]["status"] == "superseded"
    assert by_id[one.identifier]["superseded_by"] == changed.identifier
    assert by_id[one.identifier]["since"] == stamp(changed.created_at)
    assert by_id[two.identifier]["status"] == "revoked" and by_id[two.identifier]["revocation_kind"] == "吊销"
    assert by_id[two.identifier]["since"] == stamp(clock.now)
    assert by_id[person.identifier]["status"] == "valid" and by_id[changed.identifier]["status"] == "valid"
    latest = by_id[changed.identifier]
    assert (
        latest["version"] == 2
        and latest["pdf_sm3"] == changed.pdf_sm3
        and latest["ofd_sm3"] == changed.ofd_sm3
    )
    assert latest["status_url"] == licences.status_url(changed.identifier)
    assert (latest["ZZMC"], latest["ZZLXDM"], latest["ZZBH"]) == ("营业执照", BUSINESS, HOLDER)
    assert (latest["ZZBFJG"], latest["ZZBFJGDM"], latest["CZZT"]) == (ISSUER_NAME, ISSUER, FIELDS["name"])
    assert (latest["CZZTDM"], latest["CZZTDMLXDM"], latest["ZZYXQJZRQ"]) == (HOLDER, "001", "长期")
    assert by_id[person.identifier]["CZZTDMLXDM"] == "111"
    assert by_id[person.identifier]["ZZYXQJZRQ"] == person.valid_to.isoformat()

    licence_reads = [s for s in statements if re.search(r"\bFROM licences\b", s)]
    assert len(licence_reads) >= 3  # batches of 2 (plus the later-version look-ups)
    assert not [s for s in licence_reads if re.search(r"licences\.(pdf|ofd)\b", s)]  # never the files

    assert [r["ZZBS"] for r in licences.export(actor="test", type_code=OPERATIONS)] == [person.identifier]
    # Since: created (the new version), revoked, or superseded (the old one) at or after it.
    assert {r["ZZBS"] for r in licences.export(actor="test", since=since)} == {
        one.identifier,
        two.identifier,
        changed.identifier,
    }
    assert list(licences.export(actor="test", since=clock.now + timedelta(seconds=1))) == []
    with pytest.raises(InvalidInput) as caught:
        licences.export(actor="test", since=datetime(2026, 1, 1))  # no offset: a guess
    assert caught.value.extra["field"] == "since"
    with pytest.raises(InvalidInput) as caught:
        licences.export(actor="test", type_code="11100000MB03271699999")
    assert caught.value.extra["field"] == "type_code"


def test_export_includes_licences_that_expired_since(issuer: Issuer, clock: FakeClock) -> None:
    person, _ = issuer.issue("CASE-3", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert person.valid_to is not None
    clock.advance(timedelta(days=(person.valid_to - person.valid_from).days + 1, hours=12))
    since = clock.now - timedelta(days=1)
    (record,) = issuer.service.licences.export(actor="test", since=since)
    assert record["status"] == "expired" and record["ZZBS"] == person.identifier
    clock.advance(days=30)
    assert list(issuer.service.licences.export(actor="test", since=clock.now - timedelta(days=1))) == []


def test_http_export_streams_json_lines_for_admin_and_auditor(issuer: Issuer, client: FlaskClient) -> None:
    service = issuer.service
    one, _ = issuer.issue("CASE-1")
    two, _ = issuer.issue("CASE-2")
    auditor, _ = api_key(service, "审计", "auditor")
    admin, _ = api_key(service, "管理员", "admin")

    for headers in (auditor, admin):
        response = client.get("/api/v1/licenses/export", headers=headers)
        assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
        assert response.is_streamed
        lines = response.get_data(as_text=True).splitlines()
        *records, trailer = [json.loads(line) for line in lines]
        assert [r["ZZBS"] for r in records] == [one.identifier, two.identifier]
        assert trailer == {
            "export_end": True,
            "count": 2,
            "started_at": stamp(service.clock()),
            "next_since": stamp(service.clock() - timedelta(minutes=10)),
        }
        assert all(set(r) >= METADATA_KEYS and r["status"] == "valid" for r in records)
        assert FIELDS["name"] in lines[0]  # UTF-8 as is, not \\u escapes

    future = stamp(service.clock() + timedelta(hours=1))

    def only_trailer(response: Any) -> bool:
        (line,) = response.get_data(as_text=True).splitlines()
        return (
            response.status_code == 200 and json.loads(line)["export_end"] and json.loads(line)["count"] == 0
        )

    assert only_trailer(client.get(f"/api/v1/licenses/export?since={future}", headers=auditor))
    assert only_trailer(client.get(f"/api/v1/licenses/export?type_code={OPERATIONS}", headers=auditor))

    bad = client.get("/api/v1/licenses/export?since=yesterday", headers=auditor)
    assert bad.status_code == 400 and bad.get_json()["field"] == "since"
    bad_type = client.get("/api/v1/licenses/export?type_code=nope", headers=auditor)
    assert bad_type.status_code == 400 and bad_type.get_json()["field"] == "type_code"
    assert client.get("/api/v1/licenses/export", headers=issuer.headers).status_code == 403
    assert client.get("/api/v1/licenses/export").status_code == 401


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_change_and_export(issuer: Issuer, run_cli: CliRun, tmp_path: Path) -> None:
    first, _ = issuer.issue()
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps(CHANGED, ensure_ascii=False), encoding="utf-8")
    args = [
        "license",
        "change",
        first.identifier,
        "--case-id",
        "CHANGE-1",
        "--matter-code",
        "M-002",
        "--fields",
        str(fields),
        "--reason",
        "法定代表人变更",
        "--system",
        issuer.system,
        "--as",
        issuer.principal,
        "--out-dir",
        str(tmp_path / "out"),
    ]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    new = str(parse(first.identifier).next_version())
    stored = issuer.service.licences.get(new)
    assert f"identifier: {new}" in result.stdout
    assert (tmp_path / "out" / f"{new}.pdf").read_bytes() == stored.pdf
    assert issuer.service.licences.holder_download_urls(stored)["pdf"] in result.stdout
    assert stored.change_reason == "法定代表人变更"

    stale = run_cli(*[("CHANGE-2" if a == "CHANGE-1" else a) for a in args])
    assert stale.exit_code == 1 and new in stale.stderr and "Traceback" not in stale.output

    out = tmp_path / "export.jsonl"
    result = run_cli("license", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    *records, trailer = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["ZZBS"], r["status"]) for r in records] == [(first.identifier, "superseded"), (new, "valid")]
    assert trailer["export_end"] is True and trailer["count"] == 2
    assert "exported 2 licence versions" in result.stderr
    assert f"next incremental export: --since {trailer['next_since']}" in result.stderr

    to_stdout = run_cli("license", "export", "--type", BUSINESS)
    *lines, last = [json.loads(x) for x in to_stdout.stdout.splitlines()]
    assert to_stdout.exit_code == 0 and [x["ZZBS"] for x in lines] == [first.identifier, new]
    assert last["export_end"] is True and last["count"] == 2 and last["next_since"] in to_stdout.stderr
    help_text = " ".join(run_cli("license", "export", "--help").stdout.split())
    assert "created, revoked, superseded or expired at or after" in help_text  # as the code and the docs
    bad = run_cli("license", "export", "--since", "yesterday", "--out", str(tmp_path / "never.jsonl"))
    assert bad.exit_code == 2 and "since" in bad.stderr and not (tmp_path / "never.jsonl").exists()


# --- review findings: revoke the current version, expired changes, tokens, columns read, export ------------


def test_revoking_a_superseded_version_is_refused_naming_the_latest(
    issuer: Issuer, client: FlaskClient, run_cli: CliRun
) -> None:
    """吊销 of the version a system holds (v1) after a change must not leave v2 in force: 409 naming v2."""
    licences = issuer.service.licences
    first, _ = issuer.issue()
    new, _ = change(issuer, first.identifier)

    with pytest.raises(InvalidState) as caught:
        licences.revoke(first.identifier, "违法经营", kind="吊销", actor="user:admin")
    assert caught.value.extra["latest"] == new.identifier and new.identifier in caught.value.detail
    response = client.post(
        f"/api/v1/licenses/{first.identifier}/revoke",
        json={"kind": "吊销", "reason": "违法经营"},
        headers=issuer.headers,
    )
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert (response.get_json()["field"], response.get_json()["latest"]) == ("identifier", new.identifier)
    by_cli = run_cli("license", "revoke", first.identifier, "--kind", "吊销", "--reason", "违法经营")
    assert by_cli.exit_code == 1 and new.identifier in by_cli.stderr and "Traceback" not in by_cli.output
    assert licences.status(first.identifier).status is LicenceState.SUPERSEDED
    assert licences.status(new.identifier).status is LicenceState.VALID

    # The caller revokes the version named: the licence is out of force.
    latest = response.get_json()["latest"]
    done = client.post(
        f"/api/v1/licenses/{latest}/revoke",
        json={"kind": "吊销", "reason": "违法经营"},
        headers=issuer.headers,
    )
    assert done.status_code == 200 and done.get_json()["status"] == "revoked"
    assert licences.status(new.identifier).status is LicenceState.REVOKED
    with issuer.service.session(read_only=True) as session, session.begin():
        revokes = session.execute(
            select(AuditRecord).where(AuditRecord.action == issuance.AUDIT_REVOKE)
        ).all()
    assert len(revokes) == 1


def test_changing_an_expired_licence_is_refused(issuer: Issuer) -> None:
    """A 特种作业操作证 issued six years ago has expired: a change would be issued expired (term kept)."""
    service = issuer.service
    first, _ = issuer.issue("CASE-OP", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert first.valid_to is not None
    # Back-date it (the seal, its certificates and pyHanko's clock stay now): its term ended days ago.
    back = first.valid_to - first.valid_from + timedelta(days=3)
    valid_from, valid_to = first.valid_from - back, first.valid_to - back
    with service.session() as session, session.begin():
        row = session.execute(select(Licence).where(Licence.identifier == first.identifier)).scalar_one()
        row.valid_from, row.valid_to = valid_from, valid_to
    assert service.licences.status(first.identifier).status is LicenceState.EXPIRED

    changed_fields = {**OPERATIONS_FIELDS, "operation_item": "高压电工作业"}
    with pytest.raises(InvalidState) as caught:
        change(issuer, first.identifier, fields=changed_fields, reason="准操项目变更")
    day_after = (valid_to + timedelta(days=1)).isoformat()
    assert f"expired since {day_after}" in caught.value.detail
    assert "issue a new licence" in caught.value.detail
    assert caught.value.extra["field"] == "identifier" and caught.value.extra["status"] == "expired"
    assert service.licences.count() == 1


def test_serve_access_log_leaves_out_the_query_string() -> None:
    """The holder token travels in the query string: gunicorn must log the path only."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from trustsvc.cli import _gunicorn_options

    options = _gunicorn_options(bind="127.0.0.1:8080", workers=2)
    assert options["accesslog"] == "-"
    log_format = options["access_log_format"]
    assert "%(r)s" not in log_format and "%(q)s" not in log_format and "%(U)s" in log_format

    def line(settings: dict[str, Any]) -> str:
        config = Config()
        for key, value in settings.items():
            config.set(key, value)
        logger = Logger(config)
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/licenses/X/licence.pdf?token=SECRET-TOKEN",
            "PATH_INFO": "/licenses/X/licence.pdf",
            "QUERY_STRING": "token=SECRET-TOKEN",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "192.0.2.1",
            "HTTP_USER_AGENT": "curl/8",
        }
        response = type("Response", (), {"status": "200 OK", "sent": 10, "headers": []})()
        atoms = logger.atoms_wrapper_class(logger.atoms(response, [], environ, timedelta(seconds=1)))
        return str(config.access_log_format % atoms)

    ours = line(options)
    assert "SECRET-TOKEN" not in ours
    assert (
        '"GET /licenses/X/licence.pdf HTTP/1.1" 200 10' in ours and "192.0.2.1" in ours and "curl/8" in ours
    )
    assert "SECRET-TOKEN" in line({k: v for k, v in options.items() if k != "access_log_format"})  # default


def test_rotating_the_holder_token_replaces_the_links(
    issuer: Issuer, client: FlaskClient, run_cli: CliRun
) -> None:
    service = issuer.service
    licences = service.licences
    made = client.post("/api/v1/licenses", json=body(), headers=issuer.headers).get_json()
    identifier, old_links = made["identifier"], made["holder_downloads"]
    stored = licences.get(identifier)

    # Python: the issuing system (or an administrator: system None); another system is Forbidden.
    with pytest.raises(Forbidden):
        licences.rotate_holder_token(identifier, system="另一个系统", actor="apikey:x")
    rotated = licences.rotate_holder_token(identifier, system=issuer.system, actor=issuer.principal)
    assert rotated.holder_token and rotated.holder_token != stored.holder_token
    new_links = licences.holder_download_urls(rotated)
    for fmt in ("pdf", "ofd"):
        assert client.get(local(old_links[fmt])).status_code == 404
        assert client.get(local(new_links[fmt])).data == (stored.pdf if fmt == "pdf" else stored.ofd)

    # HTTP: the issuing system or admin; another business system 403, an auditor 403.
    path = f"/api/v1/licenses/{identifier}/holder-token"
    other, _ = api_key(service, "另一个系统", "business-system")
    auditor, _ = api_key(service, "审计", "auditor")
    admin, _ = api_key(service, "管理员", "admin")
    assert client.post(path, headers=other).status_code == 403
    assert client.post(path, headers=auditor).status_code == 403
    assert client.post(path).status_code == 401
    response = client.post(path, headers=issuer.headers)
    assert response.status_code == 200, response.get_json()
    http_links = response.get_json()["holder_downloads"]
    assert response.get_json()["identifier"] == identifier
    assert client.get(local(new_links["pdf"])).status_code == 404
    assert client.get(local(http_links["pdf"])).data == stored.pdf
    by_admin = client.post(path, headers=admin)
    assert by_admin.status_code == 200 and by_admin.get_json()["holder_downloads"] != http_links
    assert client.get(local(http_links["ofd"])).status_code == 404

    # CLI: an operator rotates and gets the new links.
    result = run_cli("license", "rotate-holder-token", identifier)
    assert result.exit_code == 0, result.output
    cli_links = licences.holder_download_urls(licences.get(identifier))
    assert f"holder pdf: {cli_links['pdf']}" in result.stdout and cli_links["pdf"] not in http_links.values()
    assert client.get(local(cli_links["pdf"])).data == stored.pdf
    assert client.get(local(by_admin.get_json()["holder_downloads"]["pdf"])).status_code == 404
    unknown = run_cli("license", "rotate-holder-token", str(parse(identifier).next_version()))
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output

    with service.session(read_only=True) as session, session.begin():
        audits = (
            session.execute(
                select(AuditRecord).where(AuditRecord.action == issuance.AUDIT_HOLDER_TOKEN_ROTATE)
            )
            .scalars()
            .all()
        )
    tokens = {
        stored.holder_token,
        rotated.holder_token,
        *(urlsplit(u).query.removeprefix("token=") for u in (*http_links.values(), *cli_links.values())),
    }
    assert len(audits) == 4 and {a.subject for a in audits} == {f"licence:{identifier}"}
    assert audits[0].actor == issuer.principal
    assert not [t for t in tokens for a in audits if t and t in a.details_json]  # never the token


def test_wrong_token_downloads_and_status_never_read_the_files(issuer: Issuer, client: FlaskClient) -> None:
    """Identifiers are public (QR code): a junk-token request or a status query must not load the blobs."""
    service = issuer.service
    made = client.post("/api/v1/licenses", json=body(), headers=issuer.headers).get_json()
    identifier = made["identifier"]
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def files_read() -> bool:
        reads = [s for s in statements if re.search(r"\bFROM licences\b", s)]
        assert reads  # the licence was looked up
        statements.clear()
        return any(re.search(r"licences\.(pdf|ofd)\b", s) for s in reads)

    event.listen(service.engine, "before_cursor_execute", capture)
    try:
        assert client.get(f"/licenses/{identifier}/licence.pdf?token=junk").status_code == 404
        assert not files_read()
        assert client.get(f"/licenses/{identifier}/licence.pdf").status_code == 404
        assert not files_read()
        assert service.licences.status(identifier).status is LicenceState.VALID
        assert not files_read()
        assert client.get(f"/licenses/{identifier}/status").status_code == 200
        assert not files_read()
        assert client.get(f"/licenses/{identifier}/status?format=html").status_code == 200
        assert not files_read()
        # The right token does read the file (the check above can see it).
        assert client.get(local(made["holder_downloads"]["pdf"])).status_code == 200
        assert files_read()
    finally:
        event.remove(service.engine, "before_cursor_execute", capture)


def export_audits(issuer: Issuer) -> list[dict[str, Any]]:
    with issuer.service.session(read_only=True) as session, session.begin():
        records = session.execute(select(AuditRecord).where(AuditRecord.action == issuance.AUDIT_EXPORT))
        return [{"actor": a.actor, **json.loads(a.details_json)} for a in records.scalars()]


def test_every_export_is_audited_and_ends_with_a_trailer(
    issuer: Issuer, client: FlaskClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = issuer.service
    licences = service.licences
    one, _ = issuer.issue("CASE-1")
    issuer.issue("CASE-2")
    auditor, auditor_principal = api_key(service, "审计", "auditor")

    export = licences.export(actor="user:admin", type_code=BUSINESS)
    assert export_audits(issuer) == []  # written when it ends, with the count
    assert len(list(export)) == 2
    assert export.trailer() == {
        "export_end": True,
        "count": 2,
        "started_at": stamp(clock.now),
        "next_since": stamp(clock.now - issuance.EXPORT_MARGIN),
    }
    assert timedelta(minutes=10) <= issuance.EXPORT_MARGIN
    since = clock.now - timedelta(hours=1)
    response = client.get(f"/api/v1/licenses/export?since={stamp(since)}", headers=auditor)
    assert json.loads(response.get_data(as_text=True).splitlines()[-1])["count"] == 2
    assert export_audits(issuer) == [
        {
            "actor": "user:admin",
            "since": None,
            "type_code": BUSINESS,
            "count": 2,
            "complete": True,
            "started_at": stamp(clock.now),
        },
        {
            "actor": auditor_principal,
            "since": stamp(since),
            "type_code": None,
            "count": 2,
            "complete": True,
            "started_at": stamp(clock.now),
        },
    ]

    # A failure mid-stream: no trailer line (the consumer sees the export was cut off), audited as incomplete.
    real = licences._export_record

    def fail_on_second(row: Any, *args: Any) -> dict[str, Any]:
        if row.identifier != one.identifier:
            raise RuntimeError("database went away")
        return real(row, *args)

    monkeypatch.setattr(licences, "_export_record", fail_on_second)
    lines: list[str] = []
    with pytest.raises(RuntimeError):
        response = client.get("/api/v1/licenses/export", headers=auditor)
        lines.extend(response.get_data(as_text=True).splitlines())
    assert not any('"export_end"' in line for line in lines)
    assert export_audits(issuer)[-1]["count"] == 1 and export_audits(issuer)[-1]["complete"] is False

    # Closed early (a client went away): audited with what was sent.
    monkeypatch.setattr(licences, "_export_record", real)
    early = licences.export(actor="user:admin")
    next(early)
    early.close()
    assert export_audits(issuer)[-1]["count"] == 1 and export_audits(issuer)[-1]["complete"] is False
    assert len(export_audits(issuer)) == 4


def test_next_since_catches_a_version_committed_after_an_export_started(
    issuer: Issuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version stamped before an export's start but committed after it is in the export from next_since."""
    licences = issuer.service.licences
    issuer.issue("CASE-1")
    real_store = licences._store
    late: dict[str, Any] = {}

    def slow_store(row: Any, **options: Any) -> None:
        # Stamped now; an export starts (and finishes) before this commits.
        clock.advance(seconds=30)
        late["export"] = licences.export(actor="test")
        late["seen"] = [r["ZZBS"] for r in late["export"]]
        real_store(row, **options)

    monkeypatch.setattr(licences, "_store", slow_store)
    second, _ = issuer.issue("CASE-2")
    assert second.identifier not in late["seen"]
    clock.advance(minutes=1)
    naive_next = {r["ZZBS"] for r in licences.export(actor="test", since=late["export"].started_at)}
    assert second.identifier not in naive_next  # what the review found: `since` = last start misses it
    next_since = late["export"].next_since
    assert second.identifier in {r["ZZBS"] for r in licences.export(actor="test", since=next_since)}
