"""``POST /api/v1/verify``: the JSON report for a document; garbage and oversized uploads are 4xx
problem+json, never a 500; a client asking too often gets 429."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock
from tests.test_ofd_signing import document
from tests.test_sealing_service import Setup, make_setup
from tests.test_verify_engine import BOX
from trustsvc.routes import verify as verify_route
from trustsvc.service import TrustService


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(autouse=True)
def _fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_route, "limiter", verify_route.TokenBucket(1000.0, 10_000))


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


def test_raw_body_gets_the_json_report(setup: Setup, client: FlaskClient) -> None:
    sealed = setup.seal(document(1).ofd, BOX, level="B-B").data
    response = client.post("/api/v1/verify", data=sealed, content_type="application/ofd")
    assert response.status_code == 200
    body = response.get_json()
    assert body["indication"] == "VALID" and body["signatures"][0]["seal"]["es_id"] == setup.es_id
    assert response.headers["Cache-Control"] == "no-store"


def test_multipart_file_gets_the_json_report(setup: Setup, client: FlaskClient) -> None:
    sealed = setup.seal(document(1).ofd, BOX, level="B-B").data
    response = client.post(
        "/api/v1/verify", data={"file": (BytesIO(sealed), "x.ofd")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200 and response.get_json()["indication"] == "VALID"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"hello", 415),
        (b"PK\x03\x04" + bytes(64), 400),
        (b"%PDF-1.7\n" + bytes(64), 400),
        (b"\x30\x03\x02\x01\x01", 415),
    ],
)
def test_garbage_is_a_problem_not_a_500(client: FlaskClient, body: bytes, status: int) -> None:
    response = client.post("/api/v1/verify", data=body, content_type="application/octet-stream")
    assert response.status_code == status, response.get_data()
    assert response.mimetype == "application/problem+json"


def test_multipart_without_file_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/verify", data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_oversized_upload_is_413(client: FlaskClient, service: TrustService) -> None:
    body = b"%PDF-" + bytes(service.settings.max_content_length)
    response = client.post("/api/v1/verify", data=body, content_type="application/pdf")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_rate_limit_answers_429(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_route, "limiter", verify_route.TokenBucket(0.001, 2))
    codes = [client.post("/api/v1/verify", data=b"hello").status_code for _ in range(3)]
    assert codes == [415, 415, 429]
    response = client.post("/api/v1/verify", data=b"hello")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


def test_token_bucket_refills() -> None:
    bucket = verify_route.TokenBucket(1.0, 1)
    assert bucket.take("a", now=0.0) == 0.0
    assert bucket.take("a", now=0.5) > 0
    assert bucket.take("b", now=0.5) == 0.0
    assert bucket.take("a", now=1.6) == 0.0


PREFIXES = st.sampled_from([b"", b"%PDF-1.7\n", b"PK\x03\x04", b"PK\x05\x06", b"\x30\x82", b"\x30"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=PREFIXES, tail=st.binary(max_size=400))
def test_random_bytes_never_give_a_500(client: FlaskClient, prefix: bytes, tail: bytes) -> None:
    response = client.post("/api/v1/verify", data=prefix + tail, content_type="application/octet-stream")
    assert 200 <= response.status_code < 500, (response.status_code, response.get_data()[:300])
