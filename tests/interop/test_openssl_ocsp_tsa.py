"""The openssl CLI as an independent client of our OCSP responder and time-stamp authority.

Requests are made by ``openssl ocsp -reqout`` / ``openssl ts -query``, parsed and answered by
``trustsvc.ca.ocsp`` / ``trustsvc.ca.tsa``, and the answers checked by ``openssl ocsp -respin`` /
``openssl ts -verify`` / ``openssl ts -reply -text``.

Two things about ``openssl ocsp`` shape these tests:

* Given ``-cert``, it builds a fresh request with a fresh nonce and ignores ``-reqin``, so a response that
  echoes the nonce of an earlier request fails its nonce check. Status lines are therefore read with ``-cert …
  -no_nonce``, and the nonce echo is checked with ``-reqin req.der`` alone, which verifies the response and
  compares its nonce with the request's (and fails on a mismatch, checked below).
* Neither ``openssl ocsp`` nor ``openssl ts -verify`` can pass an SM2 distinguishing ID (OpenSSL 3.0), and
  our SM2 signatures use the GM/T 0009 default ID, so SM2 signatures are verified with ``openssl dgst -sm3
  -sigopt distid:1234567812345678`` over the exact signed bytes (tbsResponseData; the signed attributes as a
  SET), and ``openssl ocsp -noverify`` / ``openssl ts -reply -text`` read the rest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms, ocsp, pem, tsp, x509

from tests.pki import issue
from tests.tools import DISTID, OpenSSL
from trustsvc.ca.ocsp import (
    CertStatus,
    OcspErrorStatus,
    OcspResponder,
    StatusLookup,
    error_response,
    error_response_for,
    parse_ocsp_request,
)
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.tsa import (
    FailureInfo,
    TimeStampAuthority,
    fail_info_for,
    parse_timestamp_request,
    rejection,
)
from trustsvc.ca.x509 import RevocationReason
from trustsvc.errors import InvalidInput, MalformedInput, UnsupportedAlgorithm
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import verify
from trustsvc.keys.sm3 import sm3

pytestmark = pytest.mark.interop

POLICY = "1.3.6.1.4.1.32473.1.2"
DATA = "某市市场监督管理局\n营业执照 91110000600037341L\n".encode()


class Pki:
    """Root → issuing CA → OCSP responder, TSA and two leaves; valid now, since openssl checks against now."""

    def __init__(self, openssl: OpenSSL, algorithm: KeyAlgorithm) -> None:
        self.openssl = openssl
        self.algorithm = algorithm
        self.now = datetime.now(UTC).replace(microsecond=0)
        start = self.now - timedelta(hours=1)
        self.root = issue(ProfileKind.ROOT, None, algorithm, not_before=start)
        self.issuing = issue(ProfileKind.ISSUING_CA, self.root, algorithm, not_before=start)
        self.responder = issue(ProfileKind.OCSP_RESPONDER, self.issuing, algorithm, not_before=start)
        self.tsa = issue(ProfileKind.TSA, self.issuing, algorithm, not_before=start)
        self.leaf = issue(ProfileKind.SEAL_SIGNER, self.issuing, algorithm, not_before=start)
        self.other = issue(ProfileKind.TLS_CLIENT, self.issuing, algorithm, not_before=start)
        for name, issued in [
            ("root", self.root),
            ("issuing", self.issuing),
            ("ocsp", self.responder),
            ("tsa", self.tsa),
            ("leaf", self.leaf),
            ("other", self.other),
        ]:
            openssl.write(f"{name}.pem", _pem(issued.certificate))
        openssl.write("tsa-chain.pem", _pem(self.tsa.certificate) + _pem(self.issuing.certificate))
        openssl.write("data.bin", DATA)

    def ocsp_responder(self) -> OcspResponder:
        return OcspResponder(self.responder.certificate, self.responder.signer, self.issuing.certificate)

    def authority(self) -> TimeStampAuthority:
        return TimeStampAuthority(
            self.tsa.certificate, self.tsa.signer, policy_oid=POLICY, accuracy=timedelta(seconds=1)
        )

    def read(self, name: str) -> bytes:
        return (self.openssl.workdir / name).read_bytes()


def _pem(certificate: x509.Certificate) -> bytes:
    return pem.armor("CERTIFICATE", certificate.dump())


@pytest.fixture
def ecdsa_pki(openssl: OpenSSL) -> Pki:
    return Pki(openssl, KeyAlgorithm.ECDSA_P256)


@pytest.fixture
def sm2_pki(openssl: OpenSSL) -> Pki:
    return Pki(openssl, KeyAlgorithm.SM2)


def _statuses(table: dict[int, CertStatus]) -> StatusLookup:
    def lookup(name_hash: bytes, key_hash: bytes, serial: int) -> CertStatus | None:
        return table.get(serial)

    return lookup


def _answer(pki: Pki, request_file: str, table: dict[int, CertStatus], out: str = "resp.der") -> bytes:
    """Parse the openssl-made request, answer it from ``table``, write the response; return it."""
    request = parse_ocsp_request(pki.read(request_file))
    der = pki.ocsp_responder().respond(
        request, _statuses(table), now=pki.now, next_update=pki.now + timedelta(hours=12)
    )
    pki.openssl.write(out, der)
    return der


# --- OCSP, ECDSA ---------------------------------------------------------------------------------


def test_openssl_verifies_our_good_response_and_its_nonce(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
    request = parse_ocsp_request(ecdsa_pki.read("req.der"))
    assert request.nonce is not None and len(request.nonce) == 16  # openssl's default nonce
    _answer(ecdsa_pki, "req.der", {ecdsa_pki.leaf.certificate.serial_number: CertStatus.good()})

    # nonce: checked against the request in req.der, with the full signature and chain check
    checked = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                         "-reqin", "req.der")  # fmt: skip
    assert "Response verify OK" in checked.stderr
    assert "nonce" not in checked.stderr.lower()

    status = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                        "-cert", "leaf.pem", "-no_nonce")  # fmt: skip
    assert "Response verify OK" in status.stderr
    assert re.search(r"^leaf\.pem: good$", status.stdout, re.MULTILINE), status.stdout
    assert "This Update:" in status.stdout and "Next Update:" in status.stdout

    text = openssl.ok("ocsp", "-respin", "resp.der", "-noverify", "-resp_text").stdout
    assert f"OCSP Nonce: \n            0410{request.nonce.hex().upper()}" in text
    ski = ecdsa_pki.responder.certificate.key_identifier.hex().upper()
    assert f"Responder Id: {ski}" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text


def test_openssl_reads_our_revoked_response_with_reason(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
    revoked_at = ecdsa_pki.now - timedelta(minutes=30)
    status = CertStatus.revoked(revoked_at, RevocationReason.KEY_COMPROMISE)
    _answer(ecdsa_pki, "req.der", {ecdsa_pki.leaf.certificate.serial_number: status})
    result = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                        "-cert", "leaf.pem", "-no_nonce")  # fmt: skip
    assert "Response verify OK" in result.stderr
    assert re.search(r"^leaf\.pem: revoked$", result.stdout, re.MULTILINE), result.stdout
    assert "Reason: keyCompromise" in result.stdout
    assert f"Revocation Time: {revoked_at:%b %e %H:%M:%S %Y} GMT" in result.stdout
    assert (
        "Response verify OK"
        in openssl.ok(
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-CAfile",
            "root.pem",
            "-reqin",
            "req.der",
        ).stderr
    )


def test_openssl_notices_a_wrong_or_missing_nonce(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    """The nonce check above is real: openssl refuses another nonce and warns about a missing one."""
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
    responder = ecdsa_pki.ocsp_responder()
    cert_id = parse_ocsp_request(ecdsa_pki.read("req.der")).cert_ids[0]
    answers = [(cert_id, CertStatus.good())]
    later = ecdsa_pki.now + timedelta(hours=1)
    openssl.write("other-nonce.der", responder.sign_response(answers, now=ecdsa_pki.now, next_update=later,
                                                             nonce=b"\x00" * 16))  # fmt: skip
    openssl.write("no-nonce.der", responder.sign_response(answers, now=ecdsa_pki.now, next_update=later))
    common = ("ocsp", "-issuer", "issuing.pem", "-CAfile", "root.pem", "-reqin", "req.der", "-respin")
    wrong = openssl.run(*common, "other-nonce.der")
    assert wrong.returncode != 0 and "Nonce Verify error" in wrong.stderr
    missing = openssl.run(*common, "no-nonce.der")
    assert "WARNING: no nonce in response" in missing.stderr


def test_request_without_nonce_gets_a_cacheable_response(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der")
    request = parse_ocsp_request(ecdsa_pki.read("req.der"))
    assert request.nonce is None and request.cacheable
    # pre-signed without any request, as a cache filler would: openssl accepts it for this request
    responder = ecdsa_pki.ocsp_responder()
    presigned = responder.sign_response(
        [(responder.cert_id(ecdsa_pki.leaf.certificate.serial_number), CertStatus.good())],
        now=ecdsa_pki.now,
        next_update=ecdsa_pki.now + timedelta(days=1),
    )
    openssl.write("resp.der", presigned)
    result = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                        "-cert", "leaf.pem", "-no_nonce")  # fmt: skip
    assert "leaf.pem: good" in result.stdout and "Response verify OK" in result.stderr
    assert "OCSP Nonce" not in openssl.ok("ocsp", "-respin", "resp.der", "-noverify", "-resp_text").stdout


def test_unknown_serial_is_reported_unknown(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-serial", "0x0BADC0DE", "-reqout", "req.der")
    _answer(ecdsa_pki, "req.der", {ecdsa_pki.leaf.certificate.serial_number: CertStatus.good()})
    result = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                        "-serial", "0x0BADC0DE", "-no_nonce")  # fmt: skip
    assert "Response verify OK" in result.stderr
    assert re.search(r"^0x0BADC0DE: unknown$", result.stdout, re.MULTILINE), result.stdout


def test_sha256_cert_ids_and_several_certificates(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-sha256", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-cert", "other.pem",
               "-reqout", "req.der")  # fmt: skip
    request = parse_ocsp_request(ecdsa_pki.read("req.der"))
    assert [c.hash_algorithm.value for c in request.cert_ids] == ["sha256", "sha256"]
    _answer(
        ecdsa_pki,
        "req.der",
        {
            ecdsa_pki.leaf.certificate.serial_number: CertStatus.good(),
            ecdsa_pki.other.certificate.serial_number: CertStatus.revoked(
                ecdsa_pki.now, RevocationReason.SUPERSEDED
            ),
        },
    )
    result = openssl.ok("ocsp", "-respin", "resp.der", "-issuer", "issuing.pem", "-CAfile", "root.pem",
                        "-sha256", "-cert", "leaf.pem", "-cert", "other.pem", "-no_nonce")  # fmt: skip
    assert "Response verify OK" in result.stderr
    assert re.search(r"^leaf\.pem: good$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^other\.pem: revoked$", result.stdout, re.MULTILINE), result.stdout
    assert "Reason: superseded" in result.stdout


def test_another_cas_certificate_is_answered_unauthorized(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "root.pem", "-cert", "issuing.pem", "-reqout", "req.der")
    der = _answer(ecdsa_pki, "req.der", {})
    assert der == error_response(OcspErrorStatus.UNAUTHORIZED)
    result = openssl.run("ocsp", "-respin", "resp.der", "-issuer", "root.pem", "-cert", "issuing.pem",
                         "-CAfile", "root.pem")  # fmt: skip
    assert "Responder Error: unauthorized (6)" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "request_bytes",
    [b"", b"\x30\x03\x02\x01", b"GET /ocsp HTTP/1.1", b"\x30\x84\x7f\xff\xff\xff"],
    ids=["empty", "truncated", "text", "huge-length"],
)
def test_garbage_requests_get_a_malformed_request_response_openssl_reads(
    openssl: OpenSSL, request_bytes: bytes
) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_ocsp_request(request_bytes)
    openssl.write("resp.der", error_response_for(info.value))
    result = openssl.run("ocsp", "-respin", "resp.der", "-resp_text")
    assert "Responder Error: malformedrequest (1)" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("status", "printed"),
    [
        (OcspErrorStatus.INTERNAL_ERROR, "internalerror (2)"),
        (OcspErrorStatus.TRY_LATER, "trylater (3)"),
        (OcspErrorStatus.UNAUTHORIZED, "unauthorized (6)"),
    ],
)
def test_openssl_reads_every_error_status(openssl: OpenSSL, status: OcspErrorStatus, printed: str) -> None:
    openssl.write("resp.der", error_response(status))
    result = openssl.run("ocsp", "-respin", "resp.der")
    assert f"Responder Error: {printed}" in result.stdout + result.stderr


# --- OCSP, SM2 -----------------------------------------------------------------------------------


def test_sm2_response_signature_verifies_with_openssl_dgst(openssl: OpenSSL, sm2_pki: Pki) -> None:
    openssl.ok("ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
    request = parse_ocsp_request(sm2_pki.read("req.der"))
    revoked_at = sm2_pki.now - timedelta(days=1)
    status = CertStatus.revoked(revoked_at, RevocationReason.KEY_COMPROMISE)
    der = _answer(sm2_pki, "req.der", {sm2_pki.leaf.certificate.serial_number: status})

    basic = ocsp.OCSPResponse.load(der).basic_ocsp_response
    openssl.ok("x509", "-in", "ocsp.pem", "-pubkey", "-noout", "-out", "pub.pem")
    _dgst_verifies(openssl, basic["tbs_response_data"].dump(), basic["signature"].native)

    data = basic["tbs_response_data"]
    assert data["responder_id"].chosen.native == sm2_pki.responder.certificate.key_identifier
    (single,) = data["responses"]
    assert (
        single["cert_id"].dump()
        == ocsp.OCSPRequest.load(sm2_pki.read("req.der"))["tbs_request"]["request_list"][0]["req_cert"].dump()
    )
    assert single["cert_status"].chosen["revocation_time"].native == revoked_at
    assert single["cert_status"].chosen["revocation_reason"].native == "key_compromise"
    assert data["response_extensions"][0]["extn_value"].parsed.native == request.nonce
    assert [c.dump() for c in basic["certs"]] == [sm2_pki.responder.certificate.dump()]

    # openssl reads the rest (it cannot check the signature without the distinguishing ID)
    text = openssl.ok("ocsp", "-respin", "resp.der", "-noverify", "-resp_text").stdout
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "Revocation Reason: keyCompromise (0x1)" in text
    result = openssl.ok("ocsp", "-respin", "resp.der", "-noverify", "-issuer", "issuing.pem",
                        "-cert", "leaf.pem", "-no_nonce")  # fmt: skip
    assert re.search(r"^leaf\.pem: revoked$", result.stdout, re.MULTILINE), result.stdout


# --- TSA, ECDSA ----------------------------------------------------------------------------------


def _stamp(pki: Pki, query: str = "q.tsq", out: str = "resp.tsr", serial: int = 0x5EED) -> bytes:
    der = pki.authority().stamp(parse_timestamp_request(pki.read(query)), serial=serial, now=pki.now)
    pki.openssl.write(out, der)
    return der


def test_openssl_verifies_our_time_stamp(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq")
    _stamp(ecdsa_pki)
    verified = openssl.ok("ts", "-verify", "-data", "data.bin", "-in", "resp.tsr", "-CAfile", "root.pem",
                          "-untrusted", "issuing.pem")  # fmt: skip
    assert verified.stdout.strip() == "Verification: OK"
    # against the query: imprint, nonce and the TSA certificate's presence are compared too
    verified = openssl.ok("ts", "-verify", "-queryfile", "q.tsq", "-in", "resp.tsr", "-CAfile", "root.pem",
                          "-untrusted", "issuing.pem")  # fmt: skip
    assert verified.stdout.strip() == "Verification: OK"


def test_openssl_refuses_our_time_stamp_for_changed_data(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq")
    _stamp(ecdsa_pki)
    openssl.write("changed.bin", DATA.replace("营业执照".encode(), "食品经营许可证".encode()))
    refused = openssl.run("ts", "-verify", "-data", "changed.bin", "-in", "resp.tsr", "-CAfile", "root.pem",
                          "-untrusted", "issuing.pem")  # fmt: skip
    assert refused.returncode != 0
    assert "Verification: FAILED" in refused.stdout
    assert "message imprint mismatch" in refused.stderr


def test_openssl_prints_policy_serial_and_nonce(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq")
    query_text = openssl.ok("ts", "-query", "-in", "q.tsq", "-text").stdout
    nonce = re.search(r"Nonce: (0x[0-9A-F]+)", query_text)
    assert nonce, query_text
    _stamp(ecdsa_pki, serial=0x0123456789ABCDEF01)
    text = openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Granted." in text
    assert f"Policy OID: {POLICY}" in text
    assert "Serial number: 0x0123456789ABCDEF01" in text
    assert f"Nonce: {nonce.group(1)}" in text
    assert f"Time stamp: {ecdsa_pki.now:%b %e %H:%M:%S %Y} GMT" in text
    assert "Accuracy: 0x01 seconds" in text
    assert "Ordering: no" in text
    assert "TSA: DirName:" in text


def test_time_stamp_without_certificates_verifies_with_the_chain_file(
    openssl: OpenSSL, ecdsa_pki: Pki
) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sm3", "-no_nonce", "-out", "q.tsq")  # no -cert
    request = parse_timestamp_request(ecdsa_pki.read("q.tsq"))
    assert request.hash_algorithm.value == "sm3" and not request.cert_req and request.nonce is None
    der = _stamp(ecdsa_pki)
    assert tsp.TimeStampResp.load(der)["time_stamp_token"]["content"]["certificates"].native is None
    missing = openssl.run("ts", "-verify", "-data", "data.bin", "-in", "resp.tsr", "-CAfile", "root.pem",
                          "-untrusted", "issuing.pem")  # fmt: skip
    assert missing.returncode != 0  # the TSA certificate is nowhere: openssl cannot find the signer
    verified = openssl.ok("ts", "-verify", "-data", "data.bin", "-in", "resp.tsr", "-CAfile", "root.pem",
                          "-untrusted", "tsa-chain.pem")  # fmt: skip
    assert verified.stdout.strip() == "Verification: OK"


def test_unknown_hash_gets_a_bad_alg_rejection(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sha1", "-out", "q.tsq")
    with pytest.raises(UnsupportedAlgorithm) as info:
        parse_timestamp_request(ecdsa_pki.read("q.tsq"))
    assert fail_info_for(info.value) is FailureInfo.BAD_ALG
    openssl.write("resp.tsr", rejection(fail_info_for(info.value)))
    text = openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Rejected." in text
    assert "Failure info: unrecognized or unsupported algorithm identifier" in text
    assert "TST info:\nNot included." in text


def test_other_policy_gets_an_unaccepted_policy_rejection(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sha256", "-tspolicy", "1.2.3.4", "-out", "q.tsq")
    request = parse_timestamp_request(ecdsa_pki.read("q.tsq"))
    with pytest.raises(InvalidInput) as info:
        ecdsa_pki.authority().check(request)
    openssl.write("resp.tsr", rejection(fail_info_for(info.value)))
    text = openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Rejected." in text
    assert "Failure info: the requested TSA policy is not supported by the TSA" in text


@pytest.mark.parametrize(
    "request_bytes",
    [b"", b"\x30\x05\x02\x01\x01\x30", b"POST /tsa HTTP/1.1", b"\x30\x84\x7f\xff\xff\xff"],
    ids=["empty", "truncated", "text", "huge-length"],
)
def test_garbage_time_stamp_requests_get_a_bad_data_format_rejection(
    openssl: OpenSSL, request_bytes: bytes
) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_timestamp_request(request_bytes)
    openssl.write("resp.tsr", rejection(fail_info_for(info.value)))
    text = openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Rejected." in text
    assert "Failure info: the data submitted has the wrong format" in text


# --- TSA, SM2 ------------------------------------------------------------------------------------


def test_sm2_time_stamp_signature_and_digest_verify_with_openssl(openssl: OpenSSL, sm2_pki: Pki) -> None:
    openssl.ok("ts", "-query", "-data", "data.bin", "-sm3", "-cert", "-out", "q.tsq")
    der = _stamp(sm2_pki)
    token = tsp.TimeStampResp.load(der)["time_stamp_token"]["content"]
    (signer_info,) = token["signer_infos"]
    tst_der = bytes(token["encap_content_info"]["content"].contents)
    signed_attrs = signer_info["signed_attrs"].dump()
    assert signed_attrs[0] == 0xA0
    as_set = b"\x31" + signed_attrs[1:]  # re-tagged from [0] IMPLICIT to SET OF, as RFC 5652 §5.4 signs

    openssl.ok("x509", "-in", "tsa.pem", "-pubkey", "-noout", "-out", "pub.pem")
    _dgst_verifies(openssl, as_set, signer_info["signature"].native)

    # messageDigest is SM3 of the encapsulated TSTInfo, computed by openssl
    openssl.write("tst.der", tst_der)
    sm3_by_openssl = bytes.fromhex(openssl.ok("dgst", "-sm3", "-r", "tst.der").stdout.split()[0])
    digests = [
        a["values"][0].native for a in signer_info["signed_attrs"] if a["type"].native == "message_digest"
    ]
    assert digests == [sm3_by_openssl] == [sm3(tst_der)]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sm3"
    assert [a["algorithm"].native for a in token["digest_algorithms"]] == ["sm3"]

    # our own check of the same signature, and the imprint openssl put in the query
    verify(
        sm2_pki.tsa.certificate.public_key,
        SignatureAlgorithm.SM2_SM3,
        as_set,
        signer_info["signature"].native,
    )
    tst = tsp.TSTInfo.load(tst_der)
    assert tst["message_imprint"]["hashed_message"].native == sm3(DATA)
    assert cms.ContentInfo.load(tsp.TimeStampResp.load(der)["time_stamp_token"].dump())  # parses standalone

    text = openssl.ok("ts", "-reply", "-in", "resp.tsr", "-text").stdout
    assert "Status: Granted." in text and f"Policy OID: {POLICY}" in text and "Hash Algorithm: sm3" in text


def _dgst_verifies(openssl: OpenSSL, signed: bytes, signature: bytes) -> None:
    """Check openssl dgst verifies ``signature`` over ``signed`` with the default SM2 ID, and not without."""
    openssl.write("signed.der", signed)
    openssl.write("sig.der", signature)
    result = openssl.ok(
        "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", DISTID, "-signature", "sig.der", "signed.der"
    )
    assert result.stdout.strip() == "Verified OK"
    empty_id = openssl.run("dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig.der", "signed.der")
    assert empty_id.returncode != 0
