"""The verifier reports the e-licence status (``licence_status``, trustsvc.verify.licence): an issued licence
verifies VALID; revoked, superseded, expired and never-issued licences verify INVALID with the matching
sub-indication; another province's licence is checked through its trust list's licence-status service
(served in process by A's Flask test client), and TRY_LATER when A is down. The identifier counts only where
the signature covers it.

The clock is pinned far from the real time (tests/licences.py ``pinned_clock``): everything, PDF signing
times included, follows the service clock.
"""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import delete

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
    pinned_clock,
)
from tests.test_pdf_sealing import make_pdf
from tests.test_trustlist import ACTOR, make_pki
from tests.test_trustlist_two_provinces import A_BASE, _serve_over, province_a  # noqa: F401 - fixture
from tests.test_verify_fetch import local_server  # noqa: F401 - fixture
from trustsvc.api import create_app
from trustsvc.errors import MalformedInput
from trustsvc.license.identifier import build
from trustsvc.license.issuance import LicenceRecord
from trustsvc.license.models import Licence
from trustsvc.pdf.metadata import MAX_XMP_BYTES, revision_metadata
from trustsvc.sealing import SealPlacement
from trustsvc.service import TrustService
from trustsvc.verify import report
from trustsvc.verify.licence import CHECK_NAME
from trustsvc.verify.result import CheckResult, CheckStatus, SubIndication, VerificationResult
from trustsvc.verify.status import AnswerNotFound, Fetcher, HttpFetcher, StatusUnavailable
from trustsvc.verify.trustlist import Pin, verify_trust_list
from trustsvc.verify.truststore import AnchorSource, Entry, EntryKind, ListStatus, Services, TrustStore


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


def files(record: LicenceRecord) -> dict[str, bytes]:
    return {"pdf": record.pdf, "ofd": record.ofd}


def licence_check(result: VerificationResult) -> CheckResult:
    (signature,) = result.signatures
    check = signature.check(CHECK_NAME)
    assert check is not None, result.to_json()
    return check


def warnings_of(result: VerificationResult) -> list[str]:
    return [w for s in result.signatures for w in s.warnings]


def cli_verify(run_cli: CliRun, path: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("verify", "--json", str(path))
    return result.exit_code, json.loads(result.output)


def cli_licence_check(report: dict[str, Any]) -> dict[str, str]:
    (signature,) = report["signatures"]
    check: dict[str, str] = next(c for c in signature["checks"] if c["name"] == CHECK_NAME)
    return check


# --- our own licences --------------------------------------------------------------------------------


def test_issued_then_revoked_licence_verifies_valid_then_invalid_revoked(
    issuer: Issuer, run_cli: CliRun, tmp_path: Path
) -> None:
    service = issuer.service
    record, _ = issuer.issue()
    paths = {}
    for kind, data in files(record).items():
        paths[kind] = tmp_path / f"licence.{kind}"
        paths[kind].write_bytes(data)

        result = service.verifier.verify(data)
        assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
        check = licence_check(result)
        assert check.status is CheckStatus.PASSED
        assert check.detail.startswith(f"licence {record.identifier}: valid since ")
        assert "(database)" in check.detail and "database" in result.trust_sources
        assert not any("not the file as issued" in w for w in warnings_of(result))

        code, report = cli_verify(run_cli, paths[kind])
        assert code == 0 and report["indication"] == "VALID"
        assert cli_licence_check(report)["status"] == "passed"

    service.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    envelope = json.loads(service.licences.signed_status(record.identifier)[0])
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert (statement["status"], statement["revocation_kind"]) == ("revoked", "吊销")

    for kind, data in files(record).items():
        result = service.verifier.verify(data)
        assert (result.report, result.sub_indication) == ("INVALID", SubIndication.REVOKED), result.to_json()
        check = licence_check(result)
        assert (check.status, check.sub_indication) == (CheckStatus.FAILED, SubIndication.REVOKED)
        assert f"revoked (吊销) since {statement['since']}" in check.detail
        # everything else still holds: the seal is good, only the licence is not
        failing = {c.name for c in result.signatures[0].checks if c.status is not CheckStatus.PASSED}
        assert failing == {CHECK_NAME}

        code, report = cli_verify(run_cli, paths[kind])
        assert code == 1 and (report["indication"], report["sub_indication"]) == ("INVALID", "REVOKED")
        assert cli_licence_check(report)["status"] == "failed"


def test_cancelled_licence_names_注销_in_the_reports(issuer: Issuer) -> None:
    record, _ = issuer.issue()
    issuer.service.licences.revoke(record.identifier, "申请注销", kind="注销", actor="user:admin")
    result = issuer.service.verifier.verify(record.ofd)
    check = licence_check(result)
    assert check.sub_indication is SubIndication.REVOKED and "revoked (注销) since" in check.detail

    html = report.render_html(result, lang="zh-en")
    assert "电子证照状态 / e-licence status" in html and "<code>licence_status</code>" in html
    assert f"licence {record.identifier}: revoked (注销) since" in html
    json_body = json.loads(report.report_json(result))
    (signature,) = json_body["signatures"]
    assert {"name": CHECK_NAME, "status": "failed", "sub_indication": "REVOKED", "detail": check.detail} in (
        signature["checks"]
    )


def test_http_404_is_answer_not_found_other_failures_are_not(
    local_server: tuple[str, list[object]],  # noqa: F811
) -> None:
    base, _ = local_server
    with pytest.raises(AnswerNotFound, match="HTTP 404"):
        HttpFetcher(timeout=5)(f"{base}/missing")
    with pytest.raises(StatusUnavailable) as caught:
        HttpFetcher(timeout=5, max_bytes=1000)(f"{base}/big")
    assert not isinstance(caught.value, AnswerNotFound)


def test_superseded_licence_is_invalid_naming_the_newer_version(issuer: Issuer) -> None:
    service = issuer.service
    old, _ = issuer.issue()
    new, _ = service.licences.change(
        old.identifier,
        issuer.system,
        "CASE-1-CHANGE",
        "M-001",
        {**FIELDS, "domicile": "湖南省长沙市岳麓区麓谷大道200号"},
        reason="住所变更",
        principal=issuer.principal,
    )
    assert new.version == 2

    for data in files(old).values():
        result = service.verifier.verify(data)
        assert result.report == "INVALID", result.to_json()
        check = licence_check(result)
        assert check.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
        assert f"superseded by {new.identifier}" in check.detail
    for data in files(new).values():
        result = service.verifier.verify(data)
        assert result.report == "VALID" and licence_check(result).status is CheckStatus.PASSED


def test_expired_licence_is_invalid_expired(issuer: Issuer, clock: FakeClock) -> None:
    service = issuer.service
    record, _ = issuer.issue("CASE-9", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert record.valid_to is not None
    assert licence_check(service.verifier.verify(record.pdf)).status is CheckStatus.PASSED

    clock.advance(timedelta(days=(record.valid_to - record.valid_from).days + 2))
    for data in files(record).values():
        result = service.verifier.verify(data)
        assert result.report == "INVALID", result.to_json()
        check = licence_check(result)
        assert (check.status, check.sub_indication) == (CheckStatus.FAILED, SubIndication.EXPIRED)
        assert f"(valid to {record.valid_to.isoformat()})" in check.detail


def test_licence_unknown_to_our_database_was_not_issued(issuer: Issuer) -> None:
    service = issuer.service
    record, _ = issuer.issue()
    with service.session() as session, session.begin():
        session.execute(delete(Licence).where(Licence.identifier == record.identifier))

    for data in files(record).values():
        result = service.verifier.verify(data)
        assert result.report == "INVALID"
        check = licence_check(result)
        assert check.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
        assert "was not issued" in check.detail


# --- what the signature covers -------------------------------------------------------------------------


def with_later_info(data: bytes, **entries: str) -> bytes:
    """Return ``data`` with an incremental update (no signature) replacing the document information."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.set_info(
        generic.DictionaryObject(
            {generic.NameObject(f"/{k}"): generic.TextStringObject(v) for k, v in entries.items()}
        )
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_sealed_document_without_licence_metadata_gets_no_licence_check(issuer: Issuer) -> None:
    service = issuer.service
    sealed = service.sealer.seal_document(
        make_pdf(1), es_id=issuer.es_id, principal=issuer.principal, placement=SealPlacement.box(1, 20, 30)
    ).data
    result = service.verifier.verify(sealed)
    assert result.report == "VALID", result.to_json()
    assert licence_check_absent(result)
    assert not any("licence" in w for w in warnings_of(result))


def licence_check_absent(result: VerificationResult) -> bool:
    return all(s.check(CHECK_NAME) is None for s in result.signatures)


def test_identifier_added_after_signing_does_not_count(issuer: Issuer) -> None:
    service = issuer.service
    record, _ = issuer.issue()
    service.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    sealed = service.sealer.seal_document(
        make_pdf(1), es_id=issuer.es_id, principal=issuer.principal, placement=SealPlacement.box(1, 20, 30)
    ).data

    later = with_later_info(sealed, ZZBS=record.identifier)
    result = service.verifier.verify(later)
    assert licence_check_absent(result)
    assert any(
        f"licence identifier {record.identifier!r} is only in a revision added after signature 1" in w
        for w in warnings_of(result)
    )


def test_a_later_revision_cannot_swap_the_signed_identifier(issuer: Issuer) -> None:
    service = issuer.service
    revoked, _ = issuer.issue("CASE-1")
    valid, _ = issuer.issue("CASE-2")
    service.licences.revoke(revoked.identifier, "违法经营", kind="吊销", actor="user:admin")

    swapped = with_later_info(revoked.pdf, ZZBS=valid.identifier)
    result = service.verifier.verify(swapped)
    check = licence_check(result)
    assert check.sub_indication is SubIndication.REVOKED and revoked.identifier in check.detail
    warnings = warnings_of(result)
    assert any(
        f"a later, unsigned revision names licence identifier {valid.identifier!r}" in w for w in warnings
    )
    assert any("not the file as issued" in w for w in warnings)


def test_malformed_identifier_is_a_warning_and_no_check(issuer: Issuer) -> None:
    service = issuer.service
    pdf = make_pdf(1)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.set_info(
        generic.DictionaryObject({generic.NameObject("/ZZBS"): generic.TextStringObject("1.2.x")})
    )
    out = io.BytesIO()
    writer.write(out)
    sealed = service.sealer.seal_document(
        out.getvalue(), es_id=issuer.es_id, principal=issuer.principal, placement=SealPlacement.box(1, 20, 30)
    ).data
    result = service.verifier.verify(sealed)
    assert result.report == "VALID" and licence_check_absent(result)
    assert any("malformed licence identifier '1.2.x'" in w for w in warnings_of(result))


# --- another province --------------------------------------------------------------------------------


def fetcher_for(client: FlaskClient, up: list[bool]) -> Fetcher:
    """What B's HttpFetcher would get from A's URLs (404 → AnswerNotFound, as HttpFetcher raises)."""

    def fetch(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        parts = urlsplit(url)
        if not up[0] or f"{parts.scheme}://{parts.netloc}" != A_BASE:
            raise StatusUnavailable(f"{url}: connection refused")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = (
            client.get(path) if body is None else client.post(path, data=body, content_type=content_type)
        )
        if response.status_code == 404:
            raise AnswerNotFound(f"{url}: HTTP 404")
        if response.status_code != 200:
            raise StatusUnavailable(f"{url}: HTTP {response.status_code}")
        return bytes(response.data)

    return fetch


@pytest.fixture
def a_issuer(province_a: TrustService) -> Issuer:  # noqa: F811
    headers, principal = api_key(province_a, "审批系统", "business-system")
    made = province_a.seals.create_seal(ISSUER, ISSUER_NAME, 1, actor=ACTOR, authorised=[principal])
    return Issuer(province_a, made.seal.es_id, "审批系统", principal, headers)


@pytest.fixture
def b_with_a(service: TrustService, province_a: TrustService) -> Iterator[tuple[TrustService, list[bool]]]:  # noqa: F811
    """Province B (``service``) with A's trust list imported (pinned) and A reachable while ``up[0]``."""
    b = make_pki(service)
    a_client = create_app(service=province_a).test_client()
    up = [True]
    b.trust.fetch = _serve_over(a_client, up)
    b.trust.import_url(
        "province-a",
        f"{A_BASE}/trust-list",
        pin=Pin.from_certificate(province_a.trust.signer_certificate()),
        actor=ACTOR,
    )
    b.fetcher = fetcher_for(a_client, up)
    yield b, up


def test_b_checks_a_licence_through_a_trust_list(
    a_issuer: Issuer, b_with_a: tuple[TrustService, list[bool]]
) -> None:
    a = a_issuer.service
    b, up = b_with_a
    record, _ = a_issuer.issue()
    status_url = f"{A_BASE}/licenses/{record.identifier}/status"

    for data in files(record).values():
        result = b.verifier.verify(data)
        assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
        check = licence_check(result)
        assert check.detail.endswith(f"(licence-status:{status_url})")
        assert "licence-status" in result.trust_sources and "province-a" in result.trust_sources

    a.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    b.fetcher = fetcher_for(create_app(service=a).test_client(), up)  # a fresh verifier: no cached answer
    for data in files(record).values():
        result = b.verifier.verify(data)
        assert (result.report, result.sub_indication) == ("INVALID", SubIndication.REVOKED), result.to_json()
        check = licence_check(result)
        assert "revoked (吊销) since" in check.detail and status_url in check.detail

    up[0] = False
    b.fetcher = fetcher_for(create_app(service=a).test_client(), up)
    result = b.verifier.verify(record.pdf)
    assert result.report == "INDETERMINATE"
    check = licence_check(result)
    assert (check.status, check.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert "connection refused" in check.detail


def test_b_reports_a_licence_a_does_not_know_as_try_later_not_as_not_issued(
    a_issuer: Issuer, b_with_a: tuple[TrustService, list[bool]]
) -> None:
    """An unsigned 404 from another territory (a mis-route, a forgery) must not make a licence INVALID."""
    a = a_issuer.service
    b, _ = b_with_a
    record, _ = a_issuer.issue()
    with a.session() as session, session.begin():
        session.execute(delete(Licence).where(Licence.identifier == record.identifier))

    result = b.verifier.verify(record.ofd)
    assert result.report == "INDETERMINATE", result.to_json()
    check = licence_check(result)
    assert (check.status, check.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert f"the issuer's status service does not know {record.identifier}" in check.detail
    assert "HTTP 404" in check.detail and "was not issued" not in check.detail


def answering(answer: bytes) -> Fetcher:
    """A fetcher that answers every licence-status URL with ``answer`` (and nothing else)."""

    def fetch(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        if "/licenses/" in url:
            return answer
        raise StatusUnavailable(f"{url}: connection refused")

    return fetch


def test_answers_not_from_the_territory_about_another_licence_or_old_are_not_used(
    a_issuer: Issuer, b_with_a: tuple[TrustService, list[bool]], clock: FakeClock
) -> None:
    a = a_issuer.service
    b, _ = b_with_a
    record, _ = a_issuer.issue("CASE-1")
    other, _ = a_issuer.issue("CASE-2")

    # A's own, well-signed answer about another of its licences
    b.fetcher = answering(a.licences.signed_status(other.identifier)[0])
    check = licence_check(b.verifier.verify(record.pdf))
    assert (check.status, check.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert "about another licence" in check.detail

    # an answer signed by B's seal maker (about a licence of B's own issuer): B's word is not A's
    _, principal = api_key(b, "审批系统", "business-system")
    made = b.seals.create_seal(HOLDER, "乙省某局", 1, actor=ACTOR, authorised=[principal])
    mine, _ = Issuer(b, made.seal.es_id, "审批系统", principal, {}).issue("CASE-B")
    b.fetcher = answering(b.licences.signed_status(mine.identifier)[0])
    check = licence_check(b.verifier.verify(record.pdf))
    assert (check.status, check.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert "not signed by a seal-maker certificate of trust list province-a" in check.detail

    # A's own answer about this licence, replayed two hours later (a revocation may have come since)
    old_answer = a.licences.signed_status(record.identifier)[0]
    b.fetcher = answering(old_answer)
    assert licence_check(b.verifier.verify(record.pdf)).status is CheckStatus.PASSED
    clock.advance(hours=2)
    b.fetcher = answering(old_answer)
    check = licence_check(b.verifier.verify(record.pdf))
    assert (check.status, check.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert "not recently" in check.detail


def test_a_lists_its_issuing_organisations_so_b_finds_the_licence_status_by_issuer_code(
    a_issuer: Issuer, b_with_a: tuple[TrustService, list[bool]]
) -> None:
    a = a_issuer.service
    b, _ = b_with_a
    assert b.trust.store().endpoints_for(ISSUER).licence_status is None  # A had issued nothing yet

    record, _ = a_issuer.issue()
    pin = Pin.from_certificate(a.trust.signer_certificate())
    document = verify_trust_list(a.trust.current().document, pin)
    issuers = {e["org_uscc"]: e for e in document.document.entries if e["kind"] == "issuing-organisation"}
    assert issuers[ISSUER]["org_name"] == ISSUER_NAME
    assert issuers[ISSUER]["services"].licence_status == f"{A_BASE}/licenses/{{identifier}}/status"
    assert a.settings.pki_org_uscc in issuers  # the operator stays listed

    b.trust.refresh("province-a", actor=ACTOR)
    endpoints = b.trust.store().endpoints_for(ISSUER)
    assert endpoints.licence_status_url(record.identifier) == f"{A_BASE}/licenses/{record.identifier}/status"
    assert endpoints.source is not None and endpoints.source.list_name == "province-a"


# --- review findings: what a later revision, another sealer or a legacy code cannot do ------------------


def with_info_entries(data: bytes, count: int, **entries: str) -> bytes:
    """Return ``data`` with an unsigned incremental update giving /Info ``count`` filler entries more."""
    filler = {f"K{i}": "x" for i in range(count)}
    return with_later_info(data, **filler, **entries)


def test_unreadable_later_metadata_cannot_drop_the_check_of_a_revoked_licence(issuer: Issuer) -> None:
    service = issuer.service
    record, _ = issuer.issue()
    service.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")

    oversized = with_info_entries(record.pdf, 257)  # over MAX_INFO_ENTRIES, in an unsigned later revision
    result = service.verifier.verify(oversized)
    assert (result.report, result.sub_indication) == ("INVALID", SubIndication.REVOKED), result.to_json()
    check = licence_check(result)
    assert check.sub_indication is SubIndication.REVOKED and record.identifier in check.detail
    assert any(
        "the metadata of the latest revision cannot be read" in w and "more than 256 entries" in w
        for w in warnings_of(result)
    )


def test_unreadable_signed_metadata_is_indeterminate(issuer: Issuer) -> None:
    service = issuer.service
    unreadable = with_info_entries(make_pdf(1), 257)
    sealed = service.sealer.seal_document(
        unreadable, es_id=issuer.es_id, principal=issuer.principal, placement=SealPlacement.box(1, 20, 30)
    ).data
    result = service.verifier.verify(sealed)
    assert result.report == "INDETERMINATE", result.to_json()
    check = licence_check(result)
    assert check.status is CheckStatus.INDETERMINATE
    assert "the metadata of the revision signature 1 covers cannot be read" in check.detail
    assert "whether the document is a licence cannot be told" in check.detail


def sealed_naming(issuer: Issuer, identifier: str) -> bytes:
    """Return a fresh PDF whose signed /Info names ``identifier``, sealed with ``issuer``'s seal."""
    named = with_later_info(make_pdf(1), ZZBS=identifier)
    return issuer.service.sealer.seal_document(
        named, es_id=issuer.es_id, principal=issuer.principal, placement=SealPlacement.box(1, 20, 30)
    ).data


def test_another_organisations_seal_cannot_borrow_a_valid_licence_identifier(issuer: Issuer) -> None:
    service = issuer.service
    record, _ = issuer.issue()
    _, principal = api_key(service, "乙公司系统", "business-system")
    made = service.seals.create_seal(HOLDER, FIELDS["name"], 1, actor="test", authorised=[principal])
    stranger = Issuer(service, made.seal.es_id, "乙公司系统", principal, {})

    genuine = service.verifier.verify(sealed_naming(issuer, record.identifier))
    assert (genuine.report, licence_check(genuine).status) == ("VALID", CheckStatus.PASSED), genuine.to_json()

    result = service.verifier.verify(sealed_naming(stranger, record.identifier))
    assert (result.report, result.sub_indication) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    check = licence_check(result)
    assert check.status is CheckStatus.FAILED
    assert check.detail == (
        f"licence {record.identifier} names issuer {ISSUER}, but the document was sealed by "
        f"{FIELDS['name']} ({HOLDER})"
    )


def test_a_countersignature_on_an_issued_licence_does_not_make_it_invalid(issuer: Issuer) -> None:
    """The holder seals the licence its issuer sealed (e.g. to submit it): the licence is checked on the
    issuer's signature; the holder's signature is not taken to claim the licence. Revocation still counts."""
    service = issuer.service
    record, _ = issuer.issue()
    _, principal = api_key(service, "乙公司系统", "business-system")
    made = service.seals.create_seal(HOLDER, FIELDS["name"], 1, actor="test", authorised=[principal])
    countersigned = service.sealer.seal_document(
        record.pdf, es_id=made.seal.es_id, principal=principal, placement=SealPlacement.box(1, 20, 30)
    ).data

    result = service.verifier.verify(countersigned)
    assert result.report == "VALID", result.to_json()
    first, second = (s.check(CHECK_NAME) for s in result.signatures)
    assert first is not None and first.status is CheckStatus.PASSED
    assert second is not None and second.status is CheckStatus.SKIPPED
    assert second.detail.startswith(f"licence {record.identifier} is checked on signature 1, its issuer's")

    service.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    revoked = service.verifier.verify(countersigned)
    assert (revoked.report, revoked.sub_indication) == ("INVALID", SubIndication.REVOKED)


def legacy_licence(issuer: Issuer, code: str, case_id: str) -> str:
    """Return the identifier of a licence of ours re-keyed to the legacy issuer code ``code``, revoked."""
    service = issuer.service
    record, _ = issuer.issue(case_id)
    service.licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    legacy = str(build(record.type_code, code, record.serial, 1, allow_legacy=True))
    with service.session() as session, session.begin():
        row = session.query(Licence).filter(Licence.identifier == record.identifier).one()
        row.identifier, row.issuer_code = legacy, code
    return legacy


def test_legacy_issuer_codes_are_checked_and_bound_through_the_trust_list(issuer: Issuer) -> None:
    service = issuer.service
    legacy = legacy_licence(issuer, "430100", "CASE-L")
    # our own list names 430100 as an issuing organisation (it holds a licence of it); our CA anchors the seal
    result = service.verifier.verify(sealed_naming(issuer, legacy))
    assert (result.report, result.sub_indication) == ("INVALID", SubIndication.REVOKED), result.to_json()
    assert legacy in licence_check(result).detail
    assert not any("malformed" in w for w in warnings_of(result))

    # an issuer code no list anchoring the signer names: not bound, so not passed
    unknown = str(build(BUSINESS, "340100", "77", 1, allow_legacy=True))
    result = service.verifier.verify(sealed_naming(issuer, unknown))
    assert result.report == "INDETERMINATE", result.to_json()
    check = licence_check(result)
    assert check.status is CheckStatus.INDETERMINATE
    assert f"licence {unknown} names issuer 340100, which cannot be bound to " in check.detail


def metadata_stream(encoded: bytes, filters: list[str]) -> bytes:
    """Return a PDF whose unsigned later revision sets /Metadata to ``encoded`` with ``filters``."""
    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(1)))
    stream = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Metadata"),
            generic.NameObject("/Subtype"): generic.NameObject("/XML"),
            generic.NameObject("/Filter"): generic.ArrayObject(generic.NameObject(f) for f in filters),
        },
        encoded_data=encoded,
    )
    writer.root[generic.NameObject("/Metadata")] = writer.add_object(stream)
    writer.update_root()
    writer._update_meta = lambda: None  # type: ignore[method-assign]  # pyHanko would rewrite the packet
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_flate_bomb_in_the_metadata_is_refused_without_inflating_it() -> None:
    deflate = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    bomb = b"".join(deflate.compress(zeros) for _ in range(64)) + deflate.flush()  # 64 MiB in ~64 KB
    reader = PdfFileReader(io.BytesIO(metadata_stream(bomb, ["/FlateDecode"])))

    tracemalloc.start()
    try:
        with pytest.raises(MalformedInput, match=f"over {MAX_XMP_BYTES} bytes"):
            revision_metadata(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak

    # a filter chain is refused rather than decoded; a small FlateDecode packet still reads
    chained = PdfFileReader(io.BytesIO(metadata_stream(b"78", ["/ASCIIHexDecode", "/FlateDecode"])))
    with pytest.raises(MalformedInput, match="filter"):
        revision_metadata(chained)
    packet = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    small = PdfFileReader(io.BytesIO(metadata_stream(zlib.compress(packet), ["/FlateDecode"])))
    assert revision_metadata(small).xmp == packet


def test_organisation_endpoints_come_from_one_entry_the_signers_list_first() -> None:
    def organisation(list_name: str, services: Services) -> Entry:
        source = AnchorSource(list_name, "43", 1, ListStatus.FRESH)
        return Entry(
            EntryKind.ISSUING_ORGANISATION,
            list_name,
            source,
            organisation_uscc=ISSUER,
            services=services,
        )

    seal_only = organisation("x", Services(seal_status="https://x/seals/{es_id}/status"))
    licences = organisation("y", Services(licence_status="https://y/licenses/{identifier}/status"))
    endpoints = TrustStore([seal_only, licences]).endpoints_for(ISSUER)
    assert endpoints.licence_status_url("ID") == "https://y/licenses/ID/status"
    assert endpoints.source is not None and endpoints.source.list_name == "y"  # not x's name on y's URL

    both_x = organisation("x", Services(licence_status="https://x/licenses/{identifier}/status"))
    store = TrustStore([both_x, licences])
    assert store.endpoints_for(ISSUER).licence_status_url("ID") == "https://x/licenses/ID/status"
    preferred = store.endpoints_for(ISSUER, list_name="y")
    assert preferred.licence_status_url("ID") == "https://y/licenses/ID/status"
    assert preferred.source is not None and preferred.source.list_name == "y"
