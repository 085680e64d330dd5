"""Revocation in the verifier beyond the signer's live status: the TSA certificate's status (revoked before
the token's time: the token is ignored; after: fine; unknown: kept with a warning, strict INDETERMINATE), the
revocation data a B-LT PDF carries (used when the issuer's status service cannot be asked, verified like a
fetched answer), and pyHanko's validation tracebacks kept out of the log.

The clock stands near the real time (pyHanko reads the system clock while sealing and validating). Province
A is served in process (its Flask test client behind a fake fetcher), as in tests/test_verify_licence.py.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import crl, ocsp, x509
from flask.testing import FlaskClient
from pyhanko.sign.validation.dss import DocumentSecurityStore

from tests.conftest import FakeClock
from tests.test_pdf_sealing import embedded, embedded_revocation_data, make_pdf
from tests.test_sealing_service import BOX, ORG, ORG_NAME, api_key, make_setup
from tests.test_trustlist import ACTOR
from tests.test_trustlist_two_provinces import A_BASE, province_a  # noqa: F401 - fixture
from tests.test_verify_licence import b_with_a, fetcher_for  # noqa: F401 - fixture
from trustsvc.api import create_app
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm, signed_digest_algorithm
from trustsvc.keys.signer import software_signer
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.seal import ses
from trustsvc.service import TrustService
from trustsvc.verify.engine import VALIDATION_LOGGERS, VerificationEngine, quiet_validation_logs
from trustsvc.verify.result import CheckResult, CheckStatus, SignatureResult, SubIndication
from trustsvc.verify.status import (
    CertificateStatusAnswer,
    EmbeddedRevocation,
    Fetcher,
    LocalStatusResolver,
    RemoteStatusResolver,
    SealStatusAnswer,
    StatusUnavailable,
)


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock at the real time (see the module docstring)."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def check(signature: SignatureResult, name: str) -> CheckResult:
    found = signature.check(name)
    assert found is not None, [c.name for c in signature.checks]
    return found


def tsa_of(service: TrustService) -> tuple[str, x509.Certificate]:
    """Return the name of the CA that issued our SM2 TSA certificate, and the certificate."""
    certificate, issuer = service.tsa.certificates("sm2")
    ca = next(c for c in service.ca.cas() if c.certificate_der == issuer.dump())
    return ca.name, certificate


# --- 1. the TSA certificate's status --------------------------------------------------------------------


def test_tsa_revoked_after_the_token_leaves_the_time_stamp_in_force(
    service: TrustService, clock: FakeClock
) -> None:
    setup = make_setup(service)
    sealed = setup.seal(make_pdf(), level="B-T")
    stamped_at = clock.now
    clock.advance(minutes=2)
    ca_name, tsa = tsa_of(service)
    service.ca.revoke(ca_name, tsa.serial_number, "keyCompromise", actor=ACTOR)

    result = service.verifier.verify(sealed.data)
    assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
    (sig,) = result.signatures
    assert sig.timestamp_time == stamped_at and sig.signing_time == stamped_at
    stamp = check(sig, "timestamp")
    assert stamp.status is CheckStatus.PASSED
    assert "revoked at" in stamp.detail and "after the token's time (database)" in stamp.detail
    assert not any("time-stamp ignored" in w for w in sig.warnings)


def test_tsa_revoked_before_the_token_makes_the_token_prove_nothing(
    service: TrustService, clock: FakeClock
) -> None:
    setup = make_setup(service)
    clock.advance(minutes=2)
    sealed = setup.seal(make_pdf(), level="B-T")
    stamped_at = clock.now
    clock.advance(minutes=1)
    ca_name, tsa = tsa_of(service)
    # the compromise is found later but dated before the token: the token is worthless
    service.ca.revoke(
        ca_name,
        tsa.serial_number,
        "keyCompromise",
        invalidity_date=stamped_at - timedelta(minutes=1),
        actor=ACTOR,
    )

    for lenient in (True, False):
        result = service.verifier.verify(sealed.data, lenient=lenient)
        assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
        (sig,) = result.signatures
        assert sig.timestamp_time is None  # the claimed signing time stands
        assert sig.signing_time == stamped_at
        stamp = check(sig, "timestamp")
        assert stamp.status is CheckStatus.SKIPPED
        assert "ignored: the TSA certificate" in stamp.detail and "before the token's time" in stamp.detail
        assert any(w.startswith("time-stamp ignored: the TSA certificate") for w in sig.warnings)


class _TsaUnknownHere:
    """Our database for everything but the TSA certificate: the TSA is someone else's, asked over HTTP."""

    def __init__(self, local: LocalStatusResolver, tsa: x509.Certificate) -> None:
        self._local = local
        self._tsa = tsa.dump()

    def certificate_status(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> CertificateStatusAnswer | None:
        return (
            None if certificate.dump() == self._tsa else self._local.certificate_status(certificate, issuer)
        )

    def seal_status(self, seal: ses.Seal) -> SealStatusAnswer | None:
        return self._local.seal_status(seal)


def refuse(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
    raise StatusUnavailable(f"{url}: connection refused")


def test_tsa_status_unavailable_keeps_the_token_with_a_warning_strict_makes_it_try_later(
    service: TrustService, clock: FakeClock
) -> None:
    setup = make_setup(service)
    sealed = setup.seal(make_pdf(), level="B-T")
    _, tsa = tsa_of(service)
    engine = VerificationEngine(
        lambda: service.trust.store(),
        _TsaUnknownHere(LocalStatusResolver(service.ca, service.seals), tsa),
        service.clock,
        fetcher=refuse,
        policy=service.verification_policy(),
    )

    lenient = engine.verify(sealed.data)
    assert (lenient.report, lenient.sub_indication) == ("VALID", None), lenient.to_json()
    (sig,) = lenient.signatures
    assert sig.timestamp_time == clock.now
    assert check(sig, "timestamp").status is CheckStatus.PASSED, check(sig, "timestamp")
    assert any(
        "the TSA certificate's status cannot be checked" in w and "connection refused" in w
        for w in sig.warnings
    ), (sig.warnings, check(sig, "timestamp"))

    strict = engine.verify(sealed.data, lenient=False)
    assert (strict.report, strict.sub_indication) == ("INDETERMINATE", SubIndication.TRY_LATER)
    (sig,) = strict.signatures
    unknown = check(sig, "tsa_revocation")
    assert (unknown.status, unknown.sub_indication) == (CheckStatus.INDETERMINATE, SubIndication.TRY_LATER)
    assert {c.name for c in sig.checks if c.status is not CheckStatus.PASSED} == {"tsa_revocation"}


# --- 2. revocation data a B-LT PDF carries -----------------------------------------------------------------


def status_down(fetch: Fetcher) -> Fetcher:
    """A's OCSP responder and CRLs unreachable; its other services (seal status) answer."""

    def fetching(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        if "/ocsp" in url or "/crl" in url:
            raise StatusUnavailable(f"{url}: connection refused")
        return fetch(url, body, content_type)

    return fetching


def a_seals(a: TrustService) -> Callable[[bytes, str], bytes]:
    _, principal = api_key(a, "business-system")
    made = a.seals.create_seal(ORG, ORG_NAME, "contract", actor=ACTOR, authorised=[principal])

    def seal(pdf: bytes, level: str) -> bytes:
        return a.sealer.seal_document(
            pdf, es_id=made.seal.es_id, principal=principal, placement=BOX, level=level
        ).data

    return seal


def a_client(a: TrustService) -> FlaskClient:
    return create_app(service=a).test_client()


def test_b_lt_from_a_verifies_with_the_embedded_data_when_a_status_service_is_down(
    province_a: TrustService,  # noqa: F811
    b_with_a: tuple[TrustService, list[bool]],  # noqa: F811
) -> None:
    b, up = b_with_a
    seal = a_seals(province_a)
    b_lt, b_t = seal(make_pdf(), "B-LT"), seal(make_pdf(), "B-T")

    live = b.verifier.verify(b_lt)  # A up: the live answer is preferred
    assert live.report == "VALID", live.to_json()
    assert f"(ocsp:{A_BASE}/ocsp)" in check(live.signatures[0], "signer_revocation").detail
    assert "embedded" not in live.trust_sources

    b.fetcher = status_down(fetcher_for(a_client(province_a), up))
    result = b.verifier.verify(b_lt)
    assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
    (sig,) = result.signatures
    revocation = check(sig, "signer_revocation")
    assert revocation.status is CheckStatus.PASSED
    assert "good (embedded:ocsp)" in revocation.detail and "ocsp:http" not in revocation.detail
    assert "embedded" in result.trust_sources
    assert any("the revocation data embedded in the document was used" in w for w in sig.warnings)
    assert "TSA status" in check(sig, "timestamp").detail and "embedded" in check(sig, "timestamp").detail

    bare = b.verifier.verify(b_t)  # no data carried: nothing to fall back on
    assert (bare.report, bare.sub_indication) == ("INDETERMINATE", SubIndication.TRY_LATER), bare.to_json()
    revocation = check(bare.signatures[0], "signer_revocation")
    assert revocation.sub_indication is SubIndication.TRY_LATER and "connection refused" in revocation.detail
    assert "embedded" not in revocation.detail

    # A entirely offline: the certificates still pass on the embedded data; the seal's status has no
    # embedded form, so it alone is TRY_LATER
    up[0] = False
    b.fetcher = fetcher_for(a_client(province_a), up)
    offline = b.verifier.verify(b_lt)
    assert (offline.report, offline.sub_indication) == ("INDETERMINATE", SubIndication.TRY_LATER)
    (sig,) = offline.signatures
    assert {c.name for c in sig.checks if c.status is not CheckStatus.PASSED} == {"seal_status"}
    assert "embedded:ocsp" in check(sig, "signer_revocation").detail


def with_dss(data: bytes, ocsps: list[bytes], crls: list[bytes]) -> bytes:
    """Return ``data`` with a DSS carrying ``ocsps`` and ``crls`` (an incremental update, as LTV tools do)."""
    out = io.BytesIO(data)
    DocumentSecurityStore.add_dss(
        out,
        None,
        ocsps=[ocsp.OCSPResponse.load(o) for o in ocsps],
        crls=[crl.CertificateList.load(c) for c in crls],
    )
    return out.getvalue()


def resigned(response_der: bytes, *, rogue_responder: bool) -> bytes:
    """Return the OCSP response with its content unchanged but signed (SM2, as A signs) by a key nobody
    authorised.

    ``rogue_responder`` False: the genuine responder certificate stays attached (the key is not its key);
    True: a copy of that certificate naming another subject and holding the new key, with id-kp-OCSPSigning
    and the issuing CA as its issuer — a delegation the CA never signed (signed by the new key itself).
    """
    signer = software_signer(SM2PrivateKey.generate())
    algorithm = signed_digest_algorithm(SignatureAlgorithm.SM2_SM3)
    basic = ocsp.OCSPResponse.load(response_der).basic_ocsp_response
    tbs = ocsp.ResponseData.load(basic["tbs_response_data"].dump())
    certs = [x509.Certificate.load(c.dump()) for c in basic["certs"]]
    if rogue_responder:
        (genuine,) = certs
        cert_tbs = x509.TbsCertificate.load(genuine["tbs_certificate"].dump())
        cert_tbs["subject"] = x509.Name.build({"common_name": "OCSP responder", "country_name": "CN"})
        cert_tbs["subject_public_key_info"] = signer.public_key_info
        cert_tbs["signature"] = algorithm
        rogue = x509.Certificate(
            {
                "tbs_certificate": cert_tbs,
                "signature_algorithm": algorithm,
                "signature_value": signer.sign(cert_tbs.dump()),
            }
        )
        assert rogue.issuer == genuine.issuer and "ocsp_signing" in rogue.extended_key_usage_value.native
        certs = [rogue]
        tbs["responder_id"] = ocsp.ResponderId(name="by_name", value=rogue.subject)
    forged = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": algorithm,
            "signature": signer.sign(tbs.dump()),
            "certs": certs,
        }
    )
    return ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": forged},
        }
    ).dump()


@pytest.mark.parametrize("rogue", [False, True], ids=["genuine-responder-wrong-key", "undelegated-responder"])
def test_embedded_ocsp_signed_by_an_unauthorised_key_is_not_used(
    province_a: TrustService,  # noqa: F811
    b_with_a: tuple[TrustService, list[bool]],  # noqa: F811
    rogue: bool,
) -> None:
    b, up = b_with_a
    seal = a_seals(province_a)
    b_lt, b_t = seal(make_pdf(), "B-LT"), seal(make_pdf(), "B-T")
    ocsps, crls = embedded_revocation_data(b_lt, KeyAlgorithm.SM2)
    genuine = [o.dump() for o in ocsps]
    crl_ders = [c.dump() for c in crls]
    b.fetcher = status_down(fetcher_for(a_client(province_a), up))

    # the control: the genuine responses, carried in the DSS of a B-T PDF, are used
    control = b.verifier.verify(with_dss(b_t, genuine, crl_ders))
    assert (control.report, control.sub_indication) == ("VALID", None), control.to_json()
    assert "good (embedded:ocsp)" in check(control.signatures[0], "signer_revocation").detail

    forged = [resigned(o, rogue_responder=rogue) for o in genuine]
    result = b.verifier.verify(with_dss(b_t, forged, crl_ders))
    assert (result.report, result.sub_indication) == ("INDETERMINATE", SubIndication.TRY_LATER), (
        result.to_json()
    )
    revocation = check(result.signatures[0], "signer_revocation")
    assert revocation.status is CheckStatus.INDETERMINATE
    refused = (
        "the OCSP response is signed neither by the issuer nor by its responder"
        if rogue
        else "SM2 signature does not verify"
    )
    assert f"embedded OCSP response 1: {refused}" in revocation.detail, revocation.detail
    assert "embedded" not in result.trust_sources


# --- 3. pyHanko's tracebacks -------------------------------------------------------------------------------


def test_verifying_an_untrusted_pdf_logs_no_library_traceback(
    service: TrustService,
    province_a: TrustService,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    untrusted = a_seals(province_a)(make_pdf(), "B-T")  # B trusts neither A's CAs nor its TSA
    service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)
    engine = service.verifier  # building the engine quiets the validation loggers

    def tracebacks() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]

    # the control: with the loggers as a fresh process has them, pyHanko logs its tracebacks
    for name in VALIDATION_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    with caplog.at_level(logging.DEBUG):
        result = engine.verify(untrusted)
    assert result.report == "INDETERMINATE"
    assert any(r.name.startswith(VALIDATION_LOGGERS) for r in tracebacks()), [r.name for r in caplog.records]

    caplog.clear()
    quiet_validation_logs()
    with caplog.at_level(logging.DEBUG):
        assert engine.verify(untrusted).report == "INDETERMINATE"
        response = create_app(service=service).test_client().post("/api/v1/verify", data=untrusted)
    assert response.status_code == 200 and response.json["indication"] == "INDETERMINATE"  # type: ignore[index]
    assert tracebacks() == []
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(VALIDATION_LOGGERS)
    ]


def test_embedded_data_counts_only_while_current_at_the_signing_time(
    province_a: TrustService,  # noqa: F811
) -> None:
    """The rule of docs/VERIFY-REPORT.md: a "good" carried answer counts when its nextUpdate is not before the
    (time-stamped) signing time; one that expired before it proves nothing about it."""
    b_lt = a_seals(province_a)(make_pdf(), "B-LT")
    ocsps, crls = embedded_revocation_data(b_lt, KeyAlgorithm.SM2)
    carried = EmbeddedRevocation(tuple(o.dump() for o in ocsps), tuple(c.dump() for c in crls))
    signer = embedded(b_lt).signer_cert
    issuer = x509.Certificate.load(
        next(c.certificate_der for c in province_a.ca.cas() if c.name == "sm2-issuing")
    )
    now = province_a.clock()
    resolver = RemoteStatusResolver(refuse, lambda: now)

    answer = resolver.embedded_certificate_status(signer, issuer, carried, now)
    assert (answer.state, answer.source) == ("good", "embedded:ocsp")
    with pytest.raises(StatusUnavailable, match="no longer current at the signing time"):
        resolver.embedded_certificate_status(signer, issuer, carried, now + timedelta(days=30))
    with pytest.raises(StatusUnavailable, match="issued in the future"):
        RemoteStatusResolver(refuse, lambda: now - timedelta(days=1)).embedded_certificate_status(
            signer, issuer, carried, now - timedelta(days=1)
        )
    with pytest.raises(StatusUnavailable, match="carries no revocation data"):
        resolver.embedded_certificate_status(signer, issuer, EmbeddedRevocation((), carried.crls), now)
