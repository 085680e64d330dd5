"""OCSP responder core (trustsvc.ca.ocsp): request parsing, signed responses, refusals, fuzzing."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import core, ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pki import NOW, SM2_SM3_DER, Issued, issue, spki_sha1
from trustsvc.ca.ocsp import (
    MAX_CERT_IDS,
    MAX_REQUEST_SIZE,
    CertId,
    CertIdHash,
    CertState,
    CertStatus,
    OcspErrorStatus,
    OcspRequest,
    OcspResponder,
    cert_id_for,
    error_response,
    error_response_for,
    parse_ocsp_request,
)
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.x509 import RevocationReason
from trustsvc.errors import (
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    TrustsvcError,
    UnsupportedAlgorithm,
)
from trustsvc.keys.algorithms import KeyAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify
from trustsvc.keys.sm3 import sm3

LATER = NOW + timedelta(hours=12)
NONCE = bytes(range(16))
SHA1_NULL = bytes.fromhex("300906052b0e03021a0500")
SHA1_ABSENT = bytes.fromhex("300706052b0e03021a")
NONCE_OID = "1.3.6.1.5.5.7.48.1.2"


@dataclass
class Hierarchy:
    root: Issued
    issuing: Issued
    responder: Issued
    leaf: Issued
    other_leaf: Issued

    def responder_core(self) -> OcspResponder:
        return OcspResponder(self.responder.certificate, self.responder.signer, self.issuing.certificate)


def hierarchy(algorithm: KeyAlgorithm) -> Hierarchy:
    root = issue(ProfileKind.ROOT, None, algorithm)
    issuing = issue(ProfileKind.ISSUING_CA, root, algorithm)
    return Hierarchy(
        root,
        issuing,
        issue(ProfileKind.OCSP_RESPONDER, issuing, algorithm),
        issue(ProfileKind.SEAL_SIGNER, issuing, algorithm),
        issue(ProfileKind.TLS_CLIENT, issuing, algorithm),
    )


@pytest.fixture(params=[KeyAlgorithm.ECDSA_P256, KeyAlgorithm.SM2], ids=str)
def pki(request: pytest.FixtureRequest) -> Hierarchy:
    return hierarchy(KeyAlgorithm(request.param))


@pytest.fixture(scope="module")
def ecdsa_pki() -> Hierarchy:
    return hierarchy(KeyAlgorithm.ECDSA_P256)


def extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    """DER of an Extension whose extnValue holds ``value`` as is (no re-encoding, so it may be wrong)."""
    body = core.ObjectIdentifier(oid).dump()
    if critical:
        body += core.Boolean(True).dump()
    return _tlv(0x30, body + _tlv(0x04, value))


def nonce_extension(nonce: bytes, *, critical: bool = False) -> bytes:
    return extension(NONCE_OID, core.OctetString(nonce).dump(), critical=critical)


def request_der(
    cert_ids: list[bytes],
    *,
    nonce: bytes | None = None,
    extensions: list[bytes] | None = None,
    single_extensions: list[bytes] | None = None,
    version: int = 0,
) -> bytes:
    """An OCSPRequest as a client would build it; ``cert_ids`` are DER CertIDs, extensions DER."""
    requests = []
    for der in cert_ids:
        single: dict[str, object] = {"req_cert": ocsp.CertId.load(der)}
        if single_extensions:
            single["single_request_extensions"] = [ocsp.RequestExtension.load(e) for e in single_extensions]
        requests.append(single)
    tbs: dict[str, object] = {"request_list": requests}
    if version:
        tbs["version"] = version
    exts = list(extensions or [])
    if nonce is not None:
        exts.append(nonce_extension(nonce))
    if exts:
        tbs["request_extensions"] = [ocsp.TBSRequestExtension.load(e) for e in exts]
    return ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def lookup_table(table: dict[int, CertStatus]) -> tuple[list[tuple[bytes, bytes, int]], object]:
    calls: list[tuple[bytes, bytes, int]] = []

    def lookup(name_hash: bytes, key_hash: bytes, serial: int) -> CertStatus | None:
        calls.append((name_hash, key_hash, serial))
        return table.get(serial)

    return calls, lookup


def basic_of(der: bytes) -> ocsp.BasicOCSPResponse:
    response = ocsp.OCSPResponse.load(der, strict=True)
    assert response["response_status"].native == "successful"
    assert response["response_bytes"]["response_type"].native == "basic_ocsp_response"
    return response.basic_ocsp_response


def check_signature(basic: ocsp.BasicOCSPResponse, pki: Hierarchy) -> None:
    algorithm = signature_algorithm_of(basic["signature_algorithm"])
    assert algorithm is pki.responder.signer.algorithm
    verify(
        pki.responder.certificate.public_key,
        algorithm,
        basic["tbs_response_data"].dump(),
        basic["signature"].native,
    )


# --- CertIDs -------------------------------------------------------------------------------------


def test_cert_id_hashes_issuer_name_and_key_bits(pki: Hierarchy) -> None:
    issuing = pki.issuing.certificate
    cert_id = cert_id_for(pki.leaf.certificate, issuing)
    assert cert_id.hash_algorithm is CertIdHash.SHA1
    assert cert_id.issuer_name_hash == hashlib.sha1(issuing.subject.dump()).digest()
    assert cert_id.issuer_key_hash == spki_sha1(issuing) == issuing.key_identifier
    assert cert_id.serial == pki.leaf.certificate.serial_number
    assert ocsp.CertId.load(cert_id.der)["hash_algorithm"].dump() == SHA1_NULL  # NULL, as OpenSSL writes
    sm3_id = cert_id_for(pki.leaf.certificate, issuing, CertIdHash.SM3)
    assert sm3_id.issuer_name_hash == sm3(issuing.subject.dump())
    assert len(cert_id_for(pki.leaf.certificate, issuing, "sha256").issuer_key_hash) == 32
    assert pki.responder_core().cert_id(cert_id.serial) == cert_id


def test_cert_id_refuses_a_wrong_issuer_and_unknown_hash(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(InvalidInput, match="issuer"):
        cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.root.certificate)
    with pytest.raises(UnsupportedAlgorithm):
        cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate, "md5")


# --- request parsing -----------------------------------------------------------------------------


def test_request_with_nonce_is_parsed_and_not_cacheable(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    der = request_der([cert_id.der], nonce=NONCE)
    request = parse_ocsp_request(der)
    assert request == OcspRequest(cert_ids=(cert_id,), nonce=NONCE, der=der)
    assert not request.cacheable


def test_single_request_without_nonce_is_cacheable(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate, CertIdHash.SHA256)
    request = parse_ocsp_request(request_der([cert_id.der]))
    assert request.nonce is None and request.cacheable
    assert request.cert_ids[0].hash_algorithm is CertIdHash.SHA256
    two = parse_ocsp_request(request_der([cert_id.der, cert_id.der]))
    assert not two.cacheable


def test_ber_cert_id_is_reencoded_as_der(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    serial = core.Integer(cert_id.serial).contents
    ber_serial = bytes([0x02, 0x81, len(serial)]) + serial  # long-form length: valid BER, not DER
    body = (
        SHA1_NULL
        + core.OctetString(cert_id.issuer_name_hash).dump()
        + core.OctetString(cert_id.issuer_key_hash).dump()
        + ber_serial
    )
    ber = _tlv(0x30, _tlv(0x30, _tlv(0x30, _tlv(0x30, _tlv(0x30, body)))))
    parsed = parse_ocsp_request(ber)
    assert parsed.cert_ids[0] == cert_id
    assert parsed.cert_ids[0].der == cert_id.der


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"not der at all", b"\x04\x02ab", b"\xff" * 40],
    ids=["empty", "zero", "tag-only", "empty-seq", "indefinite-empty", "text", "octet-string", "ff"],
)
def test_garbage_requests_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_ocsp_request(data)


def test_truncated_requests_are_malformed(ecdsa_pki: Hierarchy) -> None:
    der = request_der(
        [cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate).der], nonce=NONCE
    )
    for length in range(len(der)):
        with pytest.raises(MalformedInput):
            parse_ocsp_request(der[:length])


def test_trailing_data_is_malformed(ecdsa_pki: Hierarchy) -> None:
    der = request_der([cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate).der])
    with pytest.raises(MalformedInput):
        parse_ocsp_request(der + b"\x00")


def test_huge_requests_are_malformed(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(MalformedInput, match="limited"):
        parse_ocsp_request(b"\x30\x84" + (MAX_REQUEST_SIZE).to_bytes(4, "big") + b"\x00" * MAX_REQUEST_SIZE)
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    with pytest.raises(MalformedInput, match="at most"):
        parse_ocsp_request(request_der([cert_id.der] * (MAX_CERT_IDS + 1)))
    assert len(parse_ocsp_request(request_der([cert_id.der] * MAX_CERT_IDS)).cert_ids) == MAX_CERT_IDS
    # a length field claiming far more than is there
    with pytest.raises(MalformedInput):
        parse_ocsp_request(b"\x30\x84\x7f\xff\xff\xff\x30\x00")


def test_not_bytes_is_malformed() -> None:
    with pytest.raises(MalformedInput):
        parse_ocsp_request("30 00")  # type: ignore[arg-type]


def test_empty_request_list_and_wrong_version_are_malformed() -> None:
    empty = ocsp.OCSPRequest({"tbs_request": {"request_list": []}}).dump()
    with pytest.raises(MalformedInput, match="no certificate"):
        parse_ocsp_request(empty)


def test_wrong_version_is_malformed(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    with pytest.raises(MalformedInput, match="version"):
        parse_ocsp_request(request_der([cert_id.der], version=1))


def _cert_id_der(algorithm: bytes, name_hash: bytes, key_hash: bytes, serial: int = 7) -> bytes:
    body = (
        algorithm
        + core.OctetString(name_hash).dump()
        + core.OctetString(key_hash).dump()
        + core.Integer(serial).dump()
    )
    return b"\x30" + bytes([len(body)]) + body


def test_unknown_hash_algorithm_is_unsupported() -> None:
    md5 = bytes.fromhex("300c06082a864886f70d02050500")
    with pytest.raises(UnsupportedAlgorithm, match=r"1\.2\.840\.113549\.2\.5"):
        parse_ocsp_request(request_der([_cert_id_der(md5, b"a" * 16, b"b" * 16)]))


def test_hash_of_wrong_length_or_with_parameters_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="20 octets"):
        parse_ocsp_request(request_der([_cert_id_der(SHA1_NULL, b"a" * 19, b"b" * 20)]))
    sha1_with_params = bytes.fromhex("300a06052b0e03021a020101")
    with pytest.raises(MalformedInput):
        parse_ocsp_request(request_der([_cert_id_der(sha1_with_params, b"a" * 20, b"b" * 20)]))
    sm3_with_params = bytes.fromhex("300d06082a811ccf55018311020101")
    with pytest.raises(MalformedInput, match="parameters"):
        parse_ocsp_request(request_der([_cert_id_der(sm3_with_params, b"a" * 32, b"b" * 32)]))


def test_absent_hash_parameters_are_accepted_and_echoed(pki: Hierarchy) -> None:
    issuing = pki.issuing.certificate
    reference = cert_id_for(pki.leaf.certificate, issuing)
    der = _cert_id_der(SHA1_ABSENT, reference.issuer_name_hash, reference.issuer_key_hash, reference.serial)
    request = parse_ocsp_request(request_der([der]))
    assert request.cert_ids[0].der == der
    responder = pki.responder_core()
    assert responder.serves(request.cert_ids[0])
    _, lookup = lookup_table({reference.serial: CertStatus.good()})
    basic = basic_of(responder.respond(request, lookup, now=NOW, next_update=LATER))  # type: ignore[arg-type]
    assert basic["tbs_response_data"]["responses"][0]["cert_id"].dump() == der


@pytest.mark.parametrize(
    "nonce_value",
    [
        core.OctetString(b"").dump(),  # 0 octets
        core.OctetString(b"n" * 129).dump(),  # over RFC 9654's 128
        b"raw nonce bytes!",  # not wrapped in an OCTET STRING
        b"\x04\x81\x02ab",  # BER long-form length
        core.OctetString(b"ab").dump() + b"\x00",  # trailing octet
    ],
    ids=["empty", "too-long", "raw", "ber", "trailing"],
)
def test_bad_nonces_are_malformed(ecdsa_pki: Hierarchy, nonce_value: bytes) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    with pytest.raises(MalformedInput, match="nonce"):
        parse_ocsp_request(request_der([cert_id.der], extensions=[extension(NONCE_OID, nonce_value)]))


def test_nonce_bounds_are_accepted(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    for nonce in (b"\x01", b"n" * 32, b"n" * 128):
        assert parse_ocsp_request(request_der([cert_id.der], nonce=nonce)).nonce == nonce


def test_unknown_critical_extension_is_refused_and_non_critical_ignored(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    unknown = extension("1.2.3.4", core.Null().dump(), critical=True)
    with pytest.raises(InvalidInput, match=r"unsupported critical .*1\.2\.3\.4") as info:
        parse_ocsp_request(request_der([cert_id.der], extensions=[unknown]))
    assert not isinstance(info.value, MalformedInput)
    with pytest.raises(InvalidInput, match="critical"):
        parse_ocsp_request(request_der([cert_id.der], single_extensions=[unknown]))
    ignored = extension("1.2.3.4", core.Null().dump())
    assert parse_ocsp_request(request_der([cert_id.der], extensions=[ignored], single_extensions=[ignored]))


def test_understood_critical_extensions_are_accepted(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    acceptable = ocsp.AcceptableResponses(["basic_ocsp_response"]).dump()
    extensions = [
        nonce_extension(NONCE, critical=True),
        extension("1.3.6.1.5.5.7.48.1.4", acceptable, critical=True),
    ]
    assert parse_ocsp_request(request_der([cert_id.der], extensions=extensions)).nonce == NONCE


def test_duplicate_extension_is_malformed(ecdsa_pki: Hierarchy) -> None:
    cert_id = cert_id_for(ecdsa_pki.leaf.certificate, ecdsa_pki.issuing.certificate)
    nonce = nonce_extension(NONCE)
    with pytest.raises(MalformedInput, match="twice"):
        parse_ocsp_request(request_der([cert_id.der], extensions=[nonce, nonce]))


# --- responses -----------------------------------------------------------------------------------


def test_good_response_has_the_rfc_5019_fields_and_verifies(pki: Hierarchy) -> None:
    responder = pki.responder_core()
    cert_id = cert_id_for(pki.leaf.certificate, pki.issuing.certificate)
    calls, lookup = lookup_table({cert_id.serial: CertStatus.good()})
    now = NOW + timedelta(microseconds=654321)
    der = responder.respond(
        parse_ocsp_request(request_der([cert_id.der], nonce=NONCE)),
        lookup,  # type: ignore[arg-type]
        now=now,
        next_update=LATER,
    )
    basic = basic_of(der)
    data = basic["tbs_response_data"]
    assert data.contents[0] == 0xA1 + 1  # version v1 is DEFAULT, so omitted: responderID byKey [2] first
    assert data["responder_id"].name == "by_key"
    assert data["responder_id"].chosen.native == spki_sha1(pki.responder.certificate)
    assert data["produced_at"].native == NOW  # whole seconds
    assert data["produced_at"].contents == NOW.strftime("%Y%m%d%H%M%SZ").encode()
    (single,) = data["responses"]
    assert single["cert_id"].dump() == cert_id.der
    assert single["cert_status"].name == "good"
    assert single["this_update"].native == NOW
    assert single["next_update"].native == LATER
    assert [c.dump() for c in basic["certs"]] == [pki.responder.certificate.dump()]
    nonce_extensions = [e for e in data["response_extensions"] if e["extn_id"].native == "nonce"]
    assert [e["extn_value"].contents for e in nonce_extensions] == [core.OctetString(NONCE).dump()]
    check_signature(basic, pki)
    if pki.responder.signer.algorithm.value == "sm2-sm3":
        assert basic["signature_algorithm"].dump() == SM2_SM3_DER
    # lookup gets the SHA-1 issuer hashes (= issuing CA SKI) and the serial
    assert calls == [(responder.issuer_name_hash, pki.issuing.certificate.key_identifier, cert_id.serial)]


def test_revoked_response_carries_time_and_reason(pki: Hierarchy) -> None:
    responder = pki.responder_core()
    cert_id = responder.cert_id(pki.leaf.certificate.serial_number)
    revoked_at = NOW - timedelta(days=2, microseconds=5)
    _, lookup = lookup_table(
        {cert_id.serial: CertStatus.revoked(revoked_at, RevocationReason.KEY_COMPROMISE)}
    )
    der = responder.respond(
        parse_ocsp_request(request_der([cert_id.der])),
        lookup,  # type: ignore[arg-type]
        now=NOW,
        next_update=LATER,
    )
    single = basic_of(der)["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "revoked"
    info = single["cert_status"].chosen
    assert info["revocation_time"].native == revoked_at.replace(microsecond=0)
    assert info["revocation_reason"].native == "key_compromise"


def test_unspecified_reason_is_not_written(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    cert_id = responder.cert_id(5)
    for reason in (None, RevocationReason.UNSPECIFIED):
        der = responder.sign_response(
            [(cert_id, CertStatus.revoked(NOW, reason))], now=NOW, next_update=LATER
        )
        info = basic_of(der)["tbs_response_data"]["responses"][0]["cert_status"].chosen
        assert info["revocation_reason"].native is None


def test_unknown_serial_is_answered_unknown(pki: Hierarchy) -> None:
    responder = pki.responder_core()
    cert_id = responder.cert_id(0xDEADBEEF, CertIdHash.SHA256)
    calls, lookup = lookup_table({})
    der = responder.respond(
        parse_ocsp_request(request_der([cert_id.der])),
        lookup,  # type: ignore[arg-type]
        now=NOW,
        next_update=LATER,
    )
    basic = basic_of(der)
    assert basic["tbs_response_data"]["responses"][0]["cert_status"].name == "unknown"
    check_signature(basic, pki)
    # a SHA-256 CertID still reaches lookup with the SHA-1 hashes
    assert calls == [(responder.issuer_name_hash, responder.issuer_key_hash, 0xDEADBEEF)]
    assert len(calls[0][0]) == 20


def test_several_cert_ids_are_answered_in_order(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    ids = [responder.cert_id(s, h) for s, h in ((1, "sha1"), (2, "sha256"), (3, "sm3"))]
    _, lookup = lookup_table({1: CertStatus.good(), 2: CertStatus.revoked(NOW)})
    der = responder.respond(
        parse_ocsp_request(request_der([i.der for i in ids])),
        lookup,  # type: ignore[arg-type]
        now=NOW,
        next_update=LATER,
    )
    singles = basic_of(der)["tbs_response_data"]["responses"]
    assert [s["cert_id"].dump() for s in singles] == [i.der for i in ids]
    assert [s["cert_status"].name for s in singles] == ["good", "revoked", "unknown"]


def test_response_without_nonce_depends_only_on_cert_id_status_and_times(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    cert_id = responder.cert_id(42)
    request = parse_ocsp_request(request_der([cert_id.der]))
    _, lookup = lookup_table({42: CertStatus.good()})
    on_demand = basic_of(responder.respond(request, lookup, now=NOW, next_update=LATER))  # type: ignore[arg-type]
    presigned = basic_of(responder.sign_response([(cert_id, CertStatus.good())], now=NOW, next_update=LATER))
    assert on_demand["tbs_response_data"].dump() == presigned["tbs_response_data"].dump()
    assert on_demand["tbs_response_data"]["response_extensions"].native is None


def test_other_issuers_are_unauthorized(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    foreign = cert_id_for(ecdsa_pki.issuing.certificate, ecdsa_pki.root.certificate)  # the root's CA
    ours = responder.cert_id(9)
    assert not responder.serves(foreign) and responder.serves(ours)
    calls, lookup = lookup_table({9: CertStatus.good()})
    for ids in ([foreign], [ours, foreign]):
        der = responder.respond(
            parse_ocsp_request(request_der([i.der for i in ids])),
            lookup,  # type: ignore[arg-type]
            now=NOW,
            next_update=LATER,
        )
        assert der == error_response(OcspErrorStatus.UNAUTHORIZED)
    assert calls == []
    with pytest.raises(InvalidInput, match="issuer"):
        responder.sign_response([(foreign, CertStatus.good())], now=NOW, next_update=LATER)


def test_other_ca_with_the_same_name_is_not_served(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    twin = hierarchy(KeyAlgorithm.ECDSA_P256)  # same subject names, different keys
    cert_id = cert_id_for(twin.leaf.certificate, twin.issuing.certificate)
    assert cert_id.issuer_name_hash == responder.issuer_name_hash
    assert not responder.serves(cert_id)


def test_lookup_errors_propagate(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    request = parse_ocsp_request(request_der([responder.cert_id(1).der]))

    def broken(name_hash: bytes, key_hash: bytes, serial: int) -> CertStatus | None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        responder.respond(request, broken, now=NOW, next_update=LATER)

    def wrong(name_hash: bytes, key_hash: bytes, serial: int) -> CertStatus | None:
        return "good"  # type: ignore[return-value]

    with pytest.raises(TypeError):
        responder.respond(request, wrong, now=NOW, next_update=LATER)


def test_sign_response_refusals(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    good = [(responder.cert_id(1), CertStatus.good())]
    with pytest.raises(InvalidInput, match="nextUpdate"):
        responder.sign_response(good, now=NOW, next_update=NOW)
    with pytest.raises(InvalidInput, match="timezone"):
        responder.sign_response(good, now=NOW.replace(tzinfo=None), next_update=LATER)
    with pytest.raises(InvalidInput, match="at least one"):
        responder.sign_response([], now=NOW, next_update=LATER)
    with pytest.raises(InvalidInput, match="nonce"):
        responder.sign_response(good, now=NOW, next_update=LATER, nonce=b"")


def test_cert_status_values_are_checked() -> None:
    assert CertStatus.good().state is CertState.GOOD
    assert CertStatus.unknown().revoked_at is None
    with pytest.raises(InvalidInput):
        CertStatus(CertState.REVOKED)
    with pytest.raises(InvalidInput):
        CertStatus(CertState.GOOD, revoked_at=NOW)
    with pytest.raises(InvalidInput):
        CertStatus.revoked(NOW, RevocationReason.REMOVE_FROM_CRL)
    with pytest.raises(InvalidInput, match="timezone"):
        CertStatus.revoked(NOW.replace(tzinfo=None))
    hold = CertStatus.revoked(NOW, RevocationReason.CERTIFICATE_HOLD)
    assert hold.reason is RevocationReason.CERTIFICATE_HOLD


# --- responder set-up ----------------------------------------------------------------------------


def test_responder_refuses_a_signer_that_does_not_hold_the_certificate_key(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(InvalidInput, match="signer"):
        OcspResponder(ecdsa_pki.responder.certificate, ecdsa_pki.leaf.signer, ecdsa_pki.issuing.certificate)


def test_responder_needs_ocsp_signing_and_the_right_issuer(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(InvalidInput, match="OCSPSigning"):
        OcspResponder(ecdsa_pki.leaf.certificate, ecdsa_pki.leaf.signer, ecdsa_pki.issuing.certificate)
    with pytest.raises(InvalidInput, match="not issued by"):
        OcspResponder(ecdsa_pki.responder.certificate, ecdsa_pki.responder.signer, ecdsa_pki.root.certificate)
    with pytest.raises(InvalidInput, match="delegated"):
        OcspResponder(ecdsa_pki.issuing.certificate, ecdsa_pki.issuing.signer, ecdsa_pki.issuing.certificate)
    twin = hierarchy(KeyAlgorithm.ECDSA_P256)  # same issuer name, different key: signature must not verify
    with pytest.raises(InvalidInput, match="signature"):
        OcspResponder(ecdsa_pki.responder.certificate, ecdsa_pki.responder.signer, twin.issuing.certificate)


def test_a_signature_that_does_not_verify_is_never_returned(ecdsa_pki: Hierarchy) -> None:
    class BrokenSigner:
        algorithm = ecdsa_pki.responder.signer.algorithm
        public_key_info = ecdsa_pki.responder.signer.public_key_info

        def sign(self, data: bytes) -> bytes:
            return ecdsa_pki.responder.signer.sign(data + b"!")

    responder = OcspResponder(ecdsa_pki.responder.certificate, BrokenSigner(), ecdsa_pki.issuing.certificate)
    with pytest.raises(InvalidSignature):
        responder.sign_response([(responder.cert_id(1), CertStatus.good())], now=NOW, next_update=LATER)


# --- error responses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OcspErrorStatus.MALFORMED_REQUEST, 1),
        (OcspErrorStatus.INTERNAL_ERROR, 2),
        (OcspErrorStatus.TRY_LATER, 3),
        (OcspErrorStatus.UNAUTHORIZED, 6),
    ],
)
def test_error_responses_are_bare_status(status: OcspErrorStatus, code: int) -> None:
    der = error_response(status)
    assert der == bytes([0x30, 0x03, 0x0A, 0x01, code])
    assert ocsp.OCSPResponse.load(der)["response_status"].native == status.value


def test_error_response_refuses_successful() -> None:
    with pytest.raises(InvalidInput):
        error_response("successful")


def test_errors_map_to_ocsp_statuses() -> None:
    malformed = error_response(OcspErrorStatus.MALFORMED_REQUEST)
    assert error_response_for(MalformedInput()) == malformed
    assert error_response_for(UnsupportedAlgorithm()) == malformed
    assert error_response_for(InvalidInput()) == malformed
    assert error_response_for(RuntimeError()) == error_response(OcspErrorStatus.INTERNAL_ERROR)
    assert error_response_for(TrustsvcError()) == error_response(OcspErrorStatus.INTERNAL_ERROR)


# --- fuzzing: only typed errors come out ---------------------------------------------------------

_FUZZ_PKI: list[Hierarchy] = []


def _fuzz_pki() -> Hierarchy:
    if not _FUZZ_PKI:
        _FUZZ_PKI.append(hierarchy(KeyAlgorithm.ECDSA_P256))
    return _FUZZ_PKI[0]


def _seed() -> bytes:
    pki = _fuzz_pki()
    return request_der(
        [cert_id_for(pki.leaf.certificate, pki.issuing.certificate).der,
         cert_id_for(pki.other_leaf.certificate, pki.issuing.certificate, "sha256").der],
        nonce=NONCE,
    )  # fmt: skip


def _parse_and_answer(data: bytes) -> None:
    """Parse ``data``; if it parses, answer it. Only typed input errors may come out."""
    try:
        request = parse_ocsp_request(data)
    except (MalformedInput, InvalidInput):  # UnsupportedAlgorithm is an InvalidInput
        return
    pki = _fuzz_pki()
    responder = pki.responder_core()
    _, lookup = lookup_table({pki.leaf.certificate.serial_number: CertStatus.good()})
    der = responder.respond(request, lookup, now=NOW, next_update=LATER)  # type: ignore[arg-type]
    response = ocsp.OCSPResponse.load(der, strict=True)
    assert response["response_status"].native in ("successful", "unauthorized")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    _parse_and_answer(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_requests_raise_only_typed_errors(data: st.DataObject) -> None:
    seed = bytearray(_seed())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(seed) - 1))
        action = data.draw(st.sampled_from(["flip", "set", "delete", "insert", "truncate"]))
        if action == "flip":
            seed[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set":
            seed[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del seed[position]
        elif action == "insert":
            seed.insert(position, data.draw(st.integers(0, 255)))
        else:
            del seed[position:]
        if not seed:
            break
    _parse_and_answer(bytes(seed))


def test_parse_errors_are_never_untyped_on_the_seed_bytewise() -> None:
    """Every single-octet change of a real request: parse or a typed error, never anything else."""
    seed = _seed()
    for position in range(len(seed)):
        for value in (0x00, 0x80, 0xFF, seed[position] ^ 0x01):
            mutated = bytearray(seed)
            mutated[position] = value
            with contextlib.suppress(MalformedInput, InvalidInput):
                parse_ocsp_request(bytes(mutated))


def test_cert_id_dataclass_is_hashable_for_caches(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    cache: dict[CertId, bytes] = {responder.cert_id(1): b"x"}
    assert cache[parse_ocsp_request(request_der([responder.cert_id(1).der])).cert_ids[0]] == b"x"


def test_times_are_utc_whole_seconds(ecdsa_pki: Hierarchy) -> None:
    responder = ecdsa_pki.responder_core()
    beijing = timezone(timedelta(hours=8))
    der = responder.sign_response(
        [(responder.cert_id(1), CertStatus.good())],
        now=datetime(2026, 6, 1, 16, 0, 0, 999999, tzinfo=beijing),
        next_update=datetime(2026, 6, 2, 8, 0, 0, tzinfo=UTC),
    )
    data = basic_of(der)["tbs_response_data"]
    assert data["produced_at"].contents == b"20260601080000Z"
    assert data["responses"][0]["next_update"].contents == b"20260602080000Z"
