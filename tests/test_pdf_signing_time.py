"""The time a PDF seal claims comes from the service clock, not from the system clock pyHanko would read.

The ``service`` fixture's clock stands at conftest's PINNED_TIME (2026-01-02 03:04:05.123456Z), far from the
real time, and the service's PKI, seals, OCSP answers and TSA tokens are made at that time. A sealed PDF's
``/M`` and (SM2, adbe.pkcs7) CMS signingTime must carry exactly that moment in UTC to the second — the moment
the audit record names — and our verification engine, which validates at the service clock, calls it VALID.
ECDSA seals are PAdES, which forbids the signingTime attribute: there ``/M`` is the claimed time.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.generic import parse_pdf_date
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.pki import NOW
from tests.test_pdf_sealing import _PKIS, ALGORITHMS, Pki, make_pdf, make_pki, seal, signed_attr
from tests.test_sealing_service import BOX, ORG, ORG_NAME, Setup, make_setup
from trustsvc.audit import AuditRecord
from trustsvc.ca.profiles import ProfileKind
from trustsvc.errors import InvalidInput
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.sealing import AUDIT_ACTION, SealedDocument
from trustsvc.service import TrustService
from trustsvc.verify.result import Indication

CST = timezone(timedelta(hours=8))


@pytest.fixture
def setup(service: TrustService, clock: FakeClock) -> Setup:
    # The point of these tests: the service clock is nowhere near the system clock pyHanko would read.
    assert abs(datetime.now(UTC) - clock.now) > timedelta(days=1)
    return make_setup(service)


@pytest.fixture(params=ALGORITHMS, ids=lambda a: a.value)
def pki(request: pytest.FixtureRequest) -> Pki:
    """tests/test_pdf_sealing.py's PKI (made at tests.pki.NOW), shared with it."""
    algorithm = KeyAlgorithm(request.param)
    if algorithm not in _PKIS:
        _PKIS[algorithm] = make_pki(algorithm)
    return _PKIS[algorithm]


def signature(data: bytes) -> EmbeddedPdfSignature:
    (sig,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    return sig


def claimed_m(sig: EmbeddedPdfSignature) -> datetime:
    """The signature dictionary's /M, as written (the raw string, so a wrong zone would show)."""
    return parse_pdf_date(str(sig.sig_object["/M"]))


def cms_signing_times(data: bytes) -> list[datetime]:
    """Every signingTime attribute value of the CMS in /Contents, parsed afresh with asn1crypto."""
    content = cms.ContentInfo.load(bytes(signature(data).sig_object["/Contents"]))
    (signer_info,) = content["content"]["signer_infos"]
    return [
        value.native
        for attr in signer_info["signed_attrs"]
        if attr["type"].native == "signing_time"
        for value in attr["values"]
    ]


def audited_time(setup: Setup, sealed: SealedDocument) -> tuple[datetime, str]:
    """The time of the seal.apply record of ``sealed`` and the signed_at its details name."""
    with setup.service.session(read_only=True) as session, session.begin():
        records = (
            session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_ACTION)).scalars().all()
        )
        (record,) = [r for r in records if json.loads(r.details_json)["output_sm3"] == sealed.sm3]
        return record.time, json.loads(record.details_json)["signed_at"]


def ecdsa_es_id(setup: Setup) -> str:
    """A seal whose signer key is from the service's ECDSA hierarchy (made at the service clock)."""
    service = setup.service
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    subject = service.ca.subject_info({"common_name": "财务专用章", "organization": ORG_NAME, "uscc": ORG})
    issued, _ = service.ca.issue_for_new_key(
        "ecdsa-issuing", ProfileKind.SEAL_SIGNER, subject, KeyAlgorithm.ECDSA_P256, actor="test"
    )
    made = service.seals.create_seal(
        ORG, ORG_NAME, "finance", actor="test", signer_cert=issued.der, authorised=[setup.principal]
    )
    return made.seal.es_id


# --- through the service: /M, signingTime, audit and verdict agree with the clock ---------------------


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_sm2_pdf_seal_claims_the_service_clock_time(setup: Setup, clock: FakeClock, level: str) -> None:
    pinned = clock.now.replace(microsecond=0)
    sealed = setup.seal(make_pdf(), BOX, level=level)

    assert sealed.signed_at == pinned
    sig = signature(sealed.data)
    assert sig.sig_object["/SubFilter"] == "/adbe.pkcs7.detached"
    assert str(sig.sig_object["/M"]) == "D:20260102030405Z"
    assert claimed_m(sig) == pinned
    assert cms_signing_times(sealed.data) == [pinned]
    assert signed_attr(sig.signer_info, "signing_time")[0].native == pinned  # as pyHanko reads it
    assert audited_time(setup, sealed) == (clock.now, "2026-01-02T03:04:05Z")

    result = setup.service.verifier.verify(sealed.data)
    assert (result.report, result.verified_at) == ("VALID", clock.now)
    (verdict,) = result.signatures
    assert verdict.indication is Indication.TOTAL_PASSED
    if level == "B-B":
        assert (verdict.signing_time, verdict.timestamp_time) == (pinned, None)
    else:  # the TSA token (service clock) proves the time; to the second it is the claimed one
        assert verdict.timestamp_time is not None
        assert verdict.signing_time == verdict.timestamp_time
        assert verdict.timestamp_time.replace(microsecond=0) == pinned


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_ecdsa_pades_seal_claims_the_service_clock_time_in_m(
    setup: Setup, clock: FakeClock, level: str
) -> None:
    pinned = clock.now.replace(microsecond=0)
    es_id = ecdsa_es_id(setup)
    sealed = setup.seal(make_pdf(), BOX, level=level, es_id=es_id)

    sig = signature(sealed.data)
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert claimed_m(sig) == pinned == sealed.signed_at
    assert cms_signing_times(sealed.data) == []  # PAdES forbids the attribute; /M is the claim
    assert audited_time(setup, sealed) == (clock.now, "2026-01-02T03:04:05Z")

    result = setup.service.verifier.verify(sealed.data)
    assert (result.report, result.verified_at) == ("VALID", clock.now)
    (verdict,) = result.signatures
    if level == "B-B":
        assert verdict.signing_time == pinned  # pyHanko's signer-reported time, read from /M
    else:
        assert verdict.timestamp_time is not None
        assert verdict.timestamp_time.replace(microsecond=0) == pinned


def test_a_later_clock_gives_a_later_claimed_time(setup: Setup, clock: FakeClock) -> None:
    first = setup.seal(make_pdf(), BOX, level="B-B")
    clock.advance(hours=3, minutes=7)
    second = setup.seal(make_pdf(), BOX, level="B-B")
    assert claimed_m(signature(second.data)) - claimed_m(signature(first.data)) == timedelta(
        hours=3, minutes=7
    )
    assert cms_signing_times(second.data) == [clock.now.replace(microsecond=0)]


def test_a_clock_ahead_of_the_system_clock_seals_and_verifies(
    service: TrustService, clock: FakeClock
) -> None:
    """Certificates, seal and TSA token made a year ahead are not yet valid by the system clock: neither
    sealing nor our verification may look at it."""
    clock.now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    setup = make_setup(service)
    sealed = setup.seal(make_pdf(), BOX, level="B-T")
    assert claimed_m(signature(sealed.data)) == clock.now == sealed.signed_at
    assert cms_signing_times(sealed.data) == [clock.now]
    result = service.verifier.verify(sealed.data)
    assert (result.report, result.verified_at) == ("VALID", clock.now)
    assert result.signatures[0].timestamp_time == clock.now


# --- seal_pdf itself ---------------------------------------------------------------------------------


def test_seal_pdf_writes_the_given_time_in_utc_to_the_second(pki: Pki) -> None:
    given = (NOW + timedelta(days=3, microseconds=654321)).astimezone(CST)
    expected = (NOW + timedelta(days=3)).astimezone(UTC).replace(microsecond=0)
    data = seal(pki, signing_time=given)

    sig = signature(data)
    assert str(sig.sig_object["/M"]).endswith("Z")
    assert claimed_m(sig) == expected
    if pki.algorithm is KeyAlgorithm.SM2:
        assert cms_signing_times(data) == [expected]
    else:
        assert cms_signing_times(data) == []


def test_seal_pdf_without_a_time_keeps_the_system_clock(pki: Pki) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    data = seal(pki)
    after = datetime.now(UTC)
    claimed = claimed_m(signature(data))
    assert before <= claimed <= after
    assert cms_signing_times(data) == ([claimed] if pki.algorithm is KeyAlgorithm.SM2 else [])


def test_seal_pdf_checks_the_seal_at_the_signing_time(pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="not at the signing time"):
        seal(pki, signing_time=NOW - timedelta(days=1))  # the seal is valid from NOW


@pytest.mark.parametrize("bad", [datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"])
def test_seal_pdf_refuses_a_naive_or_non_datetime_time(pki: Pki, bad: object) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        seal(pki, signing_time=bad)
