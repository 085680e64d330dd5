"""Licence lifecycle after issuance (trustsvc.license.issuance, routes/licenses.py, cli.py): change (变更) to
the next version, the holder's capability download links, and the JSON-lines export for the national
catalogue.

The clock stands near the real time, as in tests/test_license_issuance.py: pyHanko reads the system clock.
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
    real_clock,
)
from trustsvc.audit import AuditRecord
from trustsvc.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from trustsvc.license import issuance
from trustsvc.license.identifier import parse
from trustsvc.license.issuance import AUDIT_CHANGE, LicenceRecord
from trustsvc.license.models import LicenceState

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
    """A pinned clock at the real time (see the module docstring)."""
    return real_clock()


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
        records = list(licences.export())
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

    assert [r["ZZBS"] for r in licences.export(type_code=OPERATIONS)] == [person.identifier]
    # Since: created (the new version), revoked, or superseded (the old one) at or after it.
    assert {r["ZZBS"] for r in licences.export(since=since)} == {
        one.identifier,
        two.identifier,
        changed.identifier,
    }
    assert list(licences.export(since=clock.now + timedelta(seconds=1))) == []
    with pytest.raises(InvalidInput) as caught:
        licences.export(since=datetime(2026, 1, 1))  # no offset: a guess
    assert caught.value.extra["field"] == "since"
    with pytest.raises(InvalidInput) as caught:
        licences.export(type_code="11100000MB03271699999")
    assert caught.value.extra["field"] == "type_code"


def test_export_includes_licences_that_expired_since(issuer: Issuer, clock: FakeClock) -> None:
    person, _ = issuer.issue("CASE-3", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert person.valid_to is not None
    clock.advance(timedelta(days=(person.valid_to - person.valid_from).days + 1, hours=12))
    since = clock.now - timedelta(days=1)
    (record,) = issuer.service.licences.export(since=since)
    assert record["status"] == "expired" and record["ZZBS"] == person.identifier
    clock.advance(days=30)
    assert list(issuer.service.licences.export(since=clock.now - timedelta(days=1))) == []


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
        records = [json.loads(line) for line in lines]
        assert [r["ZZBS"] for r in records] == [one.identifier, two.identifier]
        assert all(set(r) >= METADATA_KEYS and r["status"] == "valid" for r in records)
        assert FIELDS["name"] in lines[0]  # UTF-8 as is, not \\u escapes

    future = stamp(service.clock() + timedelta(hours=1))
    assert client.get(f"/api/v1/licenses/export?since={future}", headers=auditor).data == b""
    by_type = client.get(f"/api/v1/licenses/export?type_code={OPERATIONS}", headers=auditor)
    assert by_type.status_code == 200 and by_type.data == b""

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
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["ZZBS"], r["status"]) for r in records] == [(first.identifier, "superseded"), (new, "valid")]
    assert "exported 2 licence versions" in result.stderr

    to_stdout = run_cli("license", "export", "--type", BUSINESS)
    assert to_stdout.exit_code == 0 and [json.loads(x)["ZZBS"] for x in to_stdout.stdout.splitlines()] == [
        first.identifier,
        new,
    ]
    bad = run_cli("license", "export", "--since", "yesterday", "--out", str(tmp_path / "never.jsonl"))
    assert bad.exit_code == 2 and "since" in bad.stderr and not (tmp_path / "never.jsonl").exists()
