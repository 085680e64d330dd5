"""Time-stamp authority core (trustsvc.ca.tsa): request parsing, tokens, rejections, fuzzing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta, timezone

import pytest
from asn1crypto import cms, core, parser, tsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pki import NOW, SM2_SM3_DER, Issued, issue
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.tsa import (
    MAX_NONCE_OCTETS,
    MAX_REQUEST_SIZE,
    FailureInfo,
    ImprintHash,
    TimeStampAuthority,
    TimeStampRequest,
    fail_info_for,
    parse_timestamp_request,
    rejection,
)
from trustsvc.errors import (
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    TrustsvcError,
    UnsupportedAlgorithm,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify
from trustsvc.keys.sm3 import sm3

POLICY = "1.3.6.1.4.1.32473.1.2"
DATA = "某市市场监督管理局 营业执照 电子证照".encode()
SHA256_ABSENT = bytes.fromhex("300b0609608648016503040201")


@dataclass
class Hierarchy:
    root: Issued
    issuing: Issued
    tsa: Issued
    ocsp: Issued

    def authority(self, **kwargs: object) -> TimeStampAuthority:
        options: dict[str, object] = {"policy_oid": POLICY, "accuracy": timedelta(seconds=1)}
        options.update(kwargs)
        return TimeStampAuthority(self.tsa.certificate, self.tsa.signer, **options)  # type: ignore[arg-type]


def hierarchy(algorithm: KeyAlgorithm) -> Hierarchy:
    root = issue(ProfileKind.ROOT, None, algorithm)
    issuing = issue(ProfileKind.ISSUING_CA, root, algorithm)
    return Hierarchy(
        root,
        issuing,
        issue(ProfileKind.TSA, issuing, algorithm),
        issue(ProfileKind.OCSP_RESPONDER, issuing, algorithm),
    )


@pytest.fixture(params=[KeyAlgorithm.ECDSA_P256, KeyAlgorithm.SM2], ids=str)
def pki(request: pytest.FixtureRequest) -> Hierarchy:
    return hierarchy(KeyAlgorithm(request.param))


@pytest.fixture(scope="module")
def ecdsa_pki() -> Hierarchy:
    return hierarchy(KeyAlgorithm.ECDSA_P256)


def request_der(
    *,
    hash_algorithm: str = "sha256",
    digest: bytes | None = None,
    nonce: int | None = 0x1234_5678_9ABC_DEF0,
    cert_req: bool = True,
    policy: str | None = None,
    version: int = 1,
    extensions: list[dict[str, object]] | None = None,
) -> bytes:
    """A TimeStampReq as a client would build it."""
    if digest is None:
        digest = sm3(DATA) if hash_algorithm == "sm3" else hashlib.new(hash_algorithm, DATA).digest()
    fields: dict[str, object] = {
        "version": version,
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    if extensions:
        fields["extensions"] = extensions
    return tsp.TimeStampReq(fields).dump()


@dataclass
class Token:
    response: tsp.TimeStampResp
    signed_data: cms.SignedData
    signer_info: cms.SignerInfo
    tst_der: bytes
    tst: tsp.TSTInfo
    attributes: dict[str, cms.CMSAttribute]


def open_token(der: bytes) -> Token:
    response = tsp.TimeStampResp.load(der, strict=True)
    assert response["status"]["status"].native == "granted"
    assert response["status"]["fail_info"].native is None
    token = response["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    signed_data = token["content"]
    (signer_info,) = signed_data["signer_infos"]
    encap = signed_data["encap_content_info"]
    assert encap["content_type"].native == "tst_info"
    tst_der = bytes(encap["content"].contents)
    attributes = {a["type"].native: a for a in signer_info["signed_attrs"]}
    return Token(response, signed_data, signer_info, tst_der, tsp.TSTInfo.load(tst_der), attributes)


def top_level_tags(der: bytes) -> list[int]:
    """Tag numbers of the elements directly inside the SEQUENCE ``der``."""
    contents = parser.parse(der)[4]
    tags, pointer = [], 0
    while pointer < len(contents):
        _, _, tag, header, body, _ = parser.parse(contents[pointer:])
        tags.append(tag)
        pointer += len(header) + len(body)
    return tags


def signed_attributes_set(signer_info: cms.SignerInfo) -> bytes:
    """The signed attributes re-tagged from [0] IMPLICIT to SET (0x31), as RFC 5652 §5.4 signs them."""
    der = signer_info["signed_attrs"].dump()
    assert der[0] == 0xA0
    return b"\x31" + der[1:]


def digest(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    return sm3(data) if algorithm is SignatureAlgorithm.SM2_SM3 else hashlib.sha256(data).digest()


# --- request parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize("hash_algorithm", list(ImprintHash), ids=str)
def test_requests_with_each_hash_are_parsed(hash_algorithm: ImprintHash) -> None:
    der = request_der(hash_algorithm=hash_algorithm.value, policy=POLICY)
    request = parse_timestamp_request(der)
    assert request.hash_algorithm is hash_algorithm
    assert request.hashed_message == tsp.TimeStampReq.load(der)["message_imprint"]["hashed_message"].native
    assert request.policy == POLICY
    assert request.nonce == 0x1234_5678_9ABC_DEF0
    assert request.cert_req is True
    assert request.der == der


def test_request_without_optional_fields() -> None:
    request = parse_timestamp_request(request_der(nonce=None, cert_req=False))
    assert request.nonce is None and request.policy is None and request.cert_req is False


@pytest.mark.parametrize("hash_algorithm", ["sha1", "md5", "sha224", "sha3_256"])
def test_unknown_hash_is_refused_with_bad_alg(hash_algorithm: str) -> None:
    with pytest.raises(UnsupportedAlgorithm) as info:
        parse_timestamp_request(request_der(hash_algorithm=hash_algorithm))
    assert fail_info_for(info.value) is FailureInfo.BAD_ALG


def raw_request(algorithm_der: bytes, hashed_message: bytes) -> bytes:
    """A minimal TimeStampReq with the hash AlgorithmIdentifier given as DER (so it can be unusual)."""
    imprint = _tlv(0x30, algorithm_der + core.OctetString(hashed_message).dump())
    return _tlv(0x30, core.Integer(1).dump() + imprint)


def _tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 0x80
    return bytes([tag, len(content)]) + content


def test_hash_parameters_other_than_null_are_bad_alg() -> None:
    sm3_with_params = bytes.fromhex("300d06082a811ccf55018311020101")
    with pytest.raises(UnsupportedAlgorithm, match="parameters"):
        parse_timestamp_request(raw_request(sm3_with_params, sm3(DATA)))
    sha256_with_params = bytes.fromhex("300e0609608648016503040201020101")
    with pytest.raises(InvalidInput):  # asn1crypto itself refuses non-NULL SHA-2 parameters: malformed
        parse_timestamp_request(raw_request(sha256_with_params, hashlib.sha256(DATA).digest()))


def test_absent_sha256_parameters_are_accepted_and_copied(ecdsa_pki: Hierarchy) -> None:
    request = parse_timestamp_request(raw_request(SHA256_ABSENT, hashlib.sha256(DATA).digest()))
    assert request.nonce is None and request.cert_req is False
    token = open_token(ecdsa_pki.authority().stamp(request, serial=1, now=NOW))
    assert token.tst["message_imprint"]["hash_algorithm"].dump() == SHA256_ABSENT


def test_imprint_of_wrong_length_is_bad_data_format() -> None:
    with pytest.raises(MalformedInput, match="32 octets") as info:
        parse_timestamp_request(request_der(digest=b"\x00" * 20))
    assert fail_info_for(info.value) is FailureInfo.BAD_DATA_FORMAT


def test_wrong_version_is_bad_data_format() -> None:
    with pytest.raises(MalformedInput, match="version"):
        parse_timestamp_request(request_der(version=2))


def test_oversized_nonce_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="nonce"):
        parse_timestamp_request(request_der(nonce=1 << (8 * MAX_NONCE_OCTETS)))
    assert parse_timestamp_request(request_der(nonce=(1 << (8 * MAX_NONCE_OCTETS - 1)) - 1)).nonce


def test_any_extension_is_refused_with_unaccepted_extension() -> None:
    extension = {"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}
    with pytest.raises(InvalidInput) as info:
        parse_timestamp_request(request_der(extensions=[extension]))
    assert fail_info_for(info.value) is FailureInfo.UNACCEPTED_EXTENSION


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"GET / HTTP/1.1\r\n", b"\xff" * 64],
    ids=["empty", "zero", "tag-only", "empty-seq", "indefinite-empty", "http", "ff"],
)
def test_garbage_requests_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_timestamp_request(data)
    assert fail_info_for(info.value) is FailureInfo.BAD_DATA_FORMAT


def test_truncated_and_padded_requests_are_malformed() -> None:
    der = request_der(policy=POLICY)
    for length in range(len(der)):
        with pytest.raises(MalformedInput):
            parse_timestamp_request(der[:length])
    with pytest.raises(MalformedInput):
        parse_timestamp_request(der + b"\x00")


def test_huge_requests_are_malformed() -> None:
    with pytest.raises(MalformedInput, match="limited"):
        parse_timestamp_request(b"\x30\x82\x40\x00" + b"\x00" * MAX_REQUEST_SIZE)
    with pytest.raises(MalformedInput):
        parse_timestamp_request(b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01")
    with pytest.raises(MalformedInput):
        parse_timestamp_request(bytearray(request_der()))  # type: ignore[arg-type]


# --- tokens --------------------------------------------------------------------------------------


def test_token_has_the_rfc_3161_contents_and_verifies(pki: Hierarchy) -> None:
    authority = pki.authority()
    request = parse_timestamp_request(request_der(policy=POLICY))
    serial = 0x0123_4567_89AB_CDEF_0123_4567_89AB_CDEF_0123_4567
    token = open_token(authority.stamp(request, serial=serial, now=NOW + timedelta(microseconds=999_999)))
    algorithm = pki.tsa.signer.algorithm
    digest_name = "sm3" if algorithm is SignatureAlgorithm.SM2_SM3 else "sha256"

    tst = token.tst
    assert tst["version"].native == "v1"
    assert tst["policy"].dotted == POLICY
    assert tst["message_imprint"].dump() == tsp.TimeStampReq.load(request.der)["message_imprint"].dump()
    assert tst["serial_number"].native == serial
    assert tst["gen_time"].native == NOW
    assert tst["gen_time"].contents == b"20260601080000Z"  # whole seconds when accuracy is 1 s
    assert tst["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert tst["ordering"].native is False
    # version, policy, imprint, serial, genTime, accuracy, nonce, [0] tsa: no BOOLEAN (ordering DEFAULT FALSE)
    assert top_level_tags(token.tst_der) == [2, 6, 16, 2, 24, 16, 2, 0]
    assert tst["nonce"].native == 0x1234_5678_9ABC_DEF0
    assert tst["tsa"].name == "directory_name"
    assert tst["tsa"].chosen.untag().dump() == pki.tsa.certificate.subject.dump()
    assert tst["extensions"].native is None

    signed_data = token.signed_data
    assert signed_data["version"].native == "v3"
    assert [a["algorithm"].native for a in signed_data["digest_algorithms"]] == [digest_name]
    assert signed_data["digest_algorithms"][0].dump() == token.signer_info["digest_algorithm"].dump()
    assert signed_data["digest_algorithms"][0]["parameters"].native is None  # absent (RFC 5754)
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [pki.tsa.certificate.dump()]

    signer_info = token.signer_info
    assert signer_info["version"].native == "v1"
    sid = signer_info["sid"].chosen
    assert sid["issuer"].dump() == pki.tsa.certificate.issuer.dump()
    assert sid["serial_number"].native == pki.tsa.certificate.serial_number
    assert set(token.attributes) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert token.attributes["content_type"]["values"].native == ["tst_info"]
    assert token.attributes["message_digest"]["values"].native == [digest(algorithm, token.tst_der)]
    (ess,) = token.attributes["signing_certificate_v2"]["values"][0]["certs"]
    assert ess["cert_hash"].native == hashlib.sha256(pki.tsa.certificate.dump()).digest()
    assert ess.contents[:2] == b"\x04\x20"  # hashAlgorithm at its DEFAULT sha256: omitted
    assert ess["issuer_serial"]["serial_number"].native == pki.tsa.certificate.serial_number
    assert ess["issuer_serial"]["issuer"][0].chosen.untag().dump() == pki.tsa.certificate.issuer.dump()

    assert signature_algorithm_of(signer_info["signature_algorithm"]) is algorithm
    if algorithm is SignatureAlgorithm.SM2_SM3:
        assert signer_info["signature_algorithm"].dump() == SM2_SM3_DER
    verify(
        pki.tsa.certificate.public_key,
        algorithm,
        signed_attributes_set(signer_info),
        signer_info["signature"].native,
    )


def test_certificates_only_when_requested(ecdsa_pki: Hierarchy) -> None:
    authority = ecdsa_pki.authority(chain=[ecdsa_pki.issuing.certificate])
    without = open_token(
        authority.stamp(parse_timestamp_request(request_der(cert_req=False)), serial=1, now=NOW)
    )
    assert without.signed_data["certificates"].native is None
    with_chain = open_token(authority.stamp(parse_timestamp_request(request_der()), serial=2, now=NOW))
    # CertificateSet is a SET OF: strict DER orders it by encoding, whatever order the TSA was given
    assert [c.chosen.dump() for c in with_chain.signed_data["certificates"]] == sorted(
        [ecdsa_pki.tsa.certificate.dump(), ecdsa_pki.issuing.certificate.dump()]
    )


def test_no_nonce_no_tsa_name_no_accuracy(ecdsa_pki: Hierarchy) -> None:
    authority = ecdsa_pki.authority(accuracy=None, include_tsa_name=False)
    token = open_token(authority.stamp(parse_timestamp_request(request_der(nonce=None)), serial=3, now=NOW))
    assert token.tst["nonce"].native is None
    assert token.tst["tsa"].native is None
    assert token.tst["accuracy"].native is None


@pytest.mark.parametrize(
    ("accuracy", "gen_time", "native_accuracy"),
    [
        (
            timedelta(milliseconds=250),
            b"20260601080000.123Z",
            {"seconds": None, "millis": 250, "micros": None},
        ),
        (
            timedelta(microseconds=500),
            b"20260601080000.12345Z",
            {"seconds": None, "millis": None, "micros": 500},
        ),
        (
            timedelta(seconds=1, milliseconds=500),
            b"20260601080000Z",
            {"seconds": 1, "millis": 500, "micros": None},
        ),
        (timedelta(minutes=1), b"20260601080000Z", {"seconds": 60, "millis": None, "micros": None}),
    ],
    ids=["250ms", "500us", "1.5s", "1min"],
)
def test_gen_time_carries_fractions_only_below_one_second_accuracy(
    ecdsa_pki: Hierarchy, accuracy: timedelta, gen_time: bytes, native_accuracy: dict[str, int | None]
) -> None:
    authority = ecdsa_pki.authority(accuracy=accuracy)
    now = NOW + timedelta(microseconds=123_450)
    token = open_token(authority.stamp(parse_timestamp_request(request_der()), serial=4, now=now))
    assert token.tst["gen_time"].contents == gen_time
    assert token.tst["accuracy"].native == native_accuracy


def test_fraction_of_zero_is_omitted(ecdsa_pki: Hierarchy) -> None:
    authority = ecdsa_pki.authority(accuracy=timedelta(milliseconds=10))
    token = open_token(authority.stamp(parse_timestamp_request(request_der()), serial=5, now=NOW))
    assert token.tst["gen_time"].contents == b"20260601080000Z"
    later = NOW + timedelta(milliseconds=100)
    token = open_token(authority.stamp(parse_timestamp_request(request_der()), serial=5, now=later))
    assert token.tst["gen_time"].contents == b"20260601080000.1Z"  # no trailing zeros


def test_gen_time_is_utc(ecdsa_pki: Hierarchy) -> None:
    beijing = NOW.astimezone(timezone(timedelta(hours=8)))
    token = open_token(
        ecdsa_pki.authority().stamp(parse_timestamp_request(request_der()), serial=6, now=beijing)
    )
    assert token.tst["gen_time"].contents == b"20260601080000Z"


def test_policy_other_than_ours_is_unaccepted(ecdsa_pki: Hierarchy) -> None:
    authority = ecdsa_pki.authority()
    request = parse_timestamp_request(request_der(policy="1.2.3.4.5"))
    with pytest.raises(InvalidInput) as info:
        authority.check(request)
    assert fail_info_for(info.value) is FailureInfo.UNACCEPTED_POLICY
    with pytest.raises(InvalidInput):
        authority.stamp(request, serial=1, now=NOW)
    authority.check(parse_timestamp_request(request_der(policy=POLICY)))


@pytest.mark.parametrize("serial", [0, -1, 1 << 160, True])
def test_serial_must_be_positive_and_fit_160_bits(ecdsa_pki: Hierarchy, serial: int) -> None:
    with pytest.raises(InvalidInput, match="serial"):
        ecdsa_pki.authority().stamp(parse_timestamp_request(request_der()), serial=serial, now=NOW)


def test_naive_time_is_refused(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        ecdsa_pki.authority().stamp(
            parse_timestamp_request(request_der()), serial=1, now=NOW.replace(tzinfo=None)
        )


def test_authority_set_up_refusals(ecdsa_pki: Hierarchy) -> None:
    with pytest.raises(InvalidInput, match="signer"):
        TimeStampAuthority(ecdsa_pki.tsa.certificate, ecdsa_pki.ocsp.signer, policy_oid=POLICY, accuracy=None)
    with pytest.raises(InvalidInput, match="timeStamping"):
        TimeStampAuthority(
            ecdsa_pki.ocsp.certificate, ecdsa_pki.ocsp.signer, policy_oid=POLICY, accuracy=None
        )
    with pytest.raises(InvalidInput, match="OID"):
        ecdsa_pki.authority(policy_oid="not an oid")
    with pytest.raises(InvalidInput, match="negative"):
        ecdsa_pki.authority(accuracy=timedelta(seconds=-1))
    with pytest.raises(InvalidInput, match="timedelta"):
        ecdsa_pki.authority(accuracy=1)


def test_a_signature_that_does_not_verify_is_never_returned(ecdsa_pki: Hierarchy) -> None:
    class BrokenSigner:
        algorithm = ecdsa_pki.tsa.signer.algorithm
        public_key_info = ecdsa_pki.tsa.signer.public_key_info

        def sign(self, data: bytes) -> bytes:
            return ecdsa_pki.tsa.signer.sign(data + b"!")

    authority = TimeStampAuthority(
        ecdsa_pki.tsa.certificate, BrokenSigner(), policy_oid=POLICY, accuracy=None
    )
    with pytest.raises(InvalidSignature):
        authority.stamp(parse_timestamp_request(request_der()), serial=1, now=NOW)


# --- rejections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_info", "bit"),
    [
        (FailureInfo.BAD_ALG, 0),
        (FailureInfo.BAD_REQUEST, 2),
        (FailureInfo.BAD_DATA_FORMAT, 5),
        (FailureInfo.TIME_NOT_AVAILABLE, 14),
        (FailureInfo.UNACCEPTED_POLICY, 15),
        (FailureInfo.UNACCEPTED_EXTENSION, 16),
        (FailureInfo.ADD_INFO_NOT_AVAILABLE, 17),
        (FailureInfo.SYSTEM_FAILURE, 25),
    ],
)
def test_rejection_carries_status_and_one_fail_info_bit(fail_info: FailureInfo, bit: int) -> None:
    der = rejection(fail_info)
    parsed = tsp.PKIStatusInfo.load(core.Sequence.load(der)[0].dump())
    assert parsed["status"].native == "rejection"
    assert parsed["fail_info"].native == {fail_info.value}
    bits = parsed["fail_info"]
    # DER named bit list: no trailing zero bits, so the last set bit is the one we asked for
    unused = bits.contents[0]
    assert (len(bits.contents) - 1) * 8 - unused == bit + 1
    assert len(core.Sequence.load(der)) == 1  # no token
    assert parsed["status_string"].native


def test_rejection_text_and_refusals() -> None:
    der = rejection("bad_alg", text="SHA-1 is not accepted")
    status = tsp.PKIStatusInfo.load(core.Sequence.load(der)[0].dump())
    assert status["status_string"].native == ["SHA-1 is not accepted"]
    with pytest.raises(InvalidInput):
        rejection("not_a_failure")


def test_errors_map_to_fail_info() -> None:
    assert fail_info_for(UnsupportedAlgorithm()) is FailureInfo.BAD_ALG
    assert fail_info_for(MalformedInput()) is FailureInfo.BAD_DATA_FORMAT
    assert fail_info_for(InvalidInput()) is FailureInfo.BAD_REQUEST
    assert fail_info_for(TrustsvcError()) is FailureInfo.SYSTEM_FAILURE
    assert fail_info_for(RuntimeError()) is FailureInfo.SYSTEM_FAILURE
    assert fail_info_for(InvalidInput("x", fail_info="time_not_available")) is FailureInfo.TIME_NOT_AVAILABLE


def test_authority_rejection_is_the_module_rejection(ecdsa_pki: Hierarchy) -> None:
    assert ecdsa_pki.authority().rejection(FailureInfo.BAD_ALG) == rejection(FailureInfo.BAD_ALG)


# --- fuzzing: only typed errors come out ---------------------------------------------------------

_FUZZ: list[tuple[Hierarchy, TimeStampAuthority]] = []


def _fuzz_authority() -> TimeStampAuthority:
    if not _FUZZ:
        pki = hierarchy(KeyAlgorithm.ECDSA_P256)
        _FUZZ.append((pki, pki.authority()))
    return _FUZZ[0][1]


def _parse_and_stamp(data: bytes) -> None:
    try:
        request = parse_timestamp_request(data)
    except (MalformedInput, InvalidInput) as exc:  # UnsupportedAlgorithm is an InvalidInput
        rejection(fail_info_for(exc))
        return
    assert isinstance(request, TimeStampRequest)
    authority = _fuzz_authority()
    try:
        der = authority.stamp(request, serial=1, now=NOW)
    except InvalidInput as exc:
        assert fail_info_for(exc) is FailureInfo.UNACCEPTED_POLICY
        return
    open_token(der)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    _parse_and_stamp(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_requests_raise_only_typed_errors(data: st.DataObject) -> None:
    seed = bytearray(request_der(policy=POLICY))
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
    _parse_and_stamp(bytes(seed))
