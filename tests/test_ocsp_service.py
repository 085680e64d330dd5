"""The OCSP service: routing by issuer, pre-signed responses kept fresh and invalidated by status changes."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asn1crypto import core, ocsp, x509
from sqlalchemy import func, select

from tests.conftest import FakeClock
from trustsvc.ca import status as status_module
from trustsvc.ca.models import IssuedCertificate, ServiceRole
from trustsvc.ca.ocsp import CertIdHash, cert_id_for
from trustsvc.ca.profiles import ProfileKind, SubjectInfo
from trustsvc.ca.status import OcspAnswer, decode_get_request
from trustsvc.ca.status_models import OcspResponseRecord
from trustsvc.errors import KeyStoreError, MalformedInput
from trustsvc.keys.algorithms import KeyAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify
from trustsvc.service import TrustService

ORG = {"organization": "某市市场监督管理局", "uscc": "11330105002500287C"}


@dataclass
class Leaf:
    ca_name: str
    certificate: x509.Certificate
    issuer: x509.Certificate
    responder: x509.Certificate

    @property
    def serial(self) -> int:
        return int(self.certificate.serial_number)


def issue_leaf(service: TrustService, hierarchy: str = "ecdsa", common_name: str = "印章签名") -> Leaf:
    algorithm = {"ecdsa": KeyAlgorithm.ECDSA_P256, "sm2": KeyAlgorithm.SM2}[hierarchy]
    ca_name = f"{hierarchy}-issuing"
    subject = service.ca.subject_info({"common_name": common_name, **ORG})
    row, _ = service.ca.issue_for_new_key(ca_name, ProfileKind.SEAL_SIGNER, subject, algorithm, actor="test")
    responder = service.ca.service_certificate(ServiceRole.OCSP_RESPONDER, ca_name)
    return Leaf(
        ca_name,
        x509.Certificate.load(row.der),
        service.ca.ca(ca_name).certificate,
        x509.Certificate.load(responder.der),
    )


def ocsp_request(*cert_ids: bytes | ocsp.CertId, nonce: bytes | None = None) -> bytes:
    """Return a DER OCSPRequest for ``cert_ids`` (DER or parsed), with a nonce extension if given."""
    tbs: dict[str, Any] = {
        "request_list": [
            {"req_cert": c if isinstance(c, ocsp.CertId) else ocsp.CertId.load(c)} for c in cert_ids
        ]
    }
    if nonce is not None:
        tbs["request_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    return ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def request_for(leaf: Leaf, hash_algorithm: str = "sha1", nonce: bytes | None = None) -> bytes:
    return ocsp_request(cert_id_for(leaf.certificate, leaf.issuer, hash_algorithm).der, nonce=nonce)


def single(der: bytes) -> ocsp.SingleResponse:
    (response,) = basic(der)["tbs_response_data"]["responses"]
    return response


def basic(der: bytes) -> ocsp.BasicOCSPResponse:
    response = ocsp.OCSPResponse.load(der)
    assert response["response_status"].native == "successful"
    return response.basic_ocsp_response


def response_status(der: bytes) -> str:
    return str(ocsp.OCSPResponse.load(der)["response_status"].native)


def check_signed_by(der: bytes, responder: x509.Certificate) -> None:
    response = basic(der)
    verify(
        responder.public_key,
        signature_algorithm_of(response["signature_algorithm"]),
        response["tbs_response_data"].dump(),
        response["signature"].native,
    )
    assert response["tbs_response_data"]["responder_id"].chosen.native == responder.key_identifier
    assert [c.dump() for c in response["certs"]] == [responder.dump()]


def stored_rows(service: TrustService) -> int:
    with service.session(read_only=True) as session, session.begin():
        return int(session.execute(select(func.count()).select_from(OcspResponseRecord)).scalar_one())


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


@pytest.fixture
def leaf(pki: TrustService) -> Leaf:
    return issue_leaf(pki)


# --- answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hierarchy", ["sm2", "ecdsa"])
def test_good_certificate_is_reported_good_signed_by_the_delegated_responder(
    pki: TrustService, hierarchy: str, clock: FakeClock
) -> None:
    leaf = issue_leaf(pki, hierarchy)
    answer = pki.ocsp.respond(request_for(leaf))
    assert answer.status == "successful" and answer.cacheable
    check_signed_by(answer.der, leaf.responder)
    response = single(answer.der)
    assert response["cert_status"].name == "good"
    assert response["this_update"].native == clock.now.replace(microsecond=0)
    assert response["next_update"].native == clock.now.replace(microsecond=0) + timedelta(hours=24)
    assert answer.refresh_at == answer.produced_at + timedelta(hours=1)  # type: ignore[operator]
    expected = "1.2.156.10197.1.501" if hierarchy == "sm2" else "1.2.840.10045.4.3.2"
    assert basic(answer.der)["signature_algorithm"]["algorithm"].dotted == expected


def test_cacheable_request_is_answered_from_the_stored_response_until_refresh(
    pki: TrustService, leaf: Leaf, clock: FakeClock
) -> None:
    first = pki.ocsp.respond(request_for(leaf))
    assert stored_rows(pki) == 1
    clock.advance(minutes=59)
    again = pki.ocsp.respond(request_for(leaf))
    assert again.der == first.der and again.produced_at == first.produced_at
    clock.advance(minutes=1, seconds=1)
    refreshed = pki.ocsp.respond(request_for(leaf))
    assert refreshed.der != first.der
    assert single(refreshed.der)["this_update"].native == clock.now.replace(microsecond=0)
    assert stored_rows(pki) == 1  # replaced in place


@pytest.mark.parametrize("hierarchy", ["sm2", "ecdsa"])
def test_revoke_hold_and_release_invalidate_the_stored_response(
    pki: TrustService, hierarchy: str, clock: FakeClock
) -> None:
    leaf = issue_leaf(pki, hierarchy)
    assert single(pki.ocsp.respond(request_for(leaf)).der)["cert_status"].name == "good"

    clock.advance(seconds=5)
    pki.ca.hold(leaf.ca_name, leaf.serial, actor="test")
    held = single(pki.ocsp.respond(request_for(leaf)).der)["cert_status"]
    assert held.name == "revoked"
    assert held.chosen["revocation_reason"].native == "certificate_hold"

    clock.advance(seconds=5)
    pki.ca.release(leaf.ca_name, leaf.serial, actor="test")
    assert single(pki.ocsp.respond(request_for(leaf)).der)["cert_status"].name == "good"

    clock.advance(seconds=5)
    pki.ca.revoke(leaf.ca_name, leaf.serial, "keyCompromise", actor="test")
    answer = pki.ocsp.respond(request_for(leaf))
    revoked = single(answer.der)["cert_status"]
    assert revoked.name == "revoked"
    assert revoked.chosen["revocation_reason"].native == "key_compromise"
    assert revoked.chosen["revocation_time"].native == clock.now.replace(microsecond=0)
    check_signed_by(answer.der, leaf.responder)
    assert stored_rows(pki) == 1


def test_a_revocation_by_another_process_is_seen_at_once(
    pki: TrustService, leaf: Leaf, clock: FakeClock
) -> None:
    assert single(pki.ocsp.respond(request_for(leaf)).der)["cert_status"].name == "good"
    other = TrustService.from_settings(pki.settings, clock=clock)  # another worker, its own caches
    try:
        other.ca.revoke(leaf.ca_name, leaf.serial, "superseded", actor="test")
    finally:
        other.close()
    assert single(pki.ocsp.respond(request_for(leaf)).der)["cert_status"].name == "revoked"


def test_nonce_is_echoed_in_a_response_signed_on_demand_and_not_stored(pki: TrustService, leaf: Leaf) -> None:
    nonce = bytes(range(16))
    answer = pki.ocsp.respond(request_for(leaf, nonce=nonce))
    assert not answer.cacheable
    data = basic(answer.der)["tbs_response_data"]
    assert data["response_extensions"][0]["extn_value"].parsed.native == nonce
    assert single(answer.der)["cert_status"].name == "good"
    check_signed_by(answer.der, leaf.responder)
    assert stored_rows(pki) == 0
    assert pki.ocsp.respond(request_for(leaf, nonce=nonce)).der is not None


def test_several_cert_ids_are_answered_together_and_not_stored(pki: TrustService) -> None:
    one, two = issue_leaf(pki, common_name="甲"), issue_leaf(pki, common_name="乙")
    pki.ca.revoke(two.ca_name, two.serial, actor="test")
    der = ocsp_request(
        cert_id_for(one.certificate, one.issuer).der, cert_id_for(two.certificate, two.issuer).der
    )
    answer = pki.ocsp.respond(der)
    states = [r["cert_status"].name for r in basic(answer.der)["tbs_response_data"]["responses"]]
    assert states == ["good", "revoked"] and not answer.cacheable
    assert stored_rows(pki) == 0


def test_unknown_serial_is_answered_unknown_and_not_stored(pki: TrustService, leaf: Leaf) -> None:
    cert_id = ocsp.CertId.load(cert_id_for(leaf.certificate, leaf.issuer).der)
    made_up = ocsp.CertId(
        {
            "hash_algorithm": cert_id["hash_algorithm"],
            "issuer_name_hash": cert_id["issuer_name_hash"],
            "issuer_key_hash": cert_id["issuer_key_hash"],
            "serial_number": 0x0BADC0DE,
        }
    )
    answer = pki.ocsp.respond(ocsp_request(made_up))
    assert single(answer.der)["cert_status"].name == "unknown"
    check_signed_by(answer.der, leaf.responder)
    assert stored_rows(pki) == 0


@pytest.mark.parametrize("hash_algorithm", ["sha256", "sha384", "sha512", "sm3"])
def test_other_cert_id_hashes_are_answered_and_echoed(
    pki: TrustService, leaf: Leaf, hash_algorithm: str
) -> None:
    cert_id = cert_id_for(leaf.certificate, leaf.issuer, hash_algorithm)
    answer = pki.ocsp.respond(ocsp_request(cert_id.der))
    assert single(answer.der)["cert_id"].dump() == cert_id.der
    assert single(answer.der)["cert_status"].name == "good"


def test_each_cert_id_spelling_gets_its_own_stored_response(pki: TrustService, leaf: Leaf) -> None:
    with_null = cert_id_for(leaf.certificate, leaf.issuer)
    # asn1crypto always writes NULL parameters for SHA-1; cut them out of the DER by hand
    sha1_with_null = bytes.fromhex("3009 0605 2b0e03021a 0500".replace(" ", ""))
    sha1_without = bytes.fromhex("3007 0605 2b0e03021a".replace(" ", ""))
    body = with_null.der[2:].replace(sha1_with_null, sha1_without)
    without_null = ocsp.CertId.load(bytes([0x30, len(body)]) + body)
    assert without_null.dump() != with_null.der
    assert isinstance(without_null["hash_algorithm"]["parameters"], core.Void)
    first = pki.ocsp.respond(ocsp_request(with_null.der))
    second = pki.ocsp.respond(ocsp_request(without_null))
    assert single(first.der)["cert_id"].dump() == with_null.der
    assert single(second.der)["cert_id"].dump() == without_null.dump()
    assert stored_rows(pki) == 2


# --- who is answered -----------------------------------------------------------------------------


def test_certificates_of_a_root_ca_are_answered_unauthorized(pki: TrustService) -> None:
    root = pki.ca.ca("ecdsa-root").certificate
    issuing = pki.ca.ca("ecdsa-issuing").certificate
    answer = pki.ocsp.respond(ocsp_request(cert_id_for(issuing, root).der))
    assert answer.status == "unauthorized" and response_status(answer.der) == "unauthorized"


def test_unknown_issuer_is_answered_unauthorized(pki: TrustService, leaf: Leaf) -> None:
    parsed = ocsp.CertId.load(cert_id_for(leaf.certificate, leaf.issuer).der)
    stranger = ocsp.CertId(
        {
            "hash_algorithm": parsed["hash_algorithm"],
            "issuer_name_hash": b"\x01" * 20,
            "issuer_key_hash": b"\x02" * 20,
            "serial_number": leaf.serial,
        }
    )
    assert pki.ocsp.respond(ocsp_request(stranger)).status == "unauthorized"
    # right key hash, wrong name hash: still not our CA
    renamed = ocsp.CertId({**{k: parsed[k] for k in ("hash_algorithm", "issuer_key_hash", "serial_number")},
                           "issuer_name_hash": b"\x01" * 20})  # fmt: skip
    assert pki.ocsp.respond(ocsp_request(renamed)).status == "unauthorized"


def test_cert_ids_of_two_cas_in_one_request_are_unauthorized(pki: TrustService) -> None:
    ecdsa, sm2 = issue_leaf(pki, "ecdsa"), issue_leaf(pki, "sm2")
    der = ocsp_request(
        cert_id_for(ecdsa.certificate, ecdsa.issuer).der, cert_id_for(sm2.certificate, sm2.issuer).der
    )
    assert pki.ocsp.respond(der).status == "unauthorized"


def test_a_hierarchy_made_while_running_is_served(service: TrustService, monkeypatch: Any) -> None:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    assert service.ocsp.served_cas() == ["sm2-issuing"]
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    monkeypatch.setattr(status_module, "RELOAD_ON_MISS", 0.0)
    leaf = issue_leaf(service)
    assert single(service.ocsp.respond(request_for(leaf)).der)["cert_status"].name == "good"
    assert service.ocsp.served_cas() == ["ecdsa-issuing", "sm2-issuing"]


def test_a_renewed_responder_certificate_signs_from_then_on(
    pki: TrustService, leaf: Leaf, monkeypatch: Any
) -> None:
    old = pki.ocsp.respond(request_for(leaf))
    check_signed_by(old.der, leaf.responder)
    subject = SubjectInfo(common_name="ECDSA OCSP服务 2", organization=ORG["organization"], uscc=ORG["uscc"])
    renewed, _ = pki.ca.issue_for_new_key(
        leaf.ca_name,
        ProfileKind.OCSP_RESPONDER,
        subject,
        KeyAlgorithm.ECDSA_P256,
        actor="test",
        service_role=ServiceRole.OCSP_RESPONDER,
    )
    monkeypatch.setattr(status_module, "RESPONDER_TTL", 0.0)
    new = pki.ocsp.respond(request_for(leaf))
    check_signed_by(new.der, x509.Certificate.load(renewed.der))
    assert stored_rows(pki) == 1


# --- malformed requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30\x03\x02\x01", b"GET /ocsp HTTP/1.1", b"\x30\x84\x7f\xff\xff\xff", b"\x00" * 70_000],
    ids=["empty", "truncated", "text", "huge-length", "oversized"],
)
def test_garbage_gets_malformed_request(pki: TrustService, body: bytes) -> None:
    answer = pki.ocsp.respond(body)
    assert answer.status == "malformed_request" and not answer.cacheable
    assert response_status(answer.der) == "malformed_request"


def test_a_truncated_real_request_gets_malformed_request(pki: TrustService, leaf: Leaf) -> None:
    der = request_for(leaf)
    for cut in (1, len(der) // 2, len(der) - 1):
        assert response_status(pki.ocsp.respond(der[:cut]).der) == "malformed_request"


def test_get_paths_decode_in_every_spelling_clients_use() -> None:
    raw = bytes([0xFB, 0xFF, 0xBF, 0x30, 0x01]) * 3
    standard = base64.b64encode(raw).decode()
    assert "/" in standard and "+" in standard
    for spelling in (
        standard,
        standard.rstrip("="),
        standard.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D"),
        standard.replace("+", " "),
        base64.urlsafe_b64encode(raw).decode(),
    ):
        assert decode_get_request(spelling) == raw, spelling
    for bad in ("", "%%%", "not base64!", "A" * 100_000):
        with pytest.raises(MalformedInput):
            decode_get_request(bad)


def test_get_answers_like_post(pki: TrustService, leaf: Leaf) -> None:
    der = request_for(leaf)
    posted = pki.ocsp.respond(der)
    fetched = pki.ocsp.respond_get(base64.b64encode(der).decode())
    assert fetched.der == posted.der
    assert pki.ocsp.respond_get("%%%").status == "malformed_request"


# --- failures ------------------------------------------------------------------------------------


def _break_signing(service: TrustService, monkeypatch: Any) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise KeyStoreError("the HSM is not answering")

    service.ocsp.served_cas()  # load the responders, then break each one's signing
    for responder in service.ocsp._by_name.values():
        monkeypatch.setattr(responder.core, "sign_response", broken)


def test_when_signing_fails_the_unexpired_stored_response_is_served(
    pki: TrustService, leaf: Leaf, clock: FakeClock, monkeypatch: Any
) -> None:
    stored = pki.ocsp.respond(request_for(leaf))
    clock.advance(hours=2)  # stale (refresh 1 h) but before nextUpdate (24 h)
    _break_signing(pki, monkeypatch)
    assert pki.ocsp.respond(request_for(leaf)).der == stored.der
    clock.advance(hours=23)  # past nextUpdate: nothing to serve
    answer = pki.ocsp.respond(request_for(leaf))
    assert answer.status == "internal_error" and response_status(answer.der) == "internal_error"


def test_when_signing_fails_after_a_status_change_the_answer_is_internal_error(
    pki: TrustService, leaf: Leaf, monkeypatch: Any
) -> None:
    pki.ocsp.respond(request_for(leaf))
    pki.ca.revoke(leaf.ca_name, leaf.serial, actor="test")
    _break_signing(pki, monkeypatch)
    # never the stored "good" once the certificate is revoked
    assert pki.ocsp.respond(request_for(leaf)).status == "internal_error"


# --- pre-signing and concurrency -------------------------------------------------------------------


def test_presign_signs_every_certificate_once_and_requests_use_it(
    pki: TrustService, clock: FakeClock
) -> None:
    leaves = [issue_leaf(pki, common_name=f"印章{i}") for i in range(5)]
    with pki.session(read_only=True) as session, session.begin():
        count = session.execute(
            select(func.count())
            .select_from(IssuedCertificate)
            .where(IssuedCertificate.ca_id == pki.ca.ca("ecdsa-issuing").id)
        ).scalar_one()
    calls: list[tuple[int, int]] = []
    report = pki.ocsp.presign(
        "ecdsa-issuing",
        hash_algorithms=[CertIdHash.SHA1, "sha256"],
        progress=lambda d, t: calls.append((d, t)),
    )
    assert report.certificates == count and report.signed == 2 * count and report.fresh == 0
    assert calls[-1] == (count, count)
    assert stored_rows(pki) == 2 * count

    again = pki.ocsp.presign("ecdsa-issuing", hash_algorithms=["sha1", "sha256"])
    assert again.signed == 0 and again.fresh == 2 * count
    forced = pki.ocsp.presign("ecdsa-issuing", force=True)
    assert forced.signed == count

    with pki.session(read_only=True) as session, session.begin():
        stored = {r.der for r in session.execute(select(OcspResponseRecord)).scalars()}
    assert pki.ocsp.respond(request_for(leaves[0])).der in stored
    assert pki.ocsp.respond(request_for(leaves[1], "sha256")).der in stored


def test_presign_refuses_a_root_ca(pki: TrustService) -> None:
    from trustsvc.errors import NotFound

    with pytest.raises(NotFound, match="root"):
        pki.ocsp.presign("sm2-root")


def test_concurrent_requests_for_a_stale_response_all_get_an_answer(pki: TrustService, leaf: Leaf) -> None:
    answers: list[OcspAnswer] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            answers.append(pki.ocsp.respond(request_for(leaf)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(answers) == 8
    assert all(single(a.der)["cert_status"].name == "good" for a in answers)
    assert stored_rows(pki) == 1


# --- command line --------------------------------------------------------------------------------


def test_ocsp_refresh_command_presigns_every_served_ca(pki: TrustService, run_cli: Any) -> None:
    issue_leaf(pki)
    first = run_cli("ca", "ocsp-refresh")
    assert first.exit_code == 0, first.output
    lines = [
        line for line in first.stdout.splitlines() if line.startswith(("ecdsa-issuing:", "sm2-issuing:"))
    ]
    assert len(lines) == 2 and all("responses signed" in line for line in lines)
    assert "0 still fresh" in lines[0]
    again = run_cli("ca", "ocsp-refresh", "--ca", "ecdsa-issuing", "--hash", "sha1")
    assert again.exit_code == 0 and " 0 responses signed" in again.stdout
    forced = run_cli("ca", "ocsp-refresh", "--ca", "ecdsa-issuing", "--hash", "sm3", "--force")
    assert forced.exit_code == 0 and "0 still fresh" in forced.stdout
    refused = run_cli("ca", "ocsp-refresh", "--ca", "ecdsa-root")
    assert refused.exit_code == 1 and "root CAs are not served by OCSP" in refused.stderr
