"""Licence types an administrator adds without code (trustsvc.license.types): Python API, HTTP and CLI.

An added type is checked as a shipped file is (a wrong key is named), stored with its canonical JSON, SM3
and an audit record, usable for issuance at once by every process on the database (rendered with its own
template and sealed), and never shadows a shipped or already added code. The clock is pinned
far from the real time (tests/licences.py ``pinned_clock``): sealing follows the service clock.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import CliRun, FakeClock
from tests.licences import BUSINESS, FIELDS, HOLDER, Issuer, api_key, body, pinned_clock
from tests.tools import require_tool
from trustsvc.audit import AuditRecord
from trustsvc.config import Settings
from trustsvc.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from trustsvc.keys.sm3 import sm3
from trustsvc.license.catalog import DATA_DIR, parse_licence_type
from trustsvc.license.models import MAX_TYPE_DEFINITION, LicenceTypeRow
from trustsvc.license.types import AUDIT_ADD_TYPE, TypeSource
from trustsvc.service import TrustService

NEW = "11430000006122244L001"  # the issuer's own USCC (valid) and sequence 001
NEW_NAME = "湖南省示范经营许可证"


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


def new_type(code: str = NEW, name: str = NEW_NAME) -> dict[str, Any]:
    """Return the shipped business licence made into a new type: own code, name, title and two labels."""
    data = json.loads((DATA_DIR / "business_licence.json").read_text(encoding="utf-8"))
    data["type_code"] = code
    data["name"] = name
    data["name_en"] = "Demonstration operating permit"
    data["defining_organisation"] = {"name": "湖南省市场监督管理局", "uscc": code[:18]}
    elements = data["template"]["elements"]
    assert (elements[2]["text"], elements[6]["text"], elements[12]["text"]) == (
        "营业执照",
        "名称",
        "经营范围",
    )
    elements[2]["text"] = name
    elements[6]["text"] = "经营者名称"
    elements[12]["text"] = "许可范围"
    return data


def mutated(path: str, value: Any) -> dict[str, Any]:
    """Return :func:`new_type` with the value at a dotted/indexed path replaced (``...`` deletes it)."""
    data = copy.deepcopy(new_type())
    target: Any = data
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


BAD_DEFINITIONS = [
    pytest.param("name", ..., "name", id="missing-name"),
    pytest.param("type_code", "11430000006122244M001", "type_code", id="type-code-check-digit"),
    pytest.param("template.elements[7].x", 280, "template.elements[7]", id="element-outside-page"),
    pytest.param("colour", "red", "colour", id="unknown-key"),
    pytest.param("fields[2].type", "text", "fields[2].type", id="unknown-field-type"),
]


def admin_headers(service: TrustService) -> dict[str, str]:
    headers, _ = api_key(service, "类型管理员", "admin")
    return {**headers, "Content-Type": "application/json"}


def post_type(client: FlaskClient, headers: dict[str, str], data: Any) -> Any:
    payload = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode("utf-8")
    return client.post("/api/v1/license-types", data=payload, headers=headers)


# --- Python API --------------------------------------------------------------------------------------


def test_an_added_type_is_stored_canonical_audited_and_in_the_catalogue(service: TrustService) -> None:
    registry = service.licence_types
    before = len(registry.catalog())

    added = registry.add(json.dumps(new_type(), ensure_ascii=False, indent=4), actor="test:admin")

    assert (added.type_code, added.name) == (NEW, NEW_NAME)
    assert registry.catalog().get(NEW) == added and len(registry.catalog()) == before + 1
    canonical = json.dumps(new_type(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entry = registry.get(NEW)
    assert entry.source is TypeSource.ADDED and entry.created_by == "test:admin"
    assert entry.definition == canonical  # the editor's indentation is not what is stored
    assert parse_licence_type(entry.definition) == added
    with service.session(read_only=True) as session, session.begin():
        row = session.execute(select(LicenceTypeRow)).scalar_one()
        (audit,) = session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_ADD_TYPE)).scalars()
        assert (row.type_code, row.name, row.definition) == (NEW, NEW_NAME, canonical)
        assert row.definition_sm3 == sm3(canonical.encode("utf-8")).hex()
        assert audit.actor == "test:admin" and audit.subject == f"licence-type:{NEW}"
        assert json.loads(audit.details_json)["definition_sm3"] == row.definition_sm3
    listed = {e.type_code: e.source for e in registry.list()}
    assert listed[NEW] is TypeSource.ADDED and listed[BUSINESS] is TypeSource.SHIPPED
    with service.session(read_only=True) as session, session.begin():
        assert service.audit.verify(session) >= 1  # the chain still verifies with the new record


def test_a_code_taken_by_a_shipped_or_an_added_type_is_a_conflict(service: TrustService) -> None:
    registry = service.licence_types
    with pytest.raises(Conflict) as shipped:
        registry.add(new_type(code=BUSINESS), actor="test")
    assert shipped.value.extra["field"] == "type_code"
    registry.add(new_type(), actor="test")
    with pytest.raises(Conflict, match=NEW) as again:
        registry.add(new_type(name="另一个许可证"), actor="test")
    assert again.value.extra["type_code"] == NEW
    with pytest.raises(NotFound):
        registry.get("11430000006122244L002")
    assert registry.get(NEW).licence_type.name == NEW_NAME  # the first one stays


def test_an_add_racing_another_process_for_the_same_code_loses_with_a_conflict(service: TrustService) -> None:
    """Another process has inserted the code but not committed: the database decides, the loser is told."""
    outcome: list[BaseException | None] = []

    def racer() -> None:
        try:
            service.licence_types.add(new_type(name="后来者"), actor="test:second")
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    with service.session() as session, session.begin():
        session.add(
            LicenceTypeRow(
                type_code=NEW,
                name=NEW_NAME,
                definition=json.dumps(new_type(), ensure_ascii=False),
                definition_sm3="0" * 64,
                created_by="test:first",
                created_at=service.clock(),
            )
        )
        session.flush()
        thread = threading.Thread(target=racer)
        thread.start()
        time.sleep(0.5)  # the racer now waits on the first writer (SQLite lock / PostgreSQL unique index)
        assert thread.is_alive() and not outcome
    thread.join(timeout=30)

    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert outcome[0].extra["field"] == "type_code"
    assert service.licence_types.get(NEW).created_by == "test:first"


@pytest.mark.parametrize(("path", "value", "key"), BAD_DEFINITIONS)
def test_a_bad_definition_is_refused_naming_the_key_and_nothing_is_stored(
    service: TrustService, path: str, value: Any, key: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.licence_types.add(mutated(path, value), actor="test")
    assert caught.value.extra["key"] == key, caught.value.detail
    with service.session(read_only=True) as session, session.begin():
        assert session.execute(select(LicenceTypeRow)).first() is None


def test_a_definition_over_the_size_limit_or_with_a_duplicate_key_is_refused(service: TrustService) -> None:
    data = new_type()
    data["notes"] = "x" * MAX_TYPE_DEFINITION
    with pytest.raises(PayloadTooLarge):
        service.licence_types.add(data, actor="test")
    with pytest.raises(PayloadTooLarge):
        service.licence_types.add(json.dumps(data), actor="test")
    text = json.dumps(new_type(), ensure_ascii=False)
    with pytest.raises(InvalidInput) as caught:
        service.licence_types.add(text[:-1] + ', "seal_kind": 2}', actor="test")
    assert caught.value.extra["key"] == "seal_kind"
    with pytest.raises(InvalidInput) as deep:
        service.licence_types.add("[" * 100_000 + "]" * 100_000, actor="test")
    assert deep.value.extra["key"] == "(root)"


def test_a_stored_definition_that_no_longer_parses_is_skipped_with_a_warning(
    service: TrustService, caplog: pytest.LogCaptureFixture
) -> None:
    """As after an upgrade whose checks are stricter: the other types stay usable, the code stays taken."""
    broken = "11430000006122244L002"
    service.licence_types.add(new_type(), actor="test")
    with service.session() as session, session.begin():
        session.add(
            LicenceTypeRow(
                type_code=broken,
                name="旧类型",
                definition=json.dumps({**new_type(code=broken), "retired_key": True}),
                definition_sm3="0" * 64,
                created_by="test",
                created_at=service.clock(),
            )
        )

    with caplog.at_level(logging.WARNING, logger="trustsvc.license.types"):
        catalog = service.licence_types.catalog()
    assert catalog.get(NEW).name == NEW_NAME and catalog.get(BUSINESS).name == "营业执照"
    with pytest.raises(NotFound):
        catalog.get(broken)
    assert broken in caplog.text and "retired_key" in caplog.text
    with pytest.raises(Conflict):
        service.licence_types.add(new_type(code=broken), actor="test")
    assert broken not in {e.type_code for e in service.licence_types.list()}


# --- issuance ----------------------------------------------------------------------------------------


def test_a_type_added_over_http_issues_a_licence_rendered_with_its_template_and_sealed(
    issuer: Issuer, client: FlaskClient, tmp_path: Path
) -> None:
    pdftotext = require_tool("pdftotext")
    service = issuer.service
    added = post_type(client, admin_headers(service), new_type())
    assert added.status_code == 201, added.get_json()
    assert added.headers["Location"].endswith(f"/api/v1/license-types/{NEW}")
    assert added.get_json()["source"] == "added"

    issued = client.post("/api/v1/licenses", json=body(type_code=NEW), headers=issuer.headers)

    assert issued.status_code == 201, issued.get_json()
    licence = issued.get_json()
    assert (licence["type_code"], licence["type_name"]) == (NEW, NEW_NAME)
    assert licence["identifier"].startswith(f"1.2.156.3005.2.{NEW}.")
    pdf = client.get(licence["downloads"]["pdf"], headers=issuer.headers).data
    result = service.verifier.verify(pdf)
    assert result.report == "VALID", [c for s in result.signatures for c in s.checks]
    assert [s.seal_es_id for s in result.signatures] == [issuer.es_id]
    (tmp_path / "licence.pdf").write_bytes(pdf)
    out = subprocess.run(
        [pdftotext, str(tmp_path / "licence.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    text = re.sub(r"\s+", "", out)
    assert NEW_NAME in text and "经营者名称" in text and "许可范围" in text
    assert "营业执照" not in text and FIELDS["name"] in text and HOLDER in text


def test_a_type_added_by_another_process_is_usable_there_without_restart(
    issuer: Issuer, settings: Settings, clock: FakeClock
) -> None:
    other = TrustService.from_settings(settings, clock=clock)
    try:
        assert NEW not in other.licence_types.catalog().types  # cached before the type exists
        with pytest.raises(InvalidInput) as unknown:
            other.licences.issue(
                issuer.system, "CASE-0", "M-001", NEW, {"code": HOLDER}, FIELDS, issuer.es_id,
                principal=issuer.principal,
            )  # fmt: skip
        assert unknown.value.extra["field"] == "type_code"

        issuer.service.licence_types.add(new_type(), actor="test")

        assert other.licence_types.get(NEW).source is TypeSource.ADDED
        record, created = other.licences.issue(
            issuer.system, "CASE-1", "M-001", NEW, {"code": HOLDER}, FIELDS, issuer.es_id,
            principal=issuer.principal,
        )  # fmt: skip
        assert created and record.type_code == NEW and record.type_name == NEW_NAME
    finally:
        other.close()


# --- HTTP --------------------------------------------------------------------------------------------


def test_any_api_key_lists_and_reads_types_and_only_an_admin_adds_one(
    service: TrustService, client: FlaskClient
) -> None:
    for role in ("auditor", "business-system"):
        headers, _ = api_key(service, f"key {role}", role)
        refused = post_type(client, {**headers, "Content-Type": "application/json"}, new_type())
        assert refused.status_code == 403, role
        assert client.get("/api/v1/license-types", headers=headers).status_code == 200
    assert client.post("/api/v1/license-types", json=new_type()).status_code == 401
    assert client.get("/api/v1/license-types").status_code == 401
    assert post_type(client, admin_headers(service), new_type()).status_code == 201

    headers, _ = api_key(service, "只读", "auditor")
    types = {t["code"]: t for t in client.get("/api/v1/license-types", headers=headers).get_json()["types"]}
    assert types[NEW] | {"created_at": None} == {
        "code": NEW,
        "name": NEW_NAME,
        "name_en": "Demonstration operating permit",
        "defining_organisation": {"name": "湖南省市场监督管理局", "uscc": NEW[:18]},
        "holder_kind": "organisation",
        "source": "added",
        "created_at": None,
    }
    assert types[BUSINESS]["source"] == "shipped" and "created_at" not in types[BUSINESS]
    definition = client.get(f"/api/v1/license-types/{NEW}", headers=headers)
    assert definition.status_code == 200 and definition.get_json() == new_type()
    shipped = client.get(f"/api/v1/license-types/{BUSINESS}", headers=headers).get_json()
    assert shipped == json.loads((DATA_DIR / "business_licence.json").read_text(encoding="utf-8"))
    missing = client.get("/api/v1/license-types/11430000006122244L009", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


@pytest.mark.parametrize(("path", "value", "key"), BAD_DEFINITIONS)
def test_a_bad_definition_over_http_is_400_naming_the_key(
    service: TrustService, client: FlaskClient, path: str, value: Any, key: str
) -> None:
    response = post_type(client, admin_headers(service), mutated(path, value))
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.get_json()["key"] == key, response.get_json()


def test_conflict_not_json_and_too_large_over_http(service: TrustService, client: FlaskClient) -> None:
    headers = admin_headers(service)
    taken = post_type(client, headers, new_type(code=BUSINESS))
    assert taken.status_code == 409 and taken.get_json()["field"] == "type_code"
    assert post_type(client, headers, new_type()).status_code == 201
    assert post_type(client, headers, new_type()).status_code == 409
    syntax = post_type(client, headers, b"{not json")
    assert syntax.status_code == 400 and syntax.get_json()["key"] == "(root)"
    big = new_type(code="11430000006122244L002")
    big["notes"] = "x" * MAX_TYPE_DEFINITION
    assert post_type(client, headers, big).status_code == 413
    plain = {k: v for k, v in headers.items() if k != "Content-Type"}
    assert client.post("/api/v1/license-types", data=b"{}", headers=plain).status_code == 415


# --- CLI ---------------------------------------------------------------------------------------------


def test_cli_adds_lists_and_shows_a_type(service: TrustService, run_cli: CliRun, tmp_path: Path) -> None:
    path = tmp_path / "type.json"
    path.write_text(json.dumps(new_type(), ensure_ascii=False, indent=2), encoding="utf-8")

    added = run_cli("license", "type", "add", str(path))

    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == f"{NEW} {NEW_NAME}"
    assert service.licence_types.catalog().get(NEW).name == NEW_NAME  # this process sees the CLI's add
    listed = run_cli("license", "type", "list")
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows[NEW][1:3] == ["added", "organisation"] and rows[BUSINESS][1] == "shipped"
    shown = run_cli("license", "type", "show", NEW)
    assert shown.exit_code == 0 and NEW_NAME in shown.stdout and "registration_authority" in shown.stdout
    as_json = run_cli("license", "type", "show", NEW, "--json")
    assert json.loads(as_json.stdout) == new_type()
    missing = run_cli("license", "type", "show", "11430000006122244L009")
    assert missing.exit_code == 1 and missing.stderr.startswith("trustsvc: error:")


@pytest.mark.parametrize(("path", "value", "key"), BAD_DEFINITIONS)
def test_cli_refuses_a_bad_definition_in_one_line_with_exit_2(
    service: TrustService, run_cli: CliRun, tmp_path: Path, path: str, value: Any, key: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(mutated(path, value), ensure_ascii=False), encoding="utf-8")

    result = run_cli("license", "type", "add", str(file))

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"trustsvc: error: {key}:")


def test_cli_add_of_a_taken_code_exits_1_and_of_a_missing_file_exits_2(
    service: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    file = tmp_path / "shipped.json"
    file.write_text(json.dumps(new_type(code=BUSINESS), ensure_ascii=False), encoding="utf-8")
    taken = run_cli("license", "type", "add", str(file))
    assert taken.exit_code == 1 and BUSINESS in taken.stderr and taken.stderr.count("\n") == 1
    missing = run_cli("license", "type", "add", str(tmp_path / "nowhere.json"))
    assert missing.exit_code == 2 and missing.stderr.startswith("trustsvc: error: cannot read")
