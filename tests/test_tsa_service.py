"""The time-stamp service: SM2 and ECDSA tokens, unique serials from the database, the token register."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from asn1crypto import cms, core, tsp, x509
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.conftest import FakeClock
from trustsvc.ca import timestamping
from trustsvc.ca.status_models import TimestampTokenRecord
from trustsvc.ca.timestamping import TimeStampResult, make_request
from trustsvc.config import Settings
from trustsvc.errors import NotFound
from trustsvc.keys.algorithms import KeyAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify
from trustsvc.keys.sm3 import sm3
from trustsvc.service import TrustService

DATA = "某市市场监督管理局 营业执照 91110000600037341L".encode()


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


def token_parts(der: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    response = tsp.TimeStampResp.load(der)
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    return signed_data, signed_data["encap_content_info"]["content"].parsed


def check_token(der: bytes, tsa_certificate: x509.Certificate, data: bytes) -> tsp.TSTInfo:
    """Check the token's imprint, messageDigest and signature (our own verify, not the core's self-check)."""
    signed_data, info = token_parts(der)
    imprint = info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    digest = sm3(data) if algorithm == "sm3" else hashlib.new(algorithm, data).digest()
    assert imprint["hashed_message"].native == digest
    signer_info = signed_data["signer_infos"][0]
    tst_der = signed_data["encap_content_info"]["content"].contents
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    tst_digest = sm3(tst_der) if digest_name == "sm3" else hashlib.new(digest_name, tst_der).digest()
    (message_digest,) = [
        a["values"][0].native for a in signer_info["signed_attrs"] if a["type"].native == "message_digest"
    ]
    assert message_digest == tst_digest
    signed_attrs = cms.CMSAttributes.load(signer_info["signed_attrs"].untag().dump()).dump()
    verify(
        tsa_certificate.public_key,
        signature_algorithm_of(signer_info["signature_algorithm"]),
        signed_attrs,
        signer_info["signature"].native,
    )
    return info


def records(service: TrustService) -> list[TimestampTokenRecord]:
    with service.session(read_only=True) as session, session.begin():
        return list(session.execute(select(TimestampTokenRecord).order_by(TimestampTokenRecord.id)).scalars())


@pytest.mark.parametrize(
    ("hierarchy", "hash_algorithm", "signature_oid", "digest"),
    [
        ("sm2", "sm3", "1.2.156.10197.1.501", "sm3"),
        ("ecdsa", "sha256", "1.2.840.10045.4.3.2", "sha256"),
        ("ecdsa", "sm3", "1.2.840.10045.4.3.2", "sha256"),
        ("sm2", "sha512", "1.2.156.10197.1.501", "sm3"),
    ],
)
def test_token_is_signed_by_the_hierarchys_tsa_with_policy_accuracy_and_nonce(
    pki: TrustService, clock: FakeClock, hierarchy: str, hash_algorithm: str, signature_oid: str, digest: str
) -> None:
    query = make_request(DATA, hash_algorithm=hash_algorithm)
    result = pki.tsa.respond(query, hierarchy=hierarchy)
    assert result.granted and result.serial is not None
    tsa_certificate, issuing = pki.tsa.certificates(hierarchy)
    info = check_token(result.der, tsa_certificate, DATA)
    assert info["policy"].dotted == pki.settings.tsa_policy_oid
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["gen_time"].native == clock.now.replace(microsecond=0) == result.gen_time
    assert info["serial_number"].native == result.serial
    assert info["nonce"].native == tsp.TimeStampReq.load(query)["nonce"].native
    signed_data, _ = token_parts(result.der)
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].dotted == signature_oid
    assert signer_info["digest_algorithm"]["algorithm"].native == digest
    # certReq: the TSA certificate and its issuing CA travel with the token
    # (a SET OF: DER sorts it, so compare as sets)
    assert {c.chosen.dump() for c in signed_data["certificates"]} == {tsa_certificate.dump(), issuing.dump()}


def test_sm2_is_the_default_tsa(pki: TrustService) -> None:
    result = pki.tsa.respond(make_request(DATA))
    check_token(result.der, pki.tsa.certificates("sm2")[0], DATA)


def test_every_token_gets_a_unique_serial_and_a_register_row(pki: TrustService, clock: FakeClock) -> None:
    results = []
    for i in range(20):
        clock.advance(seconds=1)
        results.append(
            pki.tsa.respond(make_request(DATA + bytes([i]), hash_algorithm="sha256"), hierarchy="ecdsa")
        )
    serials = [r.serial for r in results]
    assert len(set(serials)) == 20 and all(s is not None and 0 < s < 1 << 128 for s in serials)
    rows = records(pki)
    assert [int(r.serial, 16) for r in rows] == serials
    tsa_certificate_id = pki.ca.service_certificate("tsa", "ecdsa-issuing").id
    for i, (row, result) in enumerate(zip(rows, results, strict=True)):
        assert row.message_imprint == hashlib.sha256(DATA + bytes([i])).hexdigest()
        assert row.hash_algorithm == "sha256"
        assert row.gen_time == result.gen_time
        assert row.tsa_certificate_id == tsa_certificate_id
        assert row.policy == pki.settings.tsa_policy_oid


def test_a_serial_collision_is_signed_again_with_a_new_serial(pki: TrustService, monkeypatch: Any) -> None:
    first = pki.tsa.respond(make_request(DATA))
    assert first.serial is not None
    serials = iter([first.serial, first.serial, 0x1234])
    monkeypatch.setattr(timestamping, "_new_serial", lambda: next(serials))
    second = pki.tsa.respond(make_request(DATA))
    assert second.granted and second.serial == 0x1234
    _, info = token_parts(second.der)
    assert info["serial_number"].native == 0x1234
    assert len(records(pki)) == 2


def test_concurrent_requests_get_distinct_serials(pki: TrustService) -> None:
    results: list[TimeStampResult] = []
    lock = threading.Lock()

    def stamp() -> None:
        for _ in range(5):
            result = pki.tsa.respond(make_request(DATA))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=stamp) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 30 and all(r.granted for r in results)
    assert len({r.serial for r in results}) == 30
    assert len(records(pki)) == 30


# --- rejections ----------------------------------------------------------------------------------


class AnyTimeStampResp(core.Sequence):
    """TimeStampResp with the token OPTIONAL, as in RFC 3161 (asn1crypto makes it mandatory)."""

    _fields = [  # noqa: RUF012
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _fail_info(der: bytes) -> set[str]:
    response = AnyTimeStampResp.load(der)
    assert isinstance(response["time_stamp_token"], core.Void)
    status = response["status"]
    assert status["status"].native == "rejection"
    return set(status["fail_info"].native)


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30\x03\x02\x01", b"garbage, not DER", b"\x30\x84\x7f\xff\xff\xff", b"\x30" * 20_000],
    ids=["empty", "truncated", "text", "huge-length", "oversized"],
)
def test_garbage_gets_a_bad_data_format_rejection(pki: TrustService, body: bytes) -> None:
    result = pki.tsa.respond(body)
    assert not result.granted and result.fail_info == "bad_data_format"
    assert _fail_info(result.der) == {"bad_data_format"}
    assert records(pki) == []


def test_truncated_real_request_gets_a_bad_data_format_rejection(pki: TrustService) -> None:
    query = make_request(DATA)
    for cut in (1, len(query) // 2, len(query) - 1):
        assert _fail_info(pki.tsa.respond(query[:cut]).der) == {"bad_data_format"}


def test_sha1_imprint_gets_bad_alg(pki: TrustService) -> None:
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": hashlib.sha1(DATA).digest(),
            },
        }
    ).dump()
    assert _fail_info(pki.tsa.respond(query).der) == {"bad_alg"}


def test_another_policy_gets_unaccepted_policy(pki: TrustService) -> None:
    fields = tsp.TimeStampReq.load(make_request(DATA)).native
    fields["req_policy"] = "1.2.3.4"
    query = tsp.TimeStampReq(fields).dump()
    assert _fail_info(pki.tsa.respond(query).der) == {"unaccepted_policy"}
    fields["req_policy"] = pki.settings.tsa_policy_oid
    assert pki.tsa.respond(tsp.TimeStampReq(fields).dump()).granted


def test_no_token_leaves_without_its_register_row(pki: TrustService, monkeypatch: Any) -> None:
    pki.tsa.respond(make_request(DATA))  # warm up: the TSA is loaded

    def broken() -> Any:
        raise OperationalError("INSERT", {}, Exception("database is gone"))

    monkeypatch.setattr(pki.tsa, "_sessions", broken)
    result = pki.tsa.respond(make_request(DATA))
    assert not result.granted and _fail_info(result.der) == {"system_failure"}


def test_a_database_failure_loading_the_tsa_is_a_system_failure(pki: TrustService, monkeypatch: Any) -> None:
    def broken() -> Any:
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(pki.tsa, "_read_sessions", broken)
    result = pki.tsa.respond(make_request(DATA))
    assert not result.granted and _fail_info(result.der) == {"system_failure"}


def test_a_tsa_that_does_not_exist_is_not_found(pki: TrustService) -> None:
    with pytest.raises(NotFound, match="no time-stamp authority"):
        pki.tsa.respond(make_request(DATA), hierarchy="dsa")
    with pytest.raises(NotFound, match="rsa"):
        pki.tsa.respond(make_request(DATA), hierarchy="rsa")  # hierarchy not made


def test_configured_policy_and_sub_second_accuracy(tmp_path: Any, db_url: str, clock: FakeClock) -> None:
    settings = Settings.build(
        tmp_path / "home", database_url=db_url, tsa_policy_oid="1.2.156.999.1", tsa_accuracy_ms=250
    )
    TrustService.init(settings, pki=["sm2"])
    service = TrustService.from_settings(settings, clock=clock)
    try:
        result = service.tsa.respond(make_request(DATA))
        _, info = token_parts(result.der)
        assert info["policy"].dotted == "1.2.156.999.1"
        assert info["accuracy"].native == {"seconds": None, "millis": 250, "micros": None}
        millis = clock.now.microsecond // 1000 * 1000
        assert info["gen_time"].native == clock.now.replace(microsecond=millis)
        assert isinstance(info["gen_time"], core.GeneralizedTime)
        assert result.gen_time == info["gen_time"].native
        assert timedelta(0) <= clock.now - info["gen_time"].native < timedelta(milliseconds=1)
    finally:
        service.close()


# --- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(("hierarchy", "digest"), [("sm2", "sm3"), ("ecdsa", "sha256")])
def test_tsa_stamp_command_writes_a_granted_reply(
    pki: TrustService, run_cli: Any, tmp_path: Any, hierarchy: str, digest: str
) -> None:
    data = tmp_path / "licence.pdf"
    data.write_bytes(DATA)
    out, query = tmp_path / "reply.tsr", tmp_path / "query.tsq"
    result = run_cli("tsa", "stamp", str(data), "--out", str(out), "--hierarchy", hierarchy,
                     "--query-out", str(query))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("granted: serial ")
    info = check_token(out.read_bytes(), pki.tsa.certificates(hierarchy)[0], DATA)
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == digest
    assert tsp.TimeStampReq.load(query.read_bytes())["nonce"].native == info["nonce"].native
    assert format(info["serial_number"].native, "x") in result.stdout
