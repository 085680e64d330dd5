"""GB/T 38540 seals and seal signatures (trustsvc.seal.ses): what we make, how we parse V4/V1/V5, lenient vs
strict handling of the real-world deviations (spec/standards.md §3.7), signer listing, refusals.

Deviating inputs are assembled byte by byte with the small TLV helpers below and signed with real keys, so
every lenient case also proves the signature still verifies over the original bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import algos, cms, core, tsp
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.pki import Issued, issue
from trustsvc.ca.profiles import ProfileKind
from trustsvc.errors import InvalidInput, InvalidSignature, MalformedInput, UnsupportedAlgorithm
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import software_signer
from trustsvc.keys.sm2 import decode_signature
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses

NOW = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)
SM2_SM3 = "1.2.156.10197.1.501"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SEAL_NAME = "某市市场监督管理局行政审批专用章"
PROPERTY_INFO = "/Doc_0/Signs/Sign_0/Signature.xml"


# --- a throw-away PKI ---------------------------------------------------------------------------------------


@dataclass
class Pki:
    maker: Issued
    signer: Issued

    @property
    def maker_cert(self) -> bytes:
        return bytes(self.maker.certificate.dump())

    @property
    def signer_cert(self) -> bytes:
        return bytes(self.signer.certificate.dump())


def make_pki(algorithm: KeyAlgorithm = KeyAlgorithm.SM2) -> Pki:
    root = issue(ProfileKind.ROOT, None, algorithm)
    ca = issue(ProfileKind.ISSUING_CA, root, algorithm)
    return Pki(issue(ProfileKind.SEAL_MAKER, ca, algorithm), issue(ProfileKind.SEAL_SIGNER, ca, algorithm))


@pytest.fixture
def pki() -> Pki:
    return make_pki()


def seal_fields(pki: Pki, **changes: object) -> ses.SealInfoFields:
    fields = ses.SealInfoFields(
        vendor_id="trustsvc-test",
        es_id="33010000000012345",
        seal_type=1,
        name=SEAL_NAME,
        signer_certs=(pki.signer_cert,),
        create_date=NOW,
        valid_start=NOW,
        valid_end=NOW + timedelta(days=3 * 365),
        picture=ses.SealPicture("PNG", PICTURE, 42, 42),
    )
    return dataclasses.replace(fields, **changes)  # type: ignore[arg-type]


def made_signature(pki: Pki, seal_der: bytes, **kwargs: object) -> bytes:
    return ses.make_signature(
        seal_der,
        sm3(b"<ofd:Signature/>"),
        PROPERTY_INFO,
        pki.signer_cert,
        pki.signer.signer,
        time_info=kwargs.pop("time_info", NOW),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


# --- TLV helpers for hand-made (deviating) structures -------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def ia5(text: str) -> bytes:
    return tlv(0x16, text.encode("ascii"))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def bits(data: bytes, unused: int = 0) -> bytes:
    return tlv(0x03, bytes([unused]) + data)


def gtime(text: str) -> bytes:
    return tlv(0x18, text.encode("ascii"))


def utctime(text: str) -> bytes:
    return tlv(0x17, text.encode("ascii"))


def oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def seal_info_v4(
    pki: Pki,
    *,
    version: bytes | None = None,
    name: bytes = SEAL_NAME.encode(),
    list_type: bytes | None = None,
    cert_list: bytes | None = None,
    create: bytes | None = None,
    start: bytes | None = None,
    end: bytes | None = None,
    picture_type: str = "PNG",
    ext: bytes = b"",
    header: bytes | None = None,
    es_id: bytes | None = None,
) -> bytes:
    prop = seq(
        integer(1),
        tlv(0x0C, name),
        list_type if list_type is not None else integer(1),
        cert_list if cert_list is not None else seq(octets(pki.signer_cert)),
        create or gtime("20260601080000Z"),
        start or gtime("20260601080000Z"),
        end or gtime("20290601080000Z"),
    )
    picture = seq(ia5(picture_type), octets(PICTURE), integer(42), integer(42))
    header = header or seq(ia5("ES"), version or integer(4), ia5("trustsvc-test"))
    return seq(header, es_id or ia5("33010000000012345"), prop, picture, ext)


def sign_value(signer: Issued, data: bytes, encode: Callable[[bytes], bytes] | None = None) -> bytes:
    der = signer.signer.sign(data)
    return encode(der) if encode else der


def assemble_v4(
    pki: Pki,
    info: bytes,
    *,
    encode: Callable[[bytes], bytes] | None = None,
    unused: int = 0,
    tail: bytes = b"",
) -> bytes:
    signature = sign_value(pki.maker, info, encode)
    return seq(info, octets(pki.maker_cert), oid(SM2_SM3), bits(signature, unused), tail)


def assemble_signature_v4(
    pki: Pki,
    seal: bytes,
    *,
    version: int = 4,
    time: bytes | None = None,
    data_hash: bytes | None = None,
    tbs_tail: bytes = b"",
    tail: bytes = b"",
    encode: Callable[[bytes], bytes] | None = None,
) -> bytes:
    tbs = seq(
        integer(version),
        seal,
        time or gtime("20260601080000Z"),
        data_hash or bits(sm3(b"doc")),
        ia5(PROPERTY_INFO),
        tbs_tail,
    )
    signature = sign_value(pki.signer, tbs, encode)
    return seq(tbs, octets(pki.signer_cert), oid(SM2_SM3), bits(signature), tail)


def raw_r_s(der: bytes) -> bytes:
    r, s = decode_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign_with_high_r(signer: Issued, data: bytes) -> bytes:
    """A signature whose r has its top bit set, written without the DER sign pad (the DJ encoding)."""
    for _ in range(200):
        r, s = decode_signature(signer.signer.sign(data))
        if r >> 255:
            body = b"\x02\x20" + r.to_bytes(32, "big") + integer(s)
            return b"\x30" + bytes([len(body)]) + body
    raise AssertionError("no signature with a high r in 200 tries")


# ==========================================================================================================
# What we make
# ==========================================================================================================


def test_made_seal_parses_back_with_every_field(pki: Pki) -> None:
    fields = seal_fields(pki)
    der = ses.make_seal(fields, pki.maker_cert, pki.maker.signer)
    seal = ses.parse_seal(der, lenient=False)

    assert seal.version == 4 and seal.header_version == 4
    assert seal.vendor_id == "trustsvc-test"
    assert seal.es_id == fields.es_id
    assert seal.seal_type == 1
    assert seal.name == SEAL_NAME
    assert seal.cert_list_type == ses.CERT_LIST_CERTS
    assert seal.signer_certs == (pki.signer_cert,)
    assert seal.signer_cert_digests == ()
    assert (seal.create_date, seal.valid_start, seal.valid_end) == (
        fields.create_date,
        fields.valid_start,
        fields.valid_end,
    )
    assert seal.picture == fields.picture
    assert seal.extensions == ()
    assert seal.maker_cert == pki.maker_cert
    assert seal.sign_alg == SM2_SM3
    assert seal.timestamp is None
    assert seal.der == der
    assert seal.seal_info == ses.build_seal_info(fields) == seal.signed_data
    assert der.startswith(b"\x30") and seal.seal_info in der
    assert seal.warnings == ()
    assert seal.lenient is False


def test_made_seal_is_strict_der(pki: Pki) -> None:
    der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    assert ses.SESeal.load(der).dump(force=True) == der
    assert gtime("20260601080000Z") in der  # YYYYMMDDHHMMSSZ, UTC
    assert ses.SES_SealInfo.load(ses.parse_seal(der).seal_info)["header"].native == {
        "ID": "ES",
        "version": 4,
        "Vid": "trustsvc-test",
    }


def test_made_seal_writes_times_as_utc_seconds(pki: Pki) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 6, 1, 16, 0, 0, 987654, tzinfo=beijing)
    fields = seal_fields(pki, create_date=local, valid_start=local)
    seal = ses.parse_seal(ses.make_seal(fields, pki.maker_cert, pki.maker.signer), lenient=False)
    assert seal.create_date == seal.valid_start == NOW
    assert seal.create_date.tzinfo == UTC


def test_made_seal_maker_signature_verifies(pki: Pki) -> None:
    seal = ses.parse_seal(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    assert ses.verify_seal(seal) == ()
    assert ses.verify_seal(seal, lenient=False) == ()


def test_one_flipped_byte_in_the_seal_info_fails_the_maker_signature(pki: Pki) -> None:
    der = bytearray(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    der[der.index(PICTURE) + 100] ^= 0x01
    seal = ses.parse_seal(bytes(der))
    with pytest.raises(InvalidSignature):
        ses.verify_seal(seal)


def test_seal_with_certificate_digests_lists_the_signer_by_sm3(pki: Pki) -> None:
    fields = seal_fields(pki, cert_list_type=ses.CERT_LIST_DIGESTS)
    seal = ses.parse_seal(ses.make_seal(fields, pki.maker_cert, pki.maker.signer), lenient=False)
    assert seal.cert_list_type == 2
    assert seal.signer_certs == ()
    assert seal.signer_cert_digests == (ses.CertDigest("SM3", sm3(pki.signer_cert)),)
    assert ses.signer_is_listed(seal, pki.signer_cert)
    assert not ses.signer_is_listed(seal, pki.maker_cert)


def test_seal_with_certificates_lists_the_signer_by_bytes(pki: Pki) -> None:
    seal = ses.parse_seal(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    assert ses.signer_is_listed(seal, pki.signer_cert)
    assert not ses.signer_is_listed(seal, pki.maker_cert)
    assert not ses.signer_is_listed(seal, pki.signer_cert + b"\x00")


@pytest.mark.parametrize(
    ("obj_type", "digest", "listed"),
    [
        ("SM3", sm3, True),
        ("sm3", sm3, True),
        ("1.2.156.10197.1.401", sm3, True),
        ("certificate SM3 digest", sm3, True),
        ("SHA256", lambda d: hashlib.sha256(d).digest(), True),
        ("SHA-256", lambda d: hashlib.sha256(d).digest(), True),
        ("2.16.840.1.101.3.4.2.1", lambda d: hashlib.sha256(d).digest(), True),
        ("SM3", lambda d: hashlib.sha256(d).digest(), False),  # wrong algorithm for the value
        ("MD5", lambda d: hashlib.md5(d).digest(), False),  # not an algorithm we accept
        ("SM3X", sm3, False),
    ],
)
def test_signer_is_listed_reads_the_digest_algorithm_from_objtype(
    pki: Pki, obj_type: str, digest: Callable[[bytes], bytes], listed: bool
) -> None:
    seal = ses.parse_seal(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    by_digest = dataclasses.replace(
        seal,
        cert_list_type=ses.CERT_LIST_DIGESTS,
        signer_certs=(),
        signer_cert_digests=(ses.CertDigest(obj_type, digest(pki.signer_cert)),),
    )
    assert ses.signer_is_listed(by_digest, pki.signer_cert) is listed


def test_extensions_are_written_with_critical_explicit_for_ofdrw(pki: Pki) -> None:
    extensions = (
        ses.SealExtension("1.2.156.112600.7.1", False, b"maker unit"),
        ses.SealExtension("1.2.156.112600.7.3", True, b"English name"),
    )
    der = ses.make_seal(seal_fields(pki, extensions=extensions), pki.maker_cert, pki.maker.signer)
    seal = ses.parse_seal(der, lenient=False)  # explicit FALSE is our documented choice, not a deviation
    assert seal.extensions == extensions
    assert ses.verify_seal(seal) == ()
    for ext in ses.SES_SealInfo.load(seal.seal_info)["extDatas"]:
        assert len(core.Sequence.load(ext.dump())) == 3  # OFDRW's ExtData reader takes exactly three elements
    assert seq(oid("1.2.156.112600.7.1"), b"\x01\x01\x00", octets(b"maker unit")) in der


def test_no_extensions_means_no_extdatas(pki: Pki) -> None:
    seal = ses.parse_seal(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    assert len(core.Sequence.load(seal.seal_info)) == 4


def test_ecdsa_maker_and_signer_are_supported() -> None:
    pki = make_pki(KeyAlgorithm.ECDSA_P256)
    seal_der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    seal = ses.parse_seal(seal_der, lenient=False)
    assert seal.sign_alg == ECDSA_SHA256
    assert ses.verify_seal(seal) == ()
    sig = ses.parse_signature(made_signature(pki, seal_der), lenient=False)
    assert sig.signature_alg == ECDSA_SHA256
    assert ses.verify_signature_value(sig) == ()


def test_rsa_pss_cannot_be_named_by_a_bare_oid(pki: Pki) -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.SM2)
    ca = issue(ProfileKind.ISSUING_CA, root, KeyAlgorithm.SM2)
    pss = software_signer(rsa.generate_private_key(65537, 2048), SignatureAlgorithm.RSA_PSS_SHA256)
    maker = issue(ProfileKind.SEAL_MAKER, ca, KeyAlgorithm.RSA_3072, subject_signer=pss)
    with pytest.raises(UnsupportedAlgorithm):
        ses.make_seal(seal_fields(pki), bytes(maker.certificate.dump()), pss)


def test_make_seal_refuses_a_maker_certificate_of_another_key(pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="not the key"):
        ses.make_seal(seal_fields(pki), pki.signer_cert, pki.maker.signer)
    with pytest.raises(InvalidInput):
        ses.make_seal(seal_fields(pki), b"\x30\x00", pki.maker.signer)


@pytest.mark.parametrize(
    "changes",
    [
        {"create_date": datetime(2026, 6, 1)},  # naive
        {"es_id": "印章0001"},
        {"es_id": ""},
        {"vendor_id": "vendor\n"},
        {"name": "trailing "},
        {"name": ""},
        {"cert_list_type": 3},
        {"signer_certs": ()},
        {"signer_certs": (b"\x30\x03\x02\x01\x01",)},
        {"valid_end": NOW},
        {"seal_type": -1},
        {"picture": ses.SealPicture("P N G", PICTURE, 40, 40)},
        {"picture": ses.SealPicture("PNG", b"", 40, 40)},
        {"picture": ses.SealPicture("PNG", PICTURE, 0, 40)},
        {"extensions": (ses.SealExtension("not-an-oid", False, b""),)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_build_seal_info_refuses_bad_fields(pki: Pki, changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ses.build_seal_info(seal_fields(pki, **changes))


def test_picture_type_is_written_upper_case(pki: Pki) -> None:
    fields = seal_fields(pki, picture=ses.SealPicture("png", PICTURE, 40, 30))
    seal = ses.parse_seal(ses.make_seal(fields, pki.maker_cert, pki.maker.signer), lenient=False)
    assert seal.picture == ses.SealPicture("PNG", PICTURE, 40, 30)


# --- SES_Signature ------------------------------------------------------------------------------------------


def test_made_signature_parses_back_with_every_field(pki: Pki) -> None:
    seal_der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    data_hash = sm3(b"<ofd:Signature/>")
    der = made_signature(pki, seal_der)
    sig = ses.parse_signature(der, lenient=False)

    assert sig.version == 4
    assert sig.seal == ses.parse_seal(seal_der, lenient=False)
    assert sig.seal.der == seal_der
    assert sig.time_info == NOW
    assert sig.data_hash == data_hash
    assert sig.property_info == PROPERTY_INFO
    assert sig.extensions == ()
    assert sig.signer_cert == pki.signer_cert
    assert sig.signature_alg == SM2_SM3
    assert sig.timestamp is None
    assert sig.der == der
    assert sig.tbs_sign == core.Sequence.load(der)[0].dump() and der[4:].startswith(sig.tbs_sign)
    assert sig.warnings == sig.all_warnings == ()
    assert ses.verify_signature_value(sig) == ()


def test_made_signature_is_strict_der(pki: Pki) -> None:
    der = made_signature(pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    assert ses.SES_Signature.load(der).dump(force=True) == der
    tbs = ses.SES_Signature.load(der)["toSign"]
    assert tbs["version"].native == 4
    assert tbs["timeInfo"].contents == b"20260601080000Z"
    assert tbs["dataHash"].contents[:1] == b"\x00"  # no unused bits


def test_one_flipped_byte_in_tbs_sign_fails_the_document_signature(pki: Pki) -> None:
    der = bytearray(made_signature(pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)))
    at = der.index(PROPERTY_INFO.encode())
    der[at + 5] ^= 0x01  # still ASCII
    sig = ses.parse_signature(bytes(der))
    with pytest.raises(InvalidSignature):
        ses.verify_signature_value(sig)
    assert ses.verify_seal(sig.seal) == ()  # the seal itself is untouched


def test_timestamp_covers_the_signature_value_and_is_explicitly_tagged(pki: Pki) -> None:
    seen: list[bytes] = []
    token = seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, seq(integer(3))))  # shape only; not verified here

    def tsa(value: bytes) -> bytes:
        seen.append(value)
        return token

    der = made_signature(
        pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer), timestamp=tsa
    )
    sig = ses.parse_signature(der, lenient=False)
    assert seen == [sig.signature]
    assert sig.timestamp == token
    assert der.endswith(tlv(0xA0, bits(token)))  # [0] EXPLICIT BIT STRING, as OFDRW writes it
    assert ses.verify_signature_value(sig) == ()


def test_timestamp_may_be_given_as_bytes(pki: Pki) -> None:
    der = made_signature(
        pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer), timestamp=b"\x30\x00"
    )
    assert ses.parse_signature(der).timestamp == b"\x30\x00"


def test_signing_time_is_written_in_utc(pki: Pki) -> None:
    local = datetime(2026, 6, 1, 16, 0, 0, 500000, tzinfo=timezone(timedelta(hours=8)))
    der = made_signature(
        pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer), time_info=local
    )
    assert ses.parse_signature(der, lenient=False).time_info == NOW


def test_make_signature_refuses_a_signer_not_listed_in_the_seal(pki: Pki) -> None:
    seal_der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    with pytest.raises(InvalidInput, match="not listed"):
        ses.make_signature(
            seal_der, sm3(b"x"), PROPERTY_INFO, pki.maker_cert, pki.maker.signer, time_info=NOW
        )


def test_make_signature_refuses_a_seal_whose_maker_signature_fails(pki: Pki) -> None:
    der = bytearray(ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer))
    der[der.index(PICTURE)] ^= 0x01
    with pytest.raises(InvalidInput, match="seal cannot be used"):
        made_signature(pki, bytes(der))


@pytest.mark.parametrize(
    "change",
    ["short hash", "naive time", "non-ascii property", "wrong certificate", "not a seal", "v1 seal"],
)
def test_make_signature_refuses_bad_arguments(pki: Pki, change: str) -> None:
    seal_der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    args: dict[str, object] = {
        "seal_der": seal_der,
        "data_hash": sm3(b"x"),
        "property_info": PROPERTY_INFO,
        "signer_cert_der": pki.signer_cert,
        "signer": pki.signer.signer,
        "time_info": NOW,
    }
    if change == "short hash":
        args["data_hash"] = b"\x00" * 20
    elif change == "naive time":
        args["time_info"] = datetime(2026, 6, 1)
    elif change == "non-ascii property":
        args["property_info"] = "/文档/Signature.xml"
    elif change == "wrong certificate":
        args["signer_cert_der"] = pki.maker_cert
    elif change == "not a seal":
        args["seal_der"] = b"\x30\x00"
    else:
        args["seal_der"] = make_v1_seal(pki)
    with pytest.raises(InvalidInput):
        ses.make_signature(**args)  # type: ignore[arg-type]


# ==========================================================================================================
# Lenient vs strict: each deviation of spec §3.7 is reported in lenient mode and refused in strict mode
# ==========================================================================================================


@pytest.mark.parametrize(
    ("case", "warning", "check"),
    [
        (
            {"create": gtime("20260601160000")},
            "createDate: GeneralizedTime '20260601160000' has no time zone; read as UTC+8",
            lambda seal: seal.create_date == NOW,
        ),
        (
            {"start": gtime("260601080000Z")},
            "validStart: '260601080000Z' is UTCTime syntax (2-digit year) inside a GeneralizedTime tag",
            lambda seal: seal.valid_start == NOW,
        ),
        (
            {"end": gtime("20290601160000+0800")},
            "validEnd: GeneralizedTime '20290601160000+0800' has a UTC offset instead of Z",
            lambda seal: seal.valid_end == datetime(2029, 6, 1, 8, tzinfo=UTC),
        ),
        (
            {"list_type": integer(3)},
            "certListType 3 is not defined by GB/T 38540; the list holds certificates, read as 1",
            lambda seal: seal.cert_list_type == 1 and len(seal.signer_certs) == 1,
        ),
        (
            {"picture_type": "png"},
            "picture type 'png' is not upper case (read as 'PNG')",
            lambda seal: seal.picture.type == "PNG",
        ),
        (
            {"name": "某某银行电子回单专用章   ".encode()},
            "name '某某银行电子回单专用章' has trailing spaces (removed)",
            lambda seal: seal.name == "某某银行电子回单专用章",
        ),
        (
            {"name": "百望股份有限".encode() + b"\x00" * 6},
            "name '百望股份有限' is padded with 6 NUL characters (removed)",
            lambda seal: seal.name == "百望股份有限",
        ),
        (
            {"name": "发票专用章".encode("gbk")},
            "name: UTF8String is not valid UTF-8; decoded as GBK",
            lambda seal: seal.name == "发票专用章",
        ),
        (
            {"version": b"\x02\x02\x00\x04"},
            "header.version: INTEGER is not minimally encoded",
            lambda seal: seal.header_version == 4,
        ),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else "",
)
def test_seal_deviation_is_reported_when_lenient_and_refused_when_strict(
    pki: Pki, case: dict[str, object], warning: str, check: Callable[[ses.Seal], bool]
) -> None:
    der = assemble_v4(pki, seal_info_v4(pki, **case))  # type: ignore[arg-type]
    seal = ses.parse_seal(der)
    assert len(seal.warnings) == 1 and seal.warnings[0].startswith(warning), seal.warnings
    assert check(seal)
    assert ses.verify_seal(seal) == ()  # signed over the original, deviating bytes
    with pytest.raises(MalformedInput, match="strict mode"):
        ses.parse_seal(der, lenient=False)


def test_raw_r_s_signature_value_is_repaired_at_verify_time_and_refused_when_strict(pki: Pki) -> None:
    der = assemble_v4(pki, seal_info_v4(pki), encode=raw_r_s)
    seal = ses.parse_seal(der)
    assert seal.warnings == () and len(seal.signed_value) == 64
    assert ses.verify_seal(seal) == (
        "seal maker signature: raw 64-byte r||s (no DER) re-encoded as DER SEQUENCE{r, s}",
    )
    with pytest.raises(InvalidSignature):
        ses.verify_seal(seal, lenient=False)
    with pytest.raises(MalformedInput, match="raw 64-byte r"):
        ses.parse_seal(der, lenient=False)


def test_unpadded_integer_signature_value_is_repaired_and_refused_when_strict(pki: Pki) -> None:
    seal_der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    tbs = seq(integer(4), seal_der, gtime("20260601080000Z"), bits(sm3(b"doc")), ia5(PROPERTY_INFO))
    der = seq(tbs, octets(pki.signer_cert), oid(SM2_SM3), bits(sign_with_high_r(pki.signer, tbs)))
    sig = ses.parse_signature(der)
    assert sig.warnings == ()
    assert ses.verify_signature_value(sig) == (
        "document signature: INTEGER r has no 0x00 sign pad (read as unsigned)",
    )
    with pytest.raises(MalformedInput, match="sign pad"):
        ses.parse_signature(der, lenient=False)


def test_bit_string_with_unused_bits_is_read_as_whole_octets(pki: Pki) -> None:
    der = assemble_v4(pki, seal_info_v4(pki), unused=2)
    seal = ses.parse_seal(der)
    assert len(seal.warnings) == 1
    assert seal.warnings[0].startswith("signedValue: BIT STRING declares 2 unused bits; read as 7")
    assert ses.verify_seal(seal) == ()
    with pytest.raises(MalformedInput, match="unused bits"):
        ses.parse_seal(der, lenient=False)


def test_non_minimal_length_is_reported(pki: Pki) -> None:
    content = ia5("ES") + integer(4) + ia5("trustsvc-test")
    long_form = b"\x30\x81" + bytes([len(content)]) + content  # long form for a length under 128
    info = seal_info_v4(pki, header=long_form)
    der = assemble_v4(pki, info)
    seal = ses.parse_seal(der)
    assert seal.warnings == ("length fields use a non-minimal (BER) encoding",)
    assert ses.verify_seal(seal) == ()
    with pytest.raises(MalformedInput, match="non-minimal"):
        ses.parse_seal(der, lenient=False)


@pytest.mark.parametrize(
    ("time", "warning", "moment"),
    [
        (gtime("20260601160000"), "has no time zone; read as UTC+8", NOW),
        (gtime("260601080000Z"), "UTCTime syntax", NOW),
        (gtime("20260601080000.5Z"), None, NOW + timedelta(milliseconds=500)),
    ],
)
def test_signing_time_variants(pki: Pki, time: bytes, warning: str | None, moment: datetime) -> None:
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    der = assemble_signature_v4(pki, seal, time=time)
    sig = ses.parse_signature(der)
    assert sig.time_info == moment
    if warning is None:
        assert sig.warnings == ()
    else:
        assert len(sig.warnings) == 1 and warning in sig.warnings[0]
        with pytest.raises(MalformedInput):
            ses.parse_signature(der, lenient=False)
    assert ses.verify_signature_value(sig) == ()


def test_data_hash_with_unused_bits_is_reported(pki: Pki) -> None:
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    digest = sm3(b"doc")[:-1] + b"\x08"  # low three bits zero, as in the Suwell file
    sig = ses.parse_signature(assemble_signature_v4(pki, seal, data_hash=bits(digest, unused=3)))
    assert sig.data_hash == digest
    assert sig.warnings == ("dataHash: BIT STRING declares 3 unused bits; read as 32 whole octets",)


def test_tbs_version_other_than_the_seal_version_is_reported(pki: Pki) -> None:
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    der = assemble_signature_v4(pki, seal, version=1)
    assert ses.parse_signature(der).warnings == ("TBS_Sign.version 1 differs from the seal's version 4",)
    with pytest.raises(MalformedInput):
        ses.parse_signature(der, lenient=False)


def test_seal_signature_warnings_are_joined_by_all_warnings(pki: Pki) -> None:
    seal = assemble_v4(pki, seal_info_v4(pki, picture_type="bmp"))
    sig = ses.parse_signature(assemble_signature_v4(pki, seal, time=gtime("20260601160000")))
    assert sig.all_warnings[0] == "seal: picture type 'bmp' is not upper case (read as 'BMP')"
    assert sig.all_warnings[1:] == sig.warnings and len(sig.warnings) == 1


# --- [0] tagging: EXPLICIT (what we write, OFDRW) and IMPLICIT are both read --------------------------------


def test_timestamp_is_read_explicit_or_implicit(pki: Pki) -> None:
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    token = seq(integer(7))
    explicit = assemble_signature_v4(pki, seal, tail=tlv(0xA0, bits(token)))
    implicit = assemble_signature_v4(pki, seal, tail=tlv(0x80, b"\x00" + token))
    for der in (explicit, implicit):
        sig = ses.parse_signature(der, lenient=False)
        assert sig.timestamp == token and sig.warnings == ()
        assert ses.verify_signature_value(sig) == ()


def test_tbs_extdatas_are_read_explicit_or_implicit(pki: Pki) -> None:
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    ext_a = seq(oid("1.2.3.4"), octets(b"a"))
    ext_b = seq(oid("1.2.3.5"), b"\x01\x01\xff", octets(b"b"))
    expected = (ses.SealExtension("1.2.3.4", False, b"a"), ses.SealExtension("1.2.3.5", True, b"b"))
    for tail in (tlv(0xA0, seq(ext_a, ext_b)), tlv(0xA0, ext_a + ext_b)):
        sig = ses.parse_signature(assemble_signature_v4(pki, seal, tbs_tail=tail), lenient=False)
        assert sig.extensions == expected
        assert ses.verify_signature_value(sig) == ()
    single = ses.parse_signature(assemble_signature_v4(pki, seal, tbs_tail=tlv(0xA0, ext_a)))
    assert single.extensions == expected[:1]  # IMPLICIT with one ExtData is not mistaken for EXPLICIT


# ==========================================================================================================
# GM/T 0031 (V1) and V5
# ==========================================================================================================


def seal_info_v1(pki: Pki, *, dates: tuple[bytes, bytes, bytes] | None = None) -> bytes:
    create, start, end = dates or (
        utctime("260601080000Z"),
        utctime("260601080000Z"),
        utctime("290601080000Z"),
    )
    prop = seq(integer(1), tlv(0x0C, SEAL_NAME.encode()), seq(octets(pki.signer_cert)), create, start, end)
    picture = seq(ia5("PNG"), octets(PICTURE), integer(40), integer(40))
    return seq(seq(ia5("ES"), integer(1), ia5("OFDRW")), ia5("v1-0001"), prop, picture)


def make_v1_seal(pki: Pki, info: bytes | None = None) -> bytes:
    info = info or seal_info_v1(pki)
    cert, alg = octets(pki.maker_cert), oid(SM2_SM3)
    signature = pki.maker.signer.sign(seq(info, cert, alg))
    return seq(info, seq(cert, alg, bits(signature)))


def make_v1_signature(pki: Pki, seal: bytes, time_info: bytes, *, data_hash: bytes | None = None) -> bytes:
    tbs = seq(
        integer(1),
        seal,
        time_info,
        data_hash or bits(sm3(b"doc")),
        ia5(PROPERTY_INFO),
        octets(pki.signer_cert),
        oid(SM2_SM3),
    )
    return seq(tbs, bits(pki.signer.signer.sign(tbs)))


def test_v1_seal_parses_and_its_maker_signature_covers_info_cert_and_algorithm(pki: Pki) -> None:
    info = seal_info_v1(pki)
    der = make_v1_seal(pki, info)
    seal = ses.parse_seal(der, lenient=False)
    assert (seal.version, seal.header_version, seal.vendor_id, seal.es_id) == (1, 1, "OFDRW", "v1-0001")
    assert seal.cert_list_type == 1 and seal.signer_certs == (pki.signer_cert,)
    assert (seal.create_date, seal.valid_end) == (NOW, datetime(2029, 6, 1, 8, tzinfo=UTC))
    assert seal.seal_info == info
    assert seal.signed_data == seq(info, octets(pki.maker_cert), oid(SM2_SM3))
    assert seal.warnings == ()
    assert ses.verify_seal(seal) == ()
    assert ses.signer_is_listed(seal, pki.signer_cert)


def test_v1_seal_with_generalized_time_dates_is_reported(pki: Pki) -> None:
    dates = (gtime("20260601080000Z"), utctime("260601080000Z"), utctime("290601080000Z"))
    seal = ses.parse_seal(make_v1_seal(pki, seal_info_v1(pki, dates=dates)))
    assert seal.warnings == ("createDate: GeneralizedTime where GM/T 0031 has UTCTime",)
    assert seal.create_date == NOW


def tst_token(moment: datetime) -> bytes:
    info = tsp.TSTInfo(
        {
            "version": 1,
            "policy": "1.2.3.4",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x00" * 32},
            "serial_number": 1,
            "gen_time": moment,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": info},
            "signer_infos": [],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


@pytest.mark.parametrize(
    ("time_info", "token", "warning"),
    [
        (bits(utctime("260601080000Z")), None, None),
        (bits(b"2026-06-01 16:00:00"), None, "timeInfo holds a bare time text"),  # OFDRW's V1 container
        (bits(tst_token(NOW)), tst_token(NOW), None),
        (octets(utctime("260601080000Z")), None, "timeInfo: OCTET STRING where GM/T 0031 has BIT STRING"),
    ],
    ids=["utctime", "ofdrw-text", "token", "octet-string"],
)
def test_v1_signature_parses_and_verifies(
    pki: Pki, time_info: bytes, token: bytes | None, warning: str | None
) -> None:
    der = make_v1_signature(pki, make_v1_seal(pki), time_info)
    sig = ses.parse_signature(der)
    assert sig.version == 1 and sig.seal.version == 1
    assert sig.time_info == NOW
    assert sig.data_hash == sm3(b"doc")
    assert sig.signer_cert == pki.signer_cert and sig.signature_alg == SM2_SM3
    assert sig.tbs_sign == core.Sequence.load(der)[0].dump()
    assert sig.timestamp == token
    if warning is None:
        assert sig.warnings == ()
        ses.parse_signature(der, lenient=False)
    else:
        assert any(w.startswith(warning) for w in sig.warnings), sig.warnings
        with pytest.raises(MalformedInput):
            ses.parse_signature(der, lenient=False)
    assert ses.verify_seal(sig.seal) == ()
    assert ses.verify_signature_value(sig) == ()


def test_v5_seal_and_signature_parse_with_their_time_stamps(pki: Pki) -> None:
    info = seal_info_v4(pki, version=integer(5))
    token = seq(integer(5))
    seal = assemble_v4(pki, info, tail=tlv(0xA0, bits(token)))
    parsed = ses.parse_seal(seal, lenient=False)
    assert (parsed.version, parsed.header_version, parsed.timestamp) == (5, 5, token)
    assert ses.verify_seal(parsed) == ()
    sig = ses.parse_signature(assemble_signature_v4(pki, seal, version=5), lenient=False)
    assert sig.version == 5 and sig.seal == parsed and sig.warnings == ()
    assert ses.verify_signature_value(sig) == ()
    four_elements = ses.parse_seal(assemble_v4(pki, info))
    assert four_elements.version == 5 and four_elements.timestamp is None


# ==========================================================================================================
# Malformed input
# ==========================================================================================================


def test_version_detection_refuses_what_fits_no_version(pki: Pki) -> None:
    info = seal_info_v4(pki)
    v4 = assemble_v4(pki, info)
    with pytest.raises(MalformedInput, match="3 elements"):
        ses.parse_seal(seq(info, octets(pki.maker_cert), oid(SM2_SM3)))
    with pytest.raises(MalformedInput, match="header version 1"):
        ses.parse_seal(assemble_v4(pki, seal_info_v4(pki, version=integer(1))))
    with pytest.raises(MalformedInput, match="needs header version 5"):
        ses.parse_seal(assemble_v4(pki, info, tail=tlv(0xA0, bits(b"x"))))
    with pytest.raises(MalformedInput, match="V1"):
        ses.parse_signature(assemble_signature_v4(pki, make_v1_seal(pki)))
    with pytest.raises(MalformedInput, match="GB/T 38540 seal"):
        ses.parse_signature(make_v1_signature(pki, v4, bits(utctime("260601080000Z"))))
    with pytest.raises(MalformedInput):
        ses.parse_seal(assemble_signature_v4(pki, v4))  # a signature is not a seal
    with pytest.raises(MalformedInput):
        ses.parse_signature(v4)  # nor a seal a signature


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d + b"\x00",
        lambda d: d[:-1],
        lambda d: b"\x31" + d[1:],
        lambda d: b"",
        lambda d: b"\x30\x80" + d[4:] + b"\x00\x00",
        lambda d: b"\x30\x85\xff\xff\xff\xff\xff" + d[4:],
        lambda d: b"\x30\x84\x7f\xff\xff\xff" + d[4:],
    ],
    ids=["trailing", "truncated", "set", "empty", "indefinite", "huge-length-field", "huge-length"],
)
def test_framing_errors_are_malformed_input(pki: Pki, mutate: Callable[[bytes], bytes]) -> None:
    der = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    assert der[:2] == b"\x30\x82"
    with pytest.raises(MalformedInput):
        ses.parse_seal(mutate(der))
    with pytest.raises(MalformedInput):
        ses.parse_signature(mutate(made_signature(pki, der)))


@pytest.mark.parametrize(
    "case",
    [
        {"list_type": integer(7)},
        {"list_type": integer(2)},  # digests announced, certificates present
        {"cert_list": seq(seq(tlv(0x13, b"SM3"), octets(b"x")))},  # digests present, certificates announced
        {"create": gtime("2026-06-01")},
        {"create": gtime("20261301080000Z")},
        {"create": tlv(0x17, b"260601080000Z")},  # UTCTime tag in V4
        {"name": b"\xff\xfe\xfd"},
    ],
    ids=str,
)
def test_content_errors_are_malformed_input_in_both_modes(pki: Pki, case: dict[str, object]) -> None:
    der = assemble_v4(pki, seal_info_v4(pki, **case))  # type: ignore[arg-type]
    for lenient in (True, False):
        with pytest.raises(MalformedInput):
            ses.parse_seal(der, lenient=lenient)


def test_ia5_strings_must_be_ascii(pki: Pki) -> None:
    info = seal_info_v4(pki, es_id=tlv(0x16, "印章".encode()))
    with pytest.raises(MalformedInput, match="non-ASCII"):
        ses.parse_seal(assemble_v4(pki, info))


def test_header_id_must_be_es(pki: Pki) -> None:
    info = seal_info_v4(pki, header=seq(ia5("EZ"), integer(4), ia5("x")))
    with pytest.raises(MalformedInput, match=r"header\.ID"):
        ses.parse_seal(assemble_v4(pki, info))


def test_maker_certificate_must_be_a_certificate(pki: Pki) -> None:
    info = seal_info_v4(pki)
    der = seq(info, octets(b"\x30\x03\x02\x01\x01"), oid(SM2_SM3), bits(pki.maker.signer.sign(info)))
    with pytest.raises(MalformedInput, match="maker certificate"):
        ses.parse_seal(der)


@pytest.mark.parametrize("value", ["not bytes", None, 42, ["a"]])
def test_non_bytes_input_is_malformed_input(value: object) -> None:
    with pytest.raises(MalformedInput):
        ses.parse_seal(value)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput):
        ses.parse_signature(value)  # type: ignore[arg-type]


def test_deep_nesting_is_refused() -> None:
    der = b"\x05\x00"
    for _ in range(200):
        der = seq(der)
    with pytest.raises(MalformedInput, match="nested too deeply"):
        ses.parse_seal(der)


# ==========================================================================================================
# Verification failures are InvalidSignature
# ==========================================================================================================


def test_unsupported_signature_algorithm_is_invalid_signature(pki: Pki) -> None:
    info = seal_info_v4(pki)
    der = seq(info, octets(pki.maker_cert), oid("1.2.3.4"), bits(pki.maker.signer.sign(info)))
    seal = ses.parse_seal(der, lenient=False)
    with pytest.raises(InvalidSignature, match="not supported"):
        ses.verify_seal(seal)


def test_algorithm_that_does_not_fit_the_key_is_invalid_signature(pki: Pki) -> None:
    info = seal_info_v4(pki)
    der = seq(info, octets(pki.maker_cert), oid(ECDSA_SHA256), bits(pki.maker.signer.sign(info)))
    with pytest.raises(InvalidSignature):
        ses.verify_seal(ses.parse_seal(der))


def test_wrong_maker_certificate_is_invalid_signature(pki: Pki) -> None:
    info = seal_info_v4(pki)
    der = seq(info, octets(pki.signer_cert), oid(SM2_SM3), bits(pki.maker.signer.sign(info)))
    with pytest.raises(InvalidSignature):
        ses.verify_seal(ses.parse_seal(der))


def test_sm2_signature_checked_with_the_maker_key_over_seal_info_only(pki: Pki) -> None:
    """The V4 maker signature is over SES_SealInfo alone, not SEQUENCE{info, cert, alg} (spec §3.2)."""
    info = seal_info_v4(pki)
    wrong_range = pki.maker.signer.sign(seq(info, octets(pki.maker_cert), oid(SM2_SM3)))
    der = seq(info, octets(pki.maker_cert), oid(SM2_SM3), bits(wrong_range))
    with pytest.raises(InvalidSignature):
        ses.verify_seal(ses.parse_seal(der))


def test_signatures_of_v1_range_are_checked_against_the_new_sequence_header(pki: Pki) -> None:
    seal = ses.parse_seal(make_v1_seal(pki))
    tampered = dataclasses.replace(seal, signed_data=seal.seal_info)
    with pytest.raises(InvalidSignature):
        ses.verify_seal(tampered)
