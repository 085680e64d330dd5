"""Which status pointers the embedded PKI writes: no OCSP pointer on issuing-CA certificates, one on leaves.

Our OCSP responder is delegated by the issuing CAs and answers ``unauthorized`` about an issuing CA's own
certificate, so that certificate must send relying parties to the root's CRL instead.
"""

from __future__ import annotations

import pytest
from asn1crypto import ocsp, x509

from tests.test_ocsp_service import ocsp_request
from tests.tools import OpenSSL
from trustsvc.ca.models import ServiceRole
from trustsvc.ca.ocsp import OcspErrorStatus, cert_id_for
from trustsvc.service import TrustService

HIERARCHIES = pytest.mark.parametrize("hierarchy,algorithm", [("sm2", "sm2"), ("ecdsa", "ecdsa-p256")])


def _aia(certificate: x509.Certificate) -> dict[str, str]:
    return {
        a["access_method"].native: a["access_location"].native
        for a in certificate.authority_information_access_value or ()
    }


def _crl_dps(certificate: x509.Certificate) -> list[str]:
    points = certificate.crl_distribution_points
    return [url for point in points for url in point["distribution_point"].native]


@HIERARCHIES
def test_issuing_ca_certificate_has_no_ocsp_pointer_but_keeps_root_crl_and_ca_issuers(
    service: TrustService, hierarchy: str, algorithm: str
) -> None:
    service.ca.init_pki(algorithm)
    base = service.settings.public_base_url.rstrip("/")
    issuing = service.ca.ca(f"{hierarchy}-issuing").certificate

    assert "ocsp" not in _aia(issuing)
    assert issuing.ocsp_urls == []
    assert _aia(issuing) == {"ca_issuers": f"{base}/ca/{hierarchy}-root.crt"}
    assert _crl_dps(issuing) == [f"{base}/crl/{hierarchy}-root.crl"]


@HIERARCHIES
def test_leaves_of_the_issuing_ca_keep_their_ocsp_pointer(
    service: TrustService, hierarchy: str, algorithm: str
) -> None:
    service.ca.init_pki(algorithm)
    base = service.settings.public_base_url.rstrip("/")
    for role in (ServiceRole.SEAL_MAKER, ServiceRole.TSA):
        leaf = x509.Certificate.load(service.ca.service_certificate(role, f"{hierarchy}-issuing").der)
        assert _aia(leaf) == {"ocsp": f"{base}/ocsp", "ca_issuers": f"{base}/ca/{hierarchy}-issuing.crt"}
        assert _crl_dps(leaf) == [f"{base}/crl/{hierarchy}-issuing.crl"]
    responder = x509.Certificate.load(
        service.ca.service_certificate(ServiceRole.OCSP_RESPONDER, f"{hierarchy}-issuing").der
    )
    assert "ocsp" not in _aia(responder)  # id-pkix-ocsp-nocheck: never asked about


def test_the_pointer_left_out_is_the_one_our_responder_refuses(service: TrustService) -> None:
    """Our /ocsp refuses (``unauthorized``) to speak of an issuing CA and answers for its leaves."""
    service.ca.init_pki("ecdsa-p256")
    root = service.ca.ca("ecdsa-root").certificate
    issuing = service.ca.ca("ecdsa-issuing").certificate
    leaf = x509.Certificate.load(service.ca.service_certificate(ServiceRole.TSA, "ecdsa-issuing").der)

    about_ca = service.ocsp.respond(ocsp_request(cert_id_for(issuing, root).der))
    assert about_ca.status == OcspErrorStatus.UNAUTHORIZED.value
    assert ocsp.OCSPResponse.load(about_ca.der)["response_status"].native == "unauthorized"
    about_leaf = service.ocsp.respond(ocsp_request(cert_id_for(leaf, issuing).der))
    assert about_leaf.status == "successful"
    assert ocsp.OCSPResponse.load(about_leaf.der)["response_status"].native == "successful"


def test_openssl_reads_no_ocsp_uri_from_the_issuing_ca_and_one_from_a_leaf(
    service: TrustService, openssl: OpenSSL
) -> None:
    service.ca.init_pki("ecdsa-p256")
    base = service.settings.public_base_url.rstrip("/")
    issuing = openssl.write("issuing.der", service.ca.ca("ecdsa-issuing").certificate_der)
    leaf = openssl.write("leaf.der", service.ca.service_certificate(ServiceRole.TSA, "ecdsa-issuing").der)

    assert openssl.ok("x509", "-inform", "DER", "-in", issuing, "-noout", "-ocsp_uri").stdout.strip() == ""
    text = openssl.ok("x509", "-inform", "DER", "-in", issuing, "-noout", "-text").stdout
    assert "OCSP - URI" not in text
    assert f"{base}/crl/ecdsa-root.crl" in text and f"CA Issuers - URI:{base}/ca/ecdsa-root.crt" in text
    assert openssl.ok("x509", "-inform", "DER", "-in", leaf, "-noout", "-ocsp_uri").stdout.strip() == (
        f"{base}/ocsp"
    )
