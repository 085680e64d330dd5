"""Our signed trust list, imported lists (pins, rollback, expiry, refresh failures) and the trust store."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from asn1crypto import pem, x509
from sqlalchemy import select

from tests.conftest import CliRun, FakeClock
from tests.pki import Issued, issue
from trustsvc.audit import AuditRecord
from trustsvc.ca.models import ServiceRole
from trustsvc.ca.profiles import ID_TSL_KP_TSL_SIGNING, ProfileKind, SubjectInfo
from trustsvc.errors import Conflict, InvalidInput, InvalidSignature, MalformedInput, NotFound
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import verify
from trustsvc.service import TrustService
from trustsvc.verify.trustlist import (
    FORMAT,
    Pin,
    TrustListExpired,
    TrustListFetchFailed,
    TrustListRollback,
    canonical_json,
    http_fetch,
    iso,
    parse_payload,
    sign_envelope,
    verify_trust_list,
)
from trustsvc.verify.truststore import (
    LOCAL_ANCHORS,
    OWN_LIST,
    EntryKind,
    ListStatus,
    Purpose,
    TrustStore,
)

ACTOR = "test"
OTHER_USCC = "91110000600037341L"


# --- fixtures ------------------------------------------------------------------------------------


def make_pki(service: TrustService, *algorithms: KeyAlgorithm) -> TrustService:
    """Give ``service`` the hierarchies of ``algorithms`` (SM2 by default) and their trust-list signers."""
    for algorithm in algorithms or (KeyAlgorithm.SM2,):
        service.ca.init_pki(algorithm, actor=ACTOR)
    service.trust.init_signers(actor=ACTOR)
    return service


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    return make_pki(service)


def signer_pin(service: TrustService, hierarchy: str = "sm2") -> Pin:
    return Pin.from_certificate(service.trust.signer_certificate(hierarchy))


def actions(service: TrustService, prefix: str = "trust-list.") -> list[tuple[str, dict[str, Any]]]:
    with service.session(read_only=True) as session, session.begin():
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.details_json).order_by(AuditRecord.seq)
        ).all()
    return [(a, json.loads(d)) for a, d in rows if a.startswith(prefix)]


def issue_new_tsa(service: TrustService, ca_name: str = "sm2-issuing") -> None:
    """Replace the TSA certificate of ``ca_name`` (new key): our list's content changes."""
    service.ca.issue_for_new_key(
        ca_name,
        ProfileKind.TSA,
        SubjectInfo(common_name="某省时间戳服务 2", organization="某省政务服务数据管理局"),
        KeyAlgorithm.SM2,
        actor=ACTOR,
        service_role=ServiceRole.TSA,
    )


@dataclass
class Crafter:
    """Signs hand-made trust lists with a trust-list-signer certificate of a throw-away PKI."""

    root: Issued
    issuing: Issued
    signer: Issued
    clock: FakeClock

    @property
    def pin(self) -> Pin:
        return Pin.from_certificate(self.signer.certificate.dump())

    def payload(
        self,
        sequence: int,
        *,
        issued_at: datetime | None = None,
        validity: timedelta = timedelta(days=7),
        entries: list[dict[str, Any]] | None = None,
        name: str = "乙省",
    ) -> dict[str, Any]:
        issued = (issued_at or self.clock()).replace(microsecond=0)
        return {
            "format": FORMAT,
            "territory": {"code": "440000", "name": name},
            "operator": {"name": "乙省数据局", "uscc": OTHER_USCC},
            "sequence": sequence,
            "issued_at": iso(issued),
            "next_update": iso(issued + validity),
            "entries": entries if entries is not None else [self.ca_entry()],
            "pointers": {},
        }

    def ca_entry(self) -> dict[str, Any]:
        der = self.issuing.certificate.dump()
        return {
            "kind": "ca",
            "name": "b-issuing",
            "role": "issuing",
            "certificate": base64.b64encode(der).decode(),
            "sha256": hashlib.sha256(der).hexdigest(),
            "services": {"ocsp": ["http://b.example/ocsp"], "crl": ["http://b.example/crl/b.crl"]},
        }

    def sign(self, payload: dict[str, Any] | bytes, signer: Issued | None = None) -> bytes:
        data = payload if isinstance(payload, bytes) else canonical_json(payload)
        who = signer or self.signer
        return sign_envelope(data, who.signer, [who.certificate.dump(), self.issuing.certificate.dump()])

    def document(self, sequence: int, **kwargs: Any) -> bytes:
        return self.sign(self.payload(sequence, **kwargs))


@pytest.fixture
def crafter(clock: FakeClock) -> Crafter:
    start = clock() - timedelta(days=30)
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.SM2, not_before=start)
    issuing = issue(ProfileKind.ISSUING_CA, root, KeyAlgorithm.SM2, not_before=start)
    signer = issue(ProfileKind.TRUST_LIST_SIGNER, issuing, KeyAlgorithm.SM2, not_before=start)
    return Crafter(root, issuing, signer, clock)


# --- our list ------------------------------------------------------------------------------------


def test_init_issues_a_trust_list_signer_per_issuing_ca(pki: TrustService) -> None:
    certificate = x509.Certificate.load(pki.trust.signer_certificate())
    assert [p.dotted for p in certificate.extended_key_usage_value] == [ID_TSL_KP_TSL_SIGNING]
    assert set(certificate.key_usage_value.native) == {"digital_signature", "non_repudiation"}
    # idempotent: a second run makes nothing new
    created, lines = pki.trust.init_signers(actor=ACTOR)
    assert created == [] and lines[0].startswith("sm2-issuing trust-list-signer: serial ")


def test_our_list_is_signed_and_lists_cas_seal_makers_tsas_and_services(pki: TrustService) -> None:
    publication = pki.trust.current()
    signed = verify_trust_list(publication.document, signer_pin(pki))
    assert signed.signature_algorithm is SignatureAlgorithm.SM2_SM3
    document = signed.document
    assert document.sequence == 1 == publication.sequence
    assert document.next_update - document.issued_at == timedelta(days=7)
    assert document.operator_uscc == pki.settings.pki_org_uscc
    kinds = {(e["kind"], e["name"]) for e in document.entries}
    assert kinds == {
        (EntryKind.CA, "sm2-root"),
        (EntryKind.CA, "sm2-issuing"),
        (EntryKind.SEAL_MAKER, "sm2-issuing/seal-maker"),
        (EntryKind.TSA, "sm2-issuing/tsa"),
        (EntryKind.OCSP_RESPONDER, "sm2-issuing/ocsp-responder"),
        (EntryKind.ISSUING_ORGANISATION, pki.settings.pki_org_name),
    }
    base = pki.settings.public_base_url
    by_name = {e["name"]: e for e in document.entries}
    issuing = by_name["sm2-issuing"]
    assert issuing["certificate_der"] == pki.ca.ca("sm2-issuing").certificate_der
    assert issuing["services"].ocsp == (f"{base}/ocsp",)
    assert issuing["services"].crl == (f"{base}/crl/sm2-issuing.crl", f"{base}/crl/sm2-issuing-delta.crl")
    assert by_name["sm2-root"]["services"].ocsp == ()  # roots are not served by OCSP
    assert by_name["sm2-issuing/seal-maker"]["services"].seal_status == f"{base}/seals/{{es_id}}/status"
    assert by_name["sm2-issuing/tsa"]["services"].tsa == f"{base}/tsa"
    # the payload is canonical JSON: what is signed parses and re-serialises to the same bytes
    assert canonical_json(json.loads(publication.payload)) == publication.payload
    raw = json.loads(publication.payload)
    maker = next(e for e in raw["entries"] if e["kind"] == "seal-maker")
    assert maker["sha256"] == hashlib.sha256(base64.b64decode(maker["certificate"])).hexdigest()
    assert len(maker["sm3"]) == 64


def test_signature_is_sm2_with_the_default_id_over_the_exact_payload_bytes(pki: TrustService) -> None:
    publication = pki.trust.current()
    envelope = json.loads(publication.document)
    assert envelope["format"] == "trustsvc-signed-json/1"
    assert envelope["sm2_user_id"] == "1234567812345678"
    signer = x509.Certificate.load(pki.trust.signer_certificate())
    signature = base64.b64decode(envelope["signature"])
    payload = base64.b64decode(envelope["payload"])
    assert payload == publication.payload
    verify(signer.public_key, SignatureAlgorithm.SM2_SM3, payload, signature)
    with pytest.raises(InvalidSignature):
        verify(signer.public_key, SignatureAlgorithm.SM2_SM3, payload, signature, uid=b"")


def test_ecdsa_variant_is_the_same_payload_signed_by_the_ecdsa_signer(service: TrustService) -> None:
    make_pki(service, KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256)
    assert service.trust.hierarchies() == ["sm2", "ecdsa"]
    sm2, ecdsa = service.trust.current("sm2"), service.trust.current("ecdsa")
    assert ecdsa.payload == sm2.payload and ecdsa.sequence == sm2.sequence
    signed = verify_trust_list(ecdsa.document, signer_pin(service, "ecdsa"))
    assert signed.signature_algorithm is SignatureAlgorithm.ECDSA_SHA256
    assert "sm2_user_id" not in json.loads(ecdsa.document)
    assert service.trust.current("ecdsa-p256").document == ecdsa.document  # alias
    with pytest.raises(InvalidSignature):  # the SM2 pin does not accept the ECDSA issue
        verify_trust_list(ecdsa.document, signer_pin(service, "sm2"))
    with pytest.raises(NotFound):
        service.trust.current("rsa")


def test_sequence_increases_only_when_content_changes(pki: TrustService, clock: FakeClock) -> None:
    first = pki.trust.current()
    assert pki.trust.current().document == first.document  # nothing changed: served as stored
    clock.advance(hours=23)
    assert pki.trust.current().document == first.document  # not yet due for re-signing

    clock.advance(hours=2)  # older than trust_list_refresh_seconds: re-signed, same sequence
    reissued = pki.trust.current()
    assert reissued.sequence == 1
    assert reissued.issued_at > first.issued_at and reissued.next_update > first.next_update
    assert reissued.content_sha256 == first.content_sha256

    issue_new_tsa(pki)  # content changed: next sequence
    changed = pki.trust.current()
    assert changed.sequence == 2 and changed.content_sha256 != first.content_sha256
    assert pki.trust.current().sequence == 2

    tsa = pki.ca.service_certificate(ServiceRole.TSA, "sm2-issuing")
    pki.ca.revoke("sm2-issuing", tsa.serial_number, "keyCompromise", actor=ACTOR)
    after_revocation = pki.trust.current()  # a revoked service certificate is withdrawn
    assert after_revocation.sequence == 3
    kinds = [e["kind"] for e in parse_payload(after_revocation.payload).entries]
    assert EntryKind.TSA not in kinds

    published = actions(pki)
    assert [(a, d["sequence"], d["reason"]) for a, d in published] == [
        ("trust-list.publish", 1, "content-changed"),
        ("trust-list.publish", 1, "refresh"),
        ("trust-list.publish", 2, "content-changed"),
        ("trust-list.publish", 3, "content-changed"),
    ]
    assert published[0][1]["payload_sha256"] == hashlib.sha256(first.payload).hexdigest()


def test_a_new_hierarchy_signer_signs_the_current_payload_without_a_new_sequence(
    pki: TrustService,
) -> None:
    first = pki.trust.current()
    # a newer signer certificate for the same CA (e.g. renewal): same content, re-signed by it
    pki.ca.issue_for_new_key(
        "sm2-issuing",
        ProfileKind.TRUST_LIST_SIGNER,
        SubjectInfo(common_name="信任列表签名 2", organization="某省政务服务数据管理局"),
        KeyAlgorithm.SM2,
        actor=ACTOR,
    )
    again = pki.trust.current()
    assert again.sequence == first.sequence and again.payload == first.payload
    assert again.signer_certificate != first.signer_certificate
    assert actions(pki)[-1][1]["reason"] == "new-signer"


def test_no_signer_means_no_list(service: TrustService) -> None:
    service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)  # a home made before trust lists existed
    with pytest.raises(NotFound, match="trust-list signer"):
        service.trust.current()
    with pytest.raises(InvalidInput):
        service.trust.current("../etc")


# --- verifying and importing ---------------------------------------------------------------------


def test_tampered_payload_is_refused(pki: TrustService) -> None:
    publication = pki.trust.current()
    envelope = json.loads(publication.document)
    payload = json.loads(publication.payload)
    payload["entries"] = payload["entries"][1:]
    envelope["payload"] = base64.b64encode(canonical_json(payload)).decode()
    with pytest.raises(InvalidSignature):
        verify_trust_list(json.dumps(envelope).encode(), signer_pin(pki))
    envelope = json.loads(publication.document)
    envelope["signature"] = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
    with pytest.raises(InvalidSignature):
        verify_trust_list(json.dumps(envelope).encode(), signer_pin(pki))
    with pytest.raises(MalformedInput):
        verify_trust_list(b'{"format": "something else"}', signer_pin(pki))
    with pytest.raises(MalformedInput):
        verify_trust_list(b"\xff not json", signer_pin(pki))


def test_wrong_pinned_signer_is_refused_and_an_spki_pin_is_accepted(pki: TrustService) -> None:
    document = pki.trust.current().document
    maker = pki.ca.service_certificate(ServiceRole.SEAL_MAKER, "sm2-issuing").der
    with pytest.raises(InvalidSignature, match="not by the pinned signer"):
        verify_trust_list(document, Pin.from_certificate(maker))
    with pytest.raises(InvalidSignature):
        verify_trust_list(document, Pin.from_spki_sha256("sha256:" + "00" * 32))
    signer = x509.Certificate.load(pki.trust.signer_certificate())
    spki_hash = hashlib.sha256(signer.public_key.dump()).hexdigest()
    pin = Pin.from_spki_sha256(f"SHA256:{spki_hash.upper()}")
    assert verify_trust_list(document, pin).document.sequence == 1
    with pytest.raises(InvalidInput):
        Pin.from_spki_sha256("abc")


def test_a_signer_certificate_in_the_envelope_cannot_replace_the_pin(
    pki: TrustService, crafter: Crafter
) -> None:
    # an attacker's own signer certificate in the envelope is worthless against a pin to ours
    forged = crafter.document(9)
    with pytest.raises(InvalidSignature, match="not by the pinned signer"):
        pki.trust.import_list("forged", forged, pin=signer_pin(pki), actor=ACTOR)
    assert pki.trust.lists() == []


def test_import_stores_the_list_and_its_entries_and_is_audited(pki: TrustService, crafter: Crafter) -> None:
    result = pki.trust.import_list("province-b", crafter.document(3), pin=crafter.pin, actor=ACTOR)
    assert result.outcome == "imported" and result.previous_sequence is None
    listed = pki.trust.lists()
    assert [(i.name, i.territory_code, i.sequence, i.status, i.entries) for i in listed] == [
        ("province-b", "440000", 3, ListStatus.FRESH, 1)
    ]
    assert listed[0].pin.certificate_der == crafter.signer.certificate.dump()
    entry = pki.trust.entries("province-b")[0]
    assert entry.kind is EntryKind.CA and entry.services.ocsp == ("http://b.example/ocsp",)
    action, details = actions(pki)[-1]
    assert action == "trust-list.import"
    assert (details["name"], details["outcome"], details["sequence"]) == ("province-b", "imported", 3)


def test_rollback_to_a_lower_sequence_is_refused(pki: TrustService, crafter: Crafter) -> None:
    older = crafter.document(4)
    newer = crafter.document(5)
    pki.trust.import_list("b", newer, pin=crafter.pin, actor=ACTOR)
    with pytest.raises(TrustListRollback, match="lower than the stored sequence 5"):
        pki.trust.import_list("b", older, pin=crafter.pin, actor=ACTOR)
    assert pki.trust.get("b").sequence == 5


def test_same_sequence_is_a_reissue_only_with_the_same_content_and_a_later_date(
    pki: TrustService, crafter: Crafter, clock: FakeClock
) -> None:
    first = crafter.document(7)
    pki.trust.import_list("b", first, pin=crafter.pin, actor=ACTOR)
    assert pki.trust.import_list("b", first, pin=crafter.pin, actor=ACTOR).outcome == "unchanged"
    with pytest.raises(TrustListRollback, match="different content"):
        pki.trust.import_list("b", crafter.document(7, entries=[]), pin=crafter.pin, actor=ACTOR)
    clock.advance(hours=1)
    later = crafter.document(7)
    result = pki.trust.import_list("b", later, pin=crafter.pin, actor=ACTOR)
    assert result.outcome == "reissued"
    assert pki.trust.get("b").next_update == clock().replace(microsecond=0) + timedelta(days=7)
    with pytest.raises(TrustListRollback, match="older issue"):
        pki.trust.import_list("b", first, pin=crafter.pin, actor=ACTOR)


def test_an_existing_list_keeps_its_pin(pki: TrustService, crafter: Crafter) -> None:
    pki.trust.import_list("b", crafter.document(1), pin=crafter.pin, actor=ACTOR)
    other_signer = issue(
        ProfileKind.TRUST_LIST_SIGNER,
        crafter.issuing,
        KeyAlgorithm.SM2,
        not_before=crafter.signer.certificate.not_valid_before,
    )
    document = crafter.sign(crafter.payload(2), other_signer)
    with pytest.raises(Conflict, match="pinned to another signer"):
        pki.trust.import_list(
            "b", document, pin=Pin.from_certificate(other_signer.certificate.dump()), actor=ACTOR
        )
    pki.trust.remove("b", actor=ACTOR)  # re-pinning is remove + import
    new_pin = Pin.from_certificate(other_signer.certificate.dump())
    assert pki.trust.import_list("b", document, pin=new_pin, actor=ACTOR).outcome == "imported"
    assert [a for a, _ in actions(pki)] == ["trust-list.import", "trust-list.remove", "trust-list.import"]


def test_expired_or_future_issues_are_not_imported(
    pki: TrustService, crafter: Crafter, clock: FakeClock
) -> None:
    expired = crafter.document(1, issued_at=clock() - timedelta(days=8))
    with pytest.raises(TrustListExpired):
        pki.trust.import_list("b", expired, pin=crafter.pin, actor=ACTOR)
    future = crafter.document(1, issued_at=clock() + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="future"):
        pki.trust.import_list("b", future, pin=crafter.pin, actor=ACTOR)
    before_signer = crafter.document(
        1, issued_at=crafter.signer.certificate.not_valid_before - timedelta(days=1)
    )
    with pytest.raises(InvalidSignature, match="not valid when"):
        pki.trust.import_list("b", before_signer, pin=crafter.pin, actor=ACTOR)


def test_malformed_entries_are_refused_and_unknown_kinds_ignored(pki: TrustService, crafter: Crafter) -> None:
    wrong_hash = crafter.ca_entry() | {"sha256": "00" * 32}
    with pytest.raises(MalformedInput, match="sha256 does not match"):
        pki.trust.import_list("b", crafter.document(1, entries=[wrong_hash]), pin=crafter.pin, actor=ACTOR)
    bad_url = crafter.ca_entry() | {"services": {"ocsp": ["file:///etc/passwd"]}}
    with pytest.raises(MalformedInput, match="http"):
        pki.trust.import_list("b", crafter.document(1, entries=[bad_url]), pin=crafter.pin, actor=ACTOR)
    later_kind = {"kind": "qualified-validation-service", "name": "x"}
    result = pki.trust.import_list(
        "b", crafter.document(1, entries=[crafter.ca_entry(), later_kind]), pin=crafter.pin, actor=ACTOR
    )
    assert result.list.entries == 1
    for name in ("own", "local", "Upper", "", "a/b"):
        with pytest.raises(InvalidInput):
            pki.trust.import_list(name, crafter.document(2), pin=crafter.pin, actor=ACTOR)


def test_expiry_marks_the_list_expired_and_its_anchors_indeterminate(
    pki: TrustService, crafter: Crafter, clock: FakeClock
) -> None:
    pki.trust.import_list("b", crafter.document(1, validity=timedelta(days=2)), pin=crafter.pin, actor=ACTOR)
    anchor = crafter.issuing.certificate
    source = pki.trust.store().source_of(anchor)
    assert source == ("b", "440000", 1, ListStatus.FRESH) and not source.indeterminate

    clock.advance(days=2)
    assert pki.trust.get("b").status is ListStatus.EXPIRED
    store = pki.trust.store()
    assert anchor.dump() in [c.dump() for c in store.anchors(Purpose.SIGNER_CA)]  # still listed
    source = store.source_of(anchor)
    assert source.status is ListStatus.EXPIRED and source.indeterminate
    assert source.sub_indication == "TRY_LATER"


def test_refresh_failure_keeps_the_list_marks_it_stale_and_is_audited(
    pki: TrustService, crafter: Crafter
) -> None:
    documents = {"http://b.example/trust-list": crafter.document(1)}
    pki.trust.fetch = documents.__getitem__
    pki.trust.import_url("b", "http://b.example/trust-list", pin=crafter.pin, actor=ACTOR)

    def unreachable(url: str) -> bytes:
        raise TrustListFetchFailed(f"{url}: connection refused")

    pki.trust.fetch = unreachable
    with pytest.raises(TrustListFetchFailed):
        pki.trust.refresh("b", actor=ACTOR)
    kept = pki.trust.get("b")
    assert kept.sequence == 1 and kept.status is ListStatus.STALE
    assert kept.last_error is not None and "connection refused" in kept.last_error
    assert actions(pki)[-1][0] == "trust-list.refresh-failed"

    documents["http://b.example/trust-list"] = crafter.document(2)
    pki.trust.fetch = documents.__getitem__
    result = pki.trust.refresh("b", actor=ACTOR)
    assert (result.outcome, result.previous_sequence, result.list.sequence) == ("updated", 1, 2)
    assert result.list.status is ListStatus.FRESH and result.list.last_error is None
    assert actions(pki)[-1][0] == "trust-list.refresh"

    documents["http://b.example/trust-list"] = crafter.document(1)  # a replayed old issue
    with pytest.raises(TrustListRollback):
        pki.trust.refresh("b", actor=ACTOR)
    assert pki.trust.get("b").status is ListStatus.STALE


def test_a_list_imported_from_a_file_is_not_refreshed(pki: TrustService, crafter: Crafter) -> None:
    pki.trust.import_list("b", crafter.document(1), pin=crafter.pin, actor=ACTOR)
    with pytest.raises(InvalidInput, match="file"):
        pki.trust.refresh("b", actor=ACTOR)
    with pytest.raises(NotFound):
        pki.trust.refresh("nobody", actor=ACTOR)


# --- the query API -------------------------------------------------------------------------------


def test_anchors_by_purpose_and_their_sources(pki: TrustService, crafter: Crafter) -> None:
    pki.trust.current()
    pki.trust.import_list("b", crafter.document(2), pin=crafter.pin, actor=ACTOR)
    store = pki.trust.store()
    subjects = {c.subject.native["common_name"] for c in store.anchors(Purpose.SIGNER_CA)}
    org = pki.settings.pki_org_name
    assert subjects == {f"{org} SM2根CA", f"{org} SM2签发CA", "某省电子印章签发CA"}
    maker = pki.ca.service_certificate(ServiceRole.SEAL_MAKER, "sm2-issuing")
    assert [c.dump() for c in store.anchors("seal-maker")] == [maker.der]
    tsa = pki.ca.service_certificate(ServiceRole.TSA, "sm2-issuing")
    assert [c.dump() for c in store.anchors(Purpose.TSA)] == [tsa.der]
    assert store.source_of(maker.der) == (OWN_LIST, "", 1, ListStatus.FRESH)
    assert store.source_of(crafter.issuing.certificate) == ("b", "440000", 2, ListStatus.FRESH)
    assert store.is_trusted(maker.der, Purpose.SEAL_MAKER)
    assert not store.is_trusted(maker.der, Purpose.TSA)
    with pytest.raises(NotFound):
        store.source_of(crafter.root.certificate)


def test_endpoints_for_a_certificate_come_from_its_issuer(pki: TrustService, crafter: Crafter) -> None:
    pki.trust.import_list("b", crafter.document(1), pin=crafter.pin, actor=ACTOR)
    store = pki.trust.store()
    base = pki.settings.public_base_url
    signer, _ = pki.ca.issue_for_new_key(
        "sm2-issuing",
        ProfileKind.SEAL_SIGNER,
        SubjectInfo(common_name="某市某局行政审批专用章", organization="某市某局", uscc=OTHER_USCC),
        KeyAlgorithm.SM2,
        actor=ACTOR,
    )
    endpoints = store.endpoints_for(x509.Certificate.load(signer.der))
    assert endpoints.ocsp == (f"{base}/ocsp",)
    assert endpoints.crl == (f"{base}/crl/sm2-issuing.crl", f"{base}/crl/sm2-issuing-delta.crl")
    assert endpoints.seal_status == f"{base}/seals/{{es_id}}/status"
    assert endpoints.seal_status_url("33010000000001") == f"{base}/seals/33010000000001/status"
    assert endpoints.source is not None and endpoints.source.list_name == OWN_LIST

    # a certificate issued by province B's CA: B's OCSP and CRL
    leaf = issue(ProfileKind.SEAL_SIGNER, crafter.issuing, KeyAlgorithm.SM2, not_before=crafter.clock())
    from_b = store.endpoints_for(leaf.certificate.dump())
    assert from_b.ocsp == ("http://b.example/ocsp",) and from_b.crl == ("http://b.example/crl/b.crl",)
    assert from_b.source is not None and from_b.source.list_name == "b"

    # a certificate nobody lists: empty, the engine falls back to the certificate's own pointers
    stranger = store.endpoints_for(crafter.root.certificate)
    assert stranger.ocsp == () and stranger.source is None

    by_uscc = store.endpoints_for(pki.settings.pki_org_uscc)
    assert by_uscc.seal_status == f"{base}/seals/{{es_id}}/status"
    assert by_uscc.licence_status_url("1.2.156.3005.2.x") == f"{base}/licenses/1.2.156.3005.2.x/status"


def test_local_anchors_come_first_and_default_to_every_purpose(pki: TrustService, crafter: Crafter) -> None:
    store = pki.trust.store(local_anchors=[crafter.root.certificate])
    for purpose in Purpose:
        assert store.anchors(purpose)[0].dump() == crafter.root.certificate.dump()
    assert store.source_of(crafter.root.certificate) == (LOCAL_ANCHORS, "", 0, ListStatus.FRESH)
    only_tsa = pki.trust.store(local_anchors=[crafter.root.certificate.dump()], local_purposes=["tsa"])
    assert only_tsa.is_trusted(crafter.root.certificate, "tsa")
    assert not only_tsa.is_trusted(crafter.root.certificate, "signer-ca")
    assert len(TrustStore([]).with_local_anchors([crafter.root.certificate])) == 3


# --- fetching --------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        _Handler.routes = {}


def test_http_fetch_gets_http_only_within_limits(http_base: str) -> None:
    _Handler.routes = {
        "/list": (200, {}, b"{}"),
        "/big": (200, {}, b"x" * 2048),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/to-ftp": (302, {"Location": "ftp://127.0.0.1/list"}, b""),
        "/to-list": (302, {"Location": "/list"}, b""),
        "/error": (500, {}, b"oops"),
    }
    assert http_fetch(f"{http_base}/list") == b"{}"
    assert http_fetch(f"{http_base}/to-list") == b"{}"
    with pytest.raises(TrustListFetchFailed, match="larger than 1024"):
        http_fetch(f"{http_base}/big", max_bytes=1024)
    with pytest.raises(TrustListFetchFailed, match="not allowed"):
        http_fetch(f"{http_base}/to-file")
    with pytest.raises(TrustListFetchFailed, match="non-HTTP"):  # urllib itself would follow this one
        http_fetch(f"{http_base}/to-ftp")
    with pytest.raises(TrustListFetchFailed, match="HTTP 500"):
        http_fetch(f"{http_base}/error")
    with pytest.raises(TrustListFetchFailed, match="HTTP 404"):
        http_fetch(f"{http_base}/missing")
    for url in ("file:///etc/passwd", "ftp://example.org/x", "/relative"):
        with pytest.raises(InvalidInput):
            http_fetch(url)
    closed = http_base.rsplit(":", 1)[0] + ":9"  # discard port: nothing listens
    with pytest.raises(TrustListFetchFailed):
        http_fetch(f"{closed}/list", timeout=2)


# --- command line ----------------------------------------------------------------------------------


def test_trust_commands_export_import_list_show_refresh_remove(
    pki: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    # the command line runs on the real clock: export (publishes), then import that issue back
    exported = run_cli(
        "trust", "export", "--out", str(tmp_path / "list.json"), "--signer-out", str(tmp_path / "s.pem")
    )
    assert exported.exit_code == 0, exported.output
    assert exported.stderr.startswith("trust list sequence 1 (sm2), issued ")
    assert pem.detect((tmp_path / "s.pem").read_bytes())

    no_pin = run_cli("trust", "import", "--name", "copy", str(tmp_path / "list.json"))
    assert no_pin.exit_code == 2 and "pin the signer" in no_pin.stderr
    imported = run_cli(
        "trust",
        "import",
        "--name",
        "copy",
        str(tmp_path / "list.json"),
        "--signer-cert",
        str(tmp_path / "s.pem"),
    )
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.startswith("imported copy: ")
    assert "sequence 1" in imported.stdout and "6 entries" in imported.stdout

    listing = run_cli("trust", "list").stdout.splitlines()
    assert listing[0].split() == [
        "name",
        "territory",
        "sequence",
        "issued",
        "next",
        "update",
        "status",
        "source",
    ]
    assert listing[1].startswith("(own)") and "published" in listing[1]
    assert listing[2].split()[0] == "copy" and listing[2].split()[-2:] == ["fresh", "(file)"]

    shown = run_cli("trust", "show", "copy")
    assert shown.exit_code == 0 and "seal-maker" in shown.stdout and "sm2-issuing/tsa" in shown.stdout

    from_file = run_cli("trust", "refresh", "copy")
    assert from_file.exit_code == 1 and "imported from a file" in from_file.stderr
    assert run_cli("trust", "refresh").exit_code == 0  # no list has a URL: nothing to do

    assert run_cli("trust", "remove", "copy").stdout.strip() == "removed copy"
    missing = run_cli("trust", "show", "copy")
    assert missing.exit_code == 1 and "no trust list named 'copy'" in missing.stderr
