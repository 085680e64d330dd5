"""Two provinces, in process: B verifies a document A sealed, asking A's OCSP responder and seal-status
endpoint (served by A's Flask test client) after importing A's trust list with a pinned signer.

The live variant, with two ``trustsvc serve`` subprocesses on loopback ports, is tests/test_two_provinces.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.test_ofd_signing import document
from tests.test_sealing_service import ORG, ORG_NAME, api_key
from tests.test_trustlist import ACTOR, make_pki
from tests.test_trustlist_two_provinces import A_BASE, _serve_over, province_a  # noqa: F401 - fixture
from tests.test_verify_engine import BOX
from trustsvc.api import create_app
from trustsvc.service import TrustService
from trustsvc.verify.engine import VerificationEngine, VerificationPolicy
from trustsvc.verify.result import SubIndication
from trustsvc.verify.status import LocalStatusResolver, StatusUnavailable
from trustsvc.verify.trustlist import Pin


def fetcher_for(client: FlaskClient, up: list[bool]):  # type: ignore[no-untyped-def]
    def fetch(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        parts = urlsplit(url)
        if not up[0] or f"{parts.scheme}://{parts.netloc}" != A_BASE:
            raise StatusUnavailable(f"{url}: connection refused")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if body is None:
            response = client.get(path)
        else:
            response = client.post(path, data=body, content_type=content_type)
        if response.status_code != 200:
            raise StatusUnavailable(f"{url}: HTTP {response.status_code}")
        return bytes(response.data)

    return fetch


def engine_of(b: TrustService, fetch) -> VerificationEngine:  # type: ignore[no-untyped-def]
    return VerificationEngine(
        lambda: b.trust.store(),
        LocalStatusResolver(b.ca, b.seals),
        b.clock,
        fetcher=fetch,
        policy=VerificationPolicy(seal_making_oid=b.settings.seal_making_oid),
    )


def test_b_verifies_what_a_sealed_using_a_status_services(
    province_a: TrustService,  # noqa: F811
    service: TrustService,
    clock: FakeClock,
) -> None:
    b = make_pki(service)
    a_client = create_app(service=province_a).test_client()
    up = [True]

    _, principal = api_key(province_a, "business-system")
    seal = province_a.seals.create_seal(ORG, ORG_NAME, "contract", actor=ACTOR, authorised=[principal])
    es_id = seal.seal.es_id
    sealed = province_a.sealer.seal_document(
        document(1).ofd, es_id=es_id, principal=principal, placement=BOX, level="B-B"
    ).data
    suspended_seal = province_a.seals.create_seal(
        ORG, ORG_NAME, "finance", actor=ACTOR, authorised=[principal]
    )
    material = province_a.seals.signing_key_for(suspended_seal.seal.es_id, principal)

    # without A's list: no chain
    engine = engine_of(b, fetcher_for(a_client, up))
    first = engine.verify(sealed)
    assert (first.report, first.sub_indication) == ("INDETERMINATE", SubIndication.NO_CERTIFICATE_CHAIN_FOUND)

    b.trust.fetch = _serve_over(a_client, up)
    b.trust.import_url(
        "province-a",
        f"{A_BASE}/trust-list",
        pin=Pin.from_certificate(province_a.trust.signer_certificate()),
        actor=ACTOR,
    )

    result = engine.verify(sealed)
    assert (result.report, result.sub_indication) == ("VALID", None), result.to_json()
    (sig,) = result.signatures
    assert sig.check("signer_revocation").detail.endswith(f"(ocsp:{A_BASE}/ocsp)")  # type: ignore[union-attr]
    assert sig.check("seal_status").detail == f"active (seal-status:{A_BASE}/seals/{es_id}/status)"  # type: ignore[union-attr]
    assert "province-a" in result.trust_sources

    # A revokes the signer certificate after the signing: B says so in a warning (lenient policy)
    clock.advance(minutes=5)
    signer_serial = int(sig.signer_serial or "0", 16)
    province_a.ca.revoke("sm2-issuing", signer_serial, "keyCompromise", actor=ACTOR)
    engine = engine_of(b, fetcher_for(a_client, up))  # a fresh cache
    revoked = engine.verify(sealed)
    assert revoked.report == "VALID"
    assert any("revoked at" in w for w in revoked.signatures[0].warnings)
    assert revoked.signatures[0].check("signer_revocation").detail  # type: ignore[union-attr]

    # a seal A suspended before the signing: INVALID
    province_a.seals.suspend(suspended_seal.seal.es_id, "lost", actor=ACTOR)
    clock.advance(minutes=5)
    from trustsvc.ofd.signing import OfdPlacement, seal_ofd

    late = seal_ofd(
        document(1).ofd,
        seal_der=material.seal_der,
        signer_cert_der=material.certificate_der,
        signer=material.signer,
        placement=OfdPlacement.box(1, 20, 30, 40, 40),
        time_info=clock.now,
    )
    invalid = engine.verify(late)
    assert (invalid.report, invalid.sub_indication) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert {c.name for c in invalid.signatures[0].checks if c.status.value != "passed"} == {"seal_status"}

    # A is down: TRY_LATER, not a crash
    up[0] = False
    down = engine_of(b, fetcher_for(a_client, up)).verify(sealed)
    assert (down.report, down.sub_indication) == ("INDETERMINATE", SubIndication.TRY_LATER)
