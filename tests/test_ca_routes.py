"""The CA over HTTP: public CA certificates and CRLs with cache validators, issuance and status changes."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from asn1crypto import crl, pem, x509
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.pki import cryptography_csr, csr_from_signer, sm2_signer
from trustsvc.auth import create_api_key
from trustsvc.errors import PROBLEM_BASE
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


def _token(service: TrustService, *roles: str) -> dict[str, str]:
    with service.session() as session, session.begin():
        _, token = create_api_key(session, "test", list(roles))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def operator(pki: TrustService) -> dict[str, str]:
    return _token(pki, "ca-operator")


@pytest.fixture(scope="module")
def ecdsa_csr_pem() -> str:
    der = cryptography_csr(ec.generate_private_key(ec.SECP256R1()))
    return pem.armor("CERTIFICATE REQUEST", der).decode("ascii")


def _issue(client: FlaskClient, headers: dict[str, str], csr: str, **extra: object) -> dict[str, object]:
    body = {"ca": "ecdsa-issuing", "profile": "tls-client", "csr": csr, **extra}
    response = client.post("/api/v1/certificates", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    data: dict[str, object] = response.get_json()
    return data


def _problem(response: object, status: int, problem: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM_JSON  # type: ignore[attr-defined]
    assert response.get_json()["type"] == PROBLEM_BASE + problem  # type: ignore[attr-defined]


# --- issuance ------------------------------------------------------------------------------------


def test_issue_from_csr_answers_201_with_pem_serial_and_location(
    client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str, pki: TrustService
) -> None:
    response = client.post(
        "/api/v1/certificates",
        json={"ca": "ecdsa-issuing", "profile": "tls-client", "csr": ecdsa_csr_pem},
        headers=operator,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "good"
    assert body["profile"] == "tls-client"
    assert body["ca"] == "ecdsa-issuing"
    _, _, der = pem.unarmor(body["certificate"].encode())
    certificate = x509.Certificate.load(der)
    assert format(certificate.serial_number, "x") == body["serial"]
    assert response.headers["Location"] == f"/api/v1/certificates/ecdsa-issuing/{body['serial']}"
    assert pki.ca.get("ecdsa-issuing", certificate.serial_number).der == der

    fetched = client.get(response.headers["Location"], headers=operator)
    assert fetched.status_code == 200
    assert fetched.get_json() == body


def test_sm2_csr_with_subject_overrides(client: FlaskClient, operator: dict[str, str]) -> None:
    csr = pem.armor("CERTIFICATE REQUEST", csr_from_signer(sm2_signer())).decode()
    body = {
        "ca": "sm2-issuing",
        "profile": "seal-signer",
        "csr": csr,
        "subject": {"uscc": "91110000600037341L", "common_name": "行政审批专用章"},
    }
    response = client.post("/api/v1/certificates", json=body, headers=operator)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (
        "organizationIdentifier=NTRCN-91110000600037341L, CN=行政审批专用章" in response.get_json()["subject"]
    )


@pytest.mark.parametrize(
    "csr",
    [
        "garbage",
        "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!\n-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    ],
    ids=["garbage", "bad-pem", "wrong-label"],
)
def test_garbage_csr_is_a_400_problem(client: FlaskClient, operator: dict[str, str], csr: str) -> None:
    response = client.post(
        "/api/v1/certificates",
        json={"ca": "ecdsa-issuing", "profile": "tls-client", "csr": csr},
        headers=operator,
    )
    _problem(response, 400, "malformed-input")


def test_truncated_csr_is_a_400_problem(
    client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str
) -> None:
    _, _, der = pem.unarmor(ecdsa_csr_pem.encode())
    for length in (3, len(der) // 2, len(der) - 1):
        truncated = pem.armor("CERTIFICATE REQUEST", der[:length]).decode()
        response = client.post(
            "/api/v1/certificates",
            json={"ca": "ecdsa-issuing", "profile": "tls-client", "csr": truncated},
            headers=operator,
        )
        _problem(response, 400, "malformed-input")
    # a PEM block cut in the middle of its base64
    cut = ecdsa_csr_pem[: len(ecdsa_csr_pem) // 2]
    response = client.post(
        "/api/v1/certificates",
        json={"ca": "ecdsa-issuing", "profile": "tls-client", "csr": cut},
        headers=operator,
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON


def test_failed_proof_of_possession_is_a_422_problem(client: FlaskClient, operator: dict[str, str]) -> None:
    csr = pem.armor("CERTIFICATE REQUEST", csr_from_signer(sm2_signer(), tamper=True)).decode()
    response = client.post(
        "/api/v1/certificates",
        json={"ca": "sm2-issuing", "profile": "tls-client", "csr": csr},
        headers=operator,
    )
    _problem(response, 422, "invalid-signature")
    assert "proof of possession" in response.get_json()["detail"]


def test_bad_requests_are_problems(client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str) -> None:
    _problem(client.post("/api/v1/certificates", data=b"x", headers=operator), 415, "unsupported-media-type")
    _problem(client.post("/api/v1/certificates", json=[1], headers=operator), 400, "invalid-input")
    _problem(
        client.post("/api/v1/certificates", json={"ca": "ecdsa-issuing"}, headers=operator),
        400,
        "invalid-input",
    )
    body = {"ca": "ecdsa-issuing", "profile": "root", "csr": ecdsa_csr_pem}
    _problem(client.post("/api/v1/certificates", json=body, headers=operator), 400, "invalid-input")
    body = {"ca": "nowhere", "profile": "tls-client", "csr": ecdsa_csr_pem}
    _problem(client.post("/api/v1/certificates", json=body, headers=operator), 404, "not-found")
    body = {"ca": "ecdsa-issuing", "profile": "tls-client", "csr": ecdsa_csr_pem, "subject": "CN=x"}
    _problem(client.post("/api/v1/certificates", json=body, headers=operator), 400, "invalid-input")


# --- authentication and roles --------------------------------------------------------------------


def test_unauthenticated_is_401_and_wrong_role_is_403(
    client: FlaskClient, pki: TrustService, ecdsa_csr_pem: str
) -> None:
    body = {"ca": "ecdsa-issuing", "profile": "tls-client", "csr": ecdsa_csr_pem}
    response = client.post("/api/v1/certificates", json=body)
    _problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _problem(
        client.post("/api/v1/certificates", json=body, headers={"X-API-Key": "tsk_nope"}), 401, "unauthorized"
    )
    clerk = _token(pki, "clerk")
    _problem(client.post("/api/v1/certificates", json=body, headers=clerk), 403, "forbidden")
    _problem(client.get("/api/v1/certificates/ecdsa-issuing/abcd", headers=clerk), 403, "forbidden")
    _problem(client.post("/api/v1/certificates/ecdsa-issuing/abcd/revoke", headers=clerk), 403, "forbidden")
    auditor = _token(pki, "auditor")
    _problem(client.post("/api/v1/certificates", json=body, headers=auditor), 403, "forbidden")
    _problem(client.get("/api/v1/certificates/ecdsa-issuing/abcd", headers=auditor), 404, "not-found")
    admin = _token(pki, "admin")
    assert client.post("/api/v1/certificates", json=body, headers=admin).status_code == 201


# --- status changes ------------------------------------------------------------------------------


def test_revoke_hold_release_over_http(
    client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str
) -> None:
    serial = _issue(client, operator, ecdsa_csr_pem)["serial"]
    base = f"/api/v1/certificates/ecdsa-issuing/{serial}"

    held = client.post(f"{base}/hold", headers=operator)
    assert held.status_code == 200
    assert (held.get_json()["status"], held.get_json()["reason"]) == ("hold", "certificateHold")
    _problem(client.post(f"{base}/hold", headers=operator), 409, "invalid-state")

    released = client.post(f"{base}/release", headers=operator)
    assert released.get_json()["status"] == "good"
    assert released.get_json()["reason"] is None

    revoked = client.post(
        f"{base}/revoke",
        json={"reason": "keyCompromise", "invalidity_date": "2026-01-01T00:00:00Z"},
        headers=operator,
    )
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    body = revoked.get_json()
    assert (body["status"], body["reason"], body["invalidity_date"]) == (
        "revoked",
        "keyCompromise",
        "2026-01-01T00:00:00Z",
    )
    _problem(client.post(f"{base}/revoke", headers=operator), 409, "invalid-state")

    crl_der = client.get("/crl/ecdsa-issuing.crl").data
    listed = {
        r["user_certificate"].native
        for r in crl.CertificateList.load(crl_der)["tbs_cert_list"]["revoked_certificates"]
    }
    assert int(str(serial), 16) in listed


def test_revoke_without_a_body_is_unspecified_and_bad_values_are_400(
    client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str
) -> None:
    serial = _issue(client, operator, ecdsa_csr_pem)["serial"]
    base = f"/api/v1/certificates/ecdsa-issuing/{serial}"
    _problem(client.post(f"{base}/revoke", json={"reason": "stolen"}, headers=operator), 400, "invalid-input")
    _problem(
        client.post(f"{base}/revoke", json={"invalidity_date": "yesterday"}, headers=operator),
        400,
        "invalid-input",
    )
    _problem(
        client.post(f"{base}/revoke", json={"invalidity_date": "2026-01-01T00:00:00"}, headers=operator),
        400,
        "invalid-input",
    )
    response = client.post(f"{base}/revoke", headers=operator)
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["reason"]) == ("revoked", "unspecified")


def test_bad_or_unknown_serials(client: FlaskClient, operator: dict[str, str]) -> None:
    _problem(client.get("/api/v1/certificates/ecdsa-issuing/xyz", headers=operator), 400, "invalid-input")
    _problem(client.get("/api/v1/certificates/ecdsa-issuing/0", headers=operator), 400, "invalid-input")
    _problem(client.get("/api/v1/certificates/ecdsa-issuing/abcdef", headers=operator), 404, "not-found")
    _problem(client.post("/api/v1/certificates/nowhere/abcdef/hold", headers=operator), 404, "not-found")


# --- public CA certificates and CRLs -------------------------------------------------------------


@pytest.mark.parametrize("name", ["sm2-root", "sm2-issuing", "ecdsa-root", "ecdsa-issuing"])
def test_ca_certificate_is_served_as_der(client: FlaskClient, pki: TrustService, name: str) -> None:
    response = client.get(f"/ca/{name}.crt")
    assert response.status_code == 200
    assert response.mimetype == "application/pkix-cert"
    certificate = x509.Certificate.load(response.data)
    assert certificate.dump() == pki.ca.ca(name).certificate_der
    assert certificate.ca
    etag = response.headers["ETag"]
    assert client.get(f"/ca/{name}.crt", headers={"If-None-Match": etag}).status_code == 304


def test_unknown_ca_and_crl_are_404_problems(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.get("/ca/nowhere.crt"), 404, "not-found")
    _problem(client.get("/crl/nowhere.crl"), 404, "not-found")
    _problem(client.get("/crl/nowhere-delta.crl"), 404, "not-found")


def test_crl_is_served_with_cache_headers_and_304_on_if_none_match(
    client: FlaskClient, pki: TrustService, clock: FakeClock
) -> None:
    response = client.get("/crl/sm2-issuing.crl")
    assert response.status_code == 200
    assert response.mimetype == "application/pkix-crl"
    parsed = crl.CertificateList.load(response.data)
    this_update = parsed["tbs_cert_list"]["this_update"].native
    assert response.last_modified == this_update
    assert response.cache_control.public
    # until the scheduled refresh (thisUpdate + 1 h), though nextUpdate is 24 h away
    refresh_at = this_update + timedelta(hours=1)
    assert response.cache_control.max_age == int((refresh_at - clock.now).total_seconds())
    assert 3590 < response.cache_control.max_age <= 3600
    etag = response.headers["ETag"]

    again = client.get("/crl/sm2-issuing.crl", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert client.get("/crl/sm2-issuing.crl", headers={"If-None-Match": '"other"'}).status_code == 200

    clock.advance(minutes=30)
    assert client.get("/crl/sm2-issuing.crl").cache_control.max_age == int(
        (refresh_at - clock.now).total_seconds()
    )
    clock.advance(minutes=30)
    fresh = client.get("/crl/sm2-issuing.crl", headers={"If-None-Match": etag})
    assert fresh.status_code == 200  # re-made on schedule: a new ETag
    assert fresh.headers["ETag"] != etag
    assert crl.CertificateList.load(fresh.data).crl_number_value.native > parsed.crl_number_value.native


def test_delta_crl_is_served_and_follows_revocations(
    client: FlaskClient, operator: dict[str, str], pki: TrustService, ecdsa_csr_pem: str
) -> None:
    first = client.get("/crl/ecdsa-issuing-delta.crl")
    assert first.status_code == 200
    assert first.mimetype == "application/pkix-crl"
    delta = crl.CertificateList.load(first.data)
    assert delta.delta_crl_indicator_value is not None
    assert delta["tbs_cert_list"]["revoked_certificates"].native in (None, [])

    serial = _issue(client, operator, ecdsa_csr_pem)["serial"]
    client.post(
        f"/api/v1/certificates/ecdsa-issuing/{serial}/revoke", json={"reason": "superseded"}, headers=operator
    )
    second = client.get("/crl/ecdsa-issuing-delta.crl", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    entries = crl.CertificateList.load(second.data)["tbs_cert_list"]["revoked_certificates"]
    assert [(e["user_certificate"].native, e.crl_reason_value.native) for e in entries] == [
        (int(str(serial), 16), "superseded")
    ]


def test_crl_max_age_never_passes_next_update(
    client: FlaskClient, pki: TrustService, clock: FakeClock
) -> None:
    response = client.get("/crl/ecdsa-root.crl")
    next_update = crl.CertificateList.load(response.data)["tbs_cert_list"]["next_update"].native
    assert clock.now + timedelta(seconds=response.cache_control.max_age) <= next_update


def test_openapi_documents_the_ca_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in (
        "/ca/{name}.crt",
        "/crl/{name}.crl",
        "/crl/{name}-delta.crl",
        "/api/v1/certificates",
        "/api/v1/certificates/{ca}/{serial}",
        "/api/v1/certificates/{ca}/{serial}/revoke",
        "/api/v1/certificates/{ca}/{serial}/hold",
        "/api/v1/certificates/{ca}/{serial}/release",
    ):
        assert path in paths


def test_base64_der_is_not_mistaken_for_pem(
    client: FlaskClient, operator: dict[str, str], ecdsa_csr_pem: str
) -> None:
    _, _, der = pem.unarmor(ecdsa_csr_pem.encode())
    body = {"ca": "ecdsa-issuing", "profile": "tls-client", "csr": base64.b64encode(der).decode()}
    _problem(client.post("/api/v1/certificates", json=body, headers=operator), 400, "malformed-input")
