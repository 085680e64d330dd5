"""OCSP and TSA over HTTP: POST and GET, RFC 5019 cache headers, 304, protocol errors, media types, limits."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest
from asn1crypto import tsp
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.test_ocsp_service import Leaf, basic, issue_leaf, request_for, response_status, single
from tests.test_tsa_service import DATA, _fail_info, check_token
from trustsvc.ca.timestamping import make_request
from trustsvc.errors import PROBLEM_BASE
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService

OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}
TSQ = {"Content-Type": "application/timestamp-query"}


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


@pytest.fixture
def leaf(pki: TrustService) -> Leaf:
    return issue_leaf(pki)


def _problem(response: object, status: int, problem: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    assert response.get_json()["type"] == PROBLEM_BASE + problem  # type: ignore[attr-defined]


# --- OCSP ----------------------------------------------------------------------------------------


def test_post_answers_good_with_rfc5019_cache_headers(
    client: FlaskClient, leaf: Leaf, clock: FakeClock
) -> None:
    response = client.post("/ocsp", data=request_for(leaf), headers=OCSP_REQUEST)
    assert response.status_code == 200
    assert response.mimetype == "application/ocsp-response"
    assert single(response.data)["cert_status"].name == "good"
    produced = clock.now.replace(microsecond=0)
    assert response.headers["Cache-Control"] == "max-age=3599, public, no-transform, must-revalidate"
    assert response.headers["ETag"] == f'"{hashlib.sha1(response.data).hexdigest()}"'
    assert parsedate_to_datetime(response.headers["Last-Modified"]) == produced
    assert parsedate_to_datetime(response.headers["Expires"]) == produced + timedelta(hours=24)


def test_get_answers_the_same_stored_response_and_max_age_counts_down(
    client: FlaskClient, leaf: Leaf, clock: FakeClock
) -> None:
    der = request_for(leaf)
    posted = client.post("/ocsp", data=der, headers=OCSP_REQUEST)
    clock.advance(minutes=10)
    fetched = client.get("/ocsp/" + quote(base64.b64encode(der).decode(), safe=""))
    assert fetched.status_code == 200 and fetched.data == posted.data
    assert fetched.headers["ETag"] == posted.headers["ETag"]
    assert fetched.headers["Cache-Control"].startswith("max-age=2999,")
    clock.advance(minutes=50)  # past the refresh: a new response, cacheable for the next hour again
    renewed = client.get("/ocsp/" + base64.b64encode(der).decode())
    assert renewed.data != posted.data
    assert renewed.headers["Cache-Control"].startswith("max-age=3599,")


def test_get_with_a_matching_etag_gets_304(client: FlaskClient, leaf: Leaf) -> None:
    path = "/ocsp/" + base64.b64encode(request_for(leaf)).decode()
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    other = client.get(path, headers={"If-None-Match": '"0000"'})
    assert other.status_code == 200 and other.data == first.data


@pytest.mark.parametrize("encoding", ["raw", "percent", "urlsafe", "unpadded"])
def test_get_accepts_slashes_pluses_and_their_encodings(
    client: FlaskClient, leaf: Leaf, encoding: str
) -> None:
    # a nonce chosen so that the base64 holds '/', '//' and '+': the path must survive all of them
    nonce = bytes([0xFF, 0xFF, 0xFF, 0xFB, 0xEF, 0xBE]) * 3
    der = request_for(leaf, nonce=nonce)
    standard = base64.b64encode(der).decode()
    assert "//" in standard and "+" in standard
    path = {
        "raw": standard,
        "percent": quote(standard, safe=""),
        "urlsafe": base64.urlsafe_b64encode(der).decode(),
        "unpadded": standard.rstrip("="),
    }[encoding]
    response = client.get("/ocsp/" + path)
    assert response.status_code == 200, response.data
    data = basic(response.data)["tbs_response_data"]
    assert data["response_extensions"][0]["extn_value"].parsed.native == nonce
    assert response.headers["Cache-Control"] == "no-cache"
    assert "ETag" not in response.headers


def test_nonce_is_echoed_over_post_and_not_cached(client: FlaskClient, leaf: Leaf) -> None:
    response = client.post("/ocsp", data=request_for(leaf, nonce=b"\x42" * 16), headers=OCSP_REQUEST)
    data = basic(response.data)["tbs_response_data"]
    assert data["response_extensions"][0]["extn_value"].parsed.native == b"\x42" * 16
    assert response.headers["Cache-Control"] == "no-cache"
    assert "ETag" not in response.headers and "Expires" not in response.headers


def test_revocation_shows_in_the_next_answer(client: FlaskClient, pki: TrustService, leaf: Leaf) -> None:
    path = "/ocsp/" + base64.b64encode(request_for(leaf)).decode()
    good = client.get(path)
    assert single(good.data)["cert_status"].name == "good"
    pki.ca.revoke(leaf.ca_name, leaf.serial, "keyCompromise", actor="test")
    revoked = client.get(path, headers={"If-None-Match": good.headers["ETag"]})
    assert revoked.status_code == 200  # the old ETag no longer matches
    assert single(revoked.data)["cert_status"].name == "revoked"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30\x03\x02\x01", b"garbage, not DER", b"\x30\x84\x7f\xff\xff\xff"],
    ids=["empty", "truncated", "text", "huge-length"],
)
def test_garbage_post_gets_malformed_request_never_500(
    client: FlaskClient, pki: TrustService, body: bytes
) -> None:
    response = client.post("/ocsp", data=body, headers=OCSP_REQUEST)
    assert response.status_code == 200
    assert response.mimetype == "application/ocsp-response"
    assert response_status(response.data) == "malformed_request"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    ["%25%25%25", "not-base64!", "MAMCAQ==", base64.b64encode(b"garbage").decode(), "/MAMCAQ", "", "//"],
    ids=["percent", "alphabet", "truncated", "garbage", "leading-slash", "empty", "slashes"],
)
def test_garbage_get_gets_malformed_request(client: FlaskClient, pki: TrustService, path: str) -> None:
    response = client.get("/ocsp/" + path)
    assert response.status_code == 200
    assert response_status(response.data) == "malformed_request"


def test_truncated_real_request_gets_malformed_request(client: FlaskClient, leaf: Leaf) -> None:
    der = request_for(leaf)
    response = client.post("/ocsp", data=der[:-3], headers=OCSP_REQUEST)
    assert response_status(response.data) == "malformed_request"
    fetched = client.get("/ocsp/" + base64.b64encode(der[: len(der) // 2]).decode())
    assert response_status(fetched.data) == "malformed_request"


def test_a_root_cas_certificate_is_unauthorized(client: FlaskClient, pki: TrustService) -> None:
    from tests.test_ocsp_service import ocsp_request
    from trustsvc.ca.ocsp import cert_id_for

    root, issuing = pki.ca.ca("sm2-root").certificate, pki.ca.ca("sm2-issuing").certificate
    response = client.post("/ocsp", data=ocsp_request(cert_id_for(issuing, root).der), headers=OCSP_REQUEST)
    assert response.status_code == 200 and response_status(response.data) == "unauthorized"
    assert response.headers["Cache-Control"] == "no-store"


def test_ocsp_post_needs_its_media_type(client: FlaskClient, leaf: Leaf) -> None:
    _problem(client.post("/ocsp", data=request_for(leaf)), 415, "unsupported-media-type")
    _problem(
        client.post("/ocsp", data=request_for(leaf), headers={"Content-Type": "application/json"}),
        415,
        "unsupported-media-type",
    )


def test_oversized_ocsp_request_is_refused(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.post("/ocsp", data=b"\x30" * 70_000, headers=OCSP_REQUEST), 413, "payload-too-large")


# --- TSA -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "hierarchy"), [("/tsa", "sm2"), ("/tsa/sm2", "sm2"), ("/tsa/ecdsa", "ecdsa")]
)
def test_tsa_grants_a_token(client: FlaskClient, pki: TrustService, path: str, hierarchy: str) -> None:
    response = client.post(path, data=make_request(DATA, hash_algorithm="sha256"), headers=TSQ)
    assert response.status_code == 200
    assert response.mimetype == "application/timestamp-reply"
    assert response.headers["Cache-Control"] == "no-store"
    check_token(response.data, pki.tsa.certificates(hierarchy)[0], DATA)
    assert tsp.TimeStampResp.load(response.data)["status"]["status"].native == "granted"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30\x03\x02\x01", b"garbage, not DER", b"\x30\x84\x7f\xff\xff\xff"],
    ids=["empty", "truncated", "text", "huge-length"],
)
def test_garbage_tsa_request_gets_a_rejection_with_200(
    client: FlaskClient, pki: TrustService, body: bytes
) -> None:
    response = client.post("/tsa", data=body, headers=TSQ)
    assert response.status_code == 200
    assert response.mimetype == "application/timestamp-reply"
    assert _fail_info(response.data) == {"bad_data_format"}


def test_tsa_needs_its_media_type(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.post("/tsa", data=make_request(DATA)), 415, "unsupported-media-type")
    _problem(
        client.post("/tsa", data=make_request(DATA), headers={"Content-Type": "application/ocsp-request"}),
        415,
        "unsupported-media-type",
    )


def test_oversized_tsa_request_is_refused(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.post("/tsa", data=b"\x30" * 20_000, headers=TSQ), 413, "payload-too-large")


def test_a_tsa_that_does_not_exist_is_404(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.post("/tsa/rsa", data=make_request(DATA), headers=TSQ), 404, "not-found")
    _problem(client.post("/tsa/nope", data=make_request(DATA), headers=TSQ), 404, "not-found")


def test_openapi_documents_the_status_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/ocsp"]) == {"post"} and set(paths["/ocsp/{encoded}"]) == {"get"}
    assert set(paths["/tsa"]) == {"post"} and set(paths["/tsa/{hierarchy}"]) == {"post"}
