"""``POST /api/v1/seal-document``: multipart and raw bodies, the sealed file and its headers, who may seal,
and every refusal as a problem+json 4xx — never a 500, whatever bytes are posted."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.sign.validation.status import SignatureCoverageLevel
from werkzeug.test import TestResponse

from tests.test_ofd_signing import Doc, document
from tests.test_pdf_sealing import cjk_page, embedded, encrypted_pdf, make_pdf, widget_rect
from tests.test_sealing_service import (
    PNG,
    Setup,
    api_key,
    audit_records,
    clock,  # noqa: F401 -- the real-time clock fixture
    make_setup,
    ofd_checks,
    path_traversal,
    pdf_status,
    zip_bomb,
)
from trustsvc.api import create_app
from trustsvc.config import Settings
from trustsvc.errors import PROBLEM_BASE
from trustsvc.keys.sm3 import sm3
from trustsvc.service import TrustService

URL = "/api/v1/seal-document"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


@pytest.fixture(scope="module")
def two_pages() -> Doc:
    return document(2)


def problem(response: TestResponse, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    if kind is not None:
        assert body["type"] == PROBLEM_BASE + kind, body
    return body


def multipart(
    client: FlaskClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "合同.pdf",
    content_type: str = "application/octet-stream",
    form_fields: dict[str, str] | None = None,
    **fields: object,
) -> TestResponse:
    form: dict[str, Any] = {**(form_fields or {}), **{k: str(v) for k, v in fields.items()}}
    form["file"] = (io.BytesIO(data), filename, content_type)
    return client.post(URL, data=form, headers=headers, content_type="multipart/form-data")


def raw(
    client: FlaskClient, headers: dict[str, str], data: bytes, content_type: str, **params: object
) -> TestResponse:
    return client.post(
        URL,
        data=data,
        headers=headers,
        content_type=content_type,
        query_string={k: str(v) for k, v in params.items()},
    )


# --- sealing -------------------------------------------------------------------------------------


def test_multipart_pdf_is_sealed_with_its_headers(setup: Setup, client: FlaskClient) -> None:
    pdf = make_pdf(2)
    response = multipart(
        client, setup.headers, pdf, es_id=setup.es_id, page=2, x=120, y=200, level="B-T", reason="同意"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    data = response.get_data()
    assert response.headers["X-Trustsvc-Es-Id"] == setup.es_id
    assert response.headers["X-Trustsvc-Pages"] == "2"
    assert response.headers["X-Trustsvc-Level"] == "B-T"
    assert response.headers["X-Trustsvc-Sm3"] == sm3(data).hex()
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"document-sealed.pdf\"; filename*=UTF-8''{quote('合同-sealed.pdf')}"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Repr-Digest"].startswith("sha-256=:")
    status = pdf_status(setup, data)
    assert status.bottom_line and status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert (
        format(embedded(data).signer_cert.serial_number, "x") == response.headers["X-Trustsvc-Signer-Serial"]
    )
    assert widget_rect(data)[0] == pytest.approx(120 * 72 / 25.4, abs=0.01)
    (record,) = audit_records(setup.service)
    assert record.actor == setup.principal and record.details["output_sm3"] == sm3(data).hex()


def test_raw_ofd_body_is_sealed_where_asked(setup: Setup, client: FlaskClient, two_pages: Doc) -> None:
    response = raw(
        client, setup.headers, two_pages.ofd, "application/ofd", es_id=setup.es_id, page=1, x=20, y=30,
        width=30, height=30, filename="licence.ofd",
    )  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/ofd"
    assert response.headers["Content-Disposition"] == 'attachment; filename="licence-sealed.ofd"'
    (result,) = ofd_checks(response.get_data())
    (annot,) = result.stamp_annots
    assert (annot.page_index, annot.boundary) == (0, (20, 30, 30, 30))


def test_octet_stream_is_recognised_and_keyword_placement_works(setup: Setup, client: FlaskClient) -> None:
    pdf = make_pdf(3, extra=cjk_page)
    response = raw(
        client, setup.headers, pdf, "application/octet-stream", es_id=setup.es_id, keyword="盖章处"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Trustsvc-Pages"] == "2"
    assert response.headers["Content-Disposition"] == 'attachment; filename="document-sealed.pdf"'
    assert pdf_status(setup, response.get_data()).bottom_line


def test_multipart_ofd_across_pages_and_b_lt_pdf(setup: Setup, client: FlaskClient, two_pages: Doc) -> None:
    response = multipart(
        client, setup.headers, two_pages.ofd, "a.ofd", es_id=setup.es_id, across_pages="true", level="b-b"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["X-Trustsvc-Pages"] == "1,2"
    (result,) = ofd_checks(response.get_data())
    assert len(result.stamp_annots) == 2
    response = multipart(client, setup.headers, make_pdf(), es_id=setup.es_id, x=20, y=30, level="B-LT")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert pdf_status(setup, response.get_data(), level="B-LT").bottom_line


# --- who may seal --------------------------------------------------------------------------------


def test_callers_without_a_grant_or_role_are_refused(setup: Setup, client: FlaskClient) -> None:
    pdf = make_pdf()
    stranger, _ = api_key(setup.service, "business-system", name="另一系统")
    body = problem(multipart(client, stranger, pdf, es_id=setup.es_id, x=20, y=30), 403, "forbidden")
    assert setup.es_id in body["detail"]
    admin, admin_principal = api_key(setup.service, "seal-admin", name="印章管理员")
    setup.service.seals.grant(setup.es_id, admin_principal, actor="test")
    body = problem(multipart(client, admin, pdf, es_id=setup.es_id, x=20, y=30), 403, "forbidden")
    assert "business-system" in body["detail"]  # the role is missing, whatever the grants
    problem(multipart(client, {}, pdf, es_id=setup.es_id, x=20, y=30), 401, "unauthorized")
    problem(multipart(client, setup.headers, pdf, es_id="110000000000999", x=20, y=30), 404, "not-found")
    clerk, clerk_principal = api_key(setup.service, "clerk", name="窗口")
    setup.service.seals.grant(setup.es_id, clerk_principal, actor="test")
    assert multipart(client, clerk, pdf, es_id=setup.es_id, x=20, y=30, level="B-B").status_code == 200
    assert [r.actor for r in audit_records(setup.service)] == [clerk_principal]


def test_suspended_seal_is_409_naming_the_state_and_time(setup: Setup, client: FlaskClient) -> None:
    setup.service.seals.suspend(setup.es_id, "印章遗失", actor="test")
    body = problem(
        multipart(client, setup.headers, make_pdf(), es_id=setup.es_id, x=20, y=30), 409, "invalid-state"
    )
    since = setup.service.seals.status(setup.es_id).since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["seal_status"] == "suspended" and body["since"] == since
    assert f"suspended since {since}" in body["detail"]


# --- refusals ------------------------------------------------------------------------------------


def test_documents_that_are_not_pdf_or_ofd_are_refused(setup: Setup, client: FlaskClient) -> None:
    h, es_id = setup.headers, setup.es_id
    body = problem(
        multipart(client, h, PNG, "seal.png", es_id=es_id, x=20, y=30), 415, "unsupported-media-type"
    )
    assert "PNG image" in body["detail"] and body["seen"] == "a PNG image"
    body = problem(raw(client, h, PNG, "application/pdf", es_id=es_id, x=20, y=30), 400, "malformed-input")
    assert "not a PDF" in body["detail"]
    problem(
        multipart(client, h, PNG, "x.pdf", "application/pdf", es_id=es_id, x=1, y=1), 400, "malformed-input"
    )
    body = problem(raw(client, h, b"{}", "application/json", es_id=es_id), 415, "unsupported-media-type")
    assert "application/json" in body["detail"]
    problem(client.post(URL, data=b"x", headers=h), 415, "unsupported-media-type")


def test_encrypted_pdf_bomb_traversal_and_page_out_of_range(
    setup: Setup, client: FlaskClient, two_pages: Doc
) -> None:
    h, es_id = setup.headers, setup.es_id
    body = problem(multipart(client, h, encrypted_pdf(), es_id=es_id, x=20, y=30), 400, "invalid-input")
    assert "encrypted" in body["detail"]
    problem(
        multipart(client, h, zip_bomb(two_pages), "bomb.ofd", es_id=es_id, x=20, y=30),
        413,
        "payload-too-large",
    )
    body = problem(
        multipart(client, h, path_traversal(two_pages), "evil.ofd", es_id=es_id, x=20, y=30),
        400,
        "malformed-input",
    )
    assert "entry" in body["detail"]
    body = problem(multipart(client, h, make_pdf(), es_id=es_id, page=4, x=20, y=30), 400, "invalid-input")
    assert body["detail"] == "page 4 does not exist: the document has 1 page"
    body = problem(
        raw(client, h, two_pages.ofd, "application/ofd", es_id=es_id, page=3, x=20, y=30),
        400,
        "invalid-input",
    )
    assert "the document has 2 page" in body["detail"]
    body = problem(
        raw(client, h, two_pages.ofd, "application/ofd", es_id=es_id, x=20, y=30, level="B-LT"),
        400,
        "invalid-input",
    )
    assert body["field"] == "level"
    assert audit_records(setup.service) == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"x": 20, "y": 30}, "es_id", "es_id is required"),
        ({"es_id": "E", "page": "二", "x": 20, "y": 30}, "page", "page must be a whole number"),
        ({"es_id": "E", "x": "1e999", "y": 30}, "x", "x must be a number"),
        ({"es_id": "E", "x": "nan", "y": 30}, "x", "x must be a number"),
        ({"es_id": "E", "x": 20}, "y", "y missing"),
        ({"es_id": "E", "x": 20, "y": 30, "width": "-4"}, "width", "width must be positive"),
        ({"es_id": "E", "x": 20, "y": 30, "across_pages": "maybe"}, "across_pages", "true or false"),
        ({"es_id": "E", "x": 20, "y": 30, "colour": "red"}, "colour", "unknown field(s) colour"),
        ({"es_id": "E", "keyword": "盖章处", "page": 1}, "page", "keyword takes no page"),
        ({"es_id": "E", "x": 20, "y": 30, "format": "docx"}, "format", "format must be pdf or ofd"),
        ({"es_id": "E", "x": 20, "y": 30, "level": "LTA"}, "level", "level must be one of"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    setup: Setup, client: FlaskClient, fields: dict[str, object], field: str, words: str
) -> None:
    form = {k: setup.es_id if v == "E" else str(v) for k, v in fields.items()}
    body = problem(multipart(client, setup.headers, make_pdf(), form_fields=form), 400)
    assert body["field"] == field and words in body["detail"], body


def test_the_file_part_is_required_once(setup: Setup, client: FlaskClient) -> None:
    response = client.post(
        URL,
        data={"es_id": setup.es_id, "x": "1", "y": "1"},
        headers=setup.headers,
        content_type="multipart/form-data",
    )
    assert problem(response, 400, "invalid-input")["field"] == "file"
    twice = {
        "es_id": setup.es_id,
        "x": "1",
        "y": "1",
        "file": [(io.BytesIO(b"a"), "a.pdf"), (io.BytesIO(b"b"), "b.pdf")],
    }
    response = client.post(URL, data=twice, headers=setup.headers, content_type="multipart/form-data")
    assert "got 2" in problem(response, 400, "invalid-input")["detail"]


@pytest.fixture
def small_client(setup: Setup, settings: Settings) -> Iterator[FlaskClient]:
    """A client of an app whose request size limit is 60 kB (same database and keys)."""
    import dataclasses

    small = TrustService.from_settings(
        dataclasses.replace(settings, max_content_length=60_000), clock=setup.service.clock
    )
    try:
        app = create_app(service=small)
        app.config["TESTING"] = True
        yield app.test_client()
    finally:
        small.close()


def test_documents_over_the_size_limit_are_413(setup: Setup, small_client: FlaskClient) -> None:
    big = make_pdf(1, extra=lambda page: b"% padding " * 8000)
    assert len(big) > 60_000
    body = problem(
        multipart(small_client, setup.headers, big, es_id=setup.es_id, x=20, y=30), 413, "payload-too-large"
    )
    assert "60000" in body["detail"]
    problem(raw(small_client, setup.headers, big, "application/pdf", es_id=setup.es_id, x=20, y=30), 413)
    assert (
        raw(
            small_client, setup.headers, make_pdf(), "application/pdf", es_id=setup.es_id, x=20, y=30
        ).status_code
        == 200
    )


# --- never a 500 -----------------------------------------------------------------------------------

_PREFIXES = [b"", b"%PDF-1.7\n", b"PK\x03\x04", b"PK\x05\x06", b"\x89PNG\r\n\x1a\n"]
_TYPES = ["application/pdf", "application/ofd", "application/octet-stream"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from(_PREFIXES),
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(_TYPES),
    as_multipart=st.booleans(),
)
def test_random_bytes_only_ever_get_4xx(
    setup: Setup, client: FlaskClient, prefix: bytes, body: bytes, content_type: str, as_multipart: bool
) -> None:
    data = prefix + body
    if as_multipart:
        response = multipart(
            client, setup.headers, data, "x.bin", content_type, es_id=setup.es_id, x=20, y=30
        )
    else:
        response = raw(client, setup.headers, data, content_type, es_id=setup.es_id, x=20, y=30)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM_JSON


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["page", "x", "y", "width", "height", "keyword", "occurrence", "across_pages", "level", "format"]
        ),
        st.text(max_size=12),
        max_size=5,
    )
)
def test_random_fields_only_ever_get_4xx_or_a_sealed_document(
    setup: Setup, client: FlaskClient, fields: dict[str, str]
) -> None:
    response = multipart(client, setup.headers, PDF_ONE_PAGE, form_fields=fields, es_id=setup.es_id)
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.get_data(as_text=True)[
        :300
    ]


PDF_ONE_PAGE = make_pdf()
OFD_ONE_PAGE = document(1).ofd


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    original=st.sampled_from([PDF_ONE_PAGE, OFD_ONE_PAGE]),
    changes=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0.05, 1)),
)
def test_damaged_documents_only_ever_get_4xx_or_a_sealed_document(
    setup: Setup, client: FlaskClient, original: bytes, changes: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(original)
    for where, value in changes:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    response = raw(
        client,
        setup.headers,
        bytes(data),
        "application/octet-stream",
        es_id=setup.es_id,
        x=20,
        y=30,
        level="B-B",
    )
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.get_data(as_text=True)[
        :300
    ]


def test_openapi_documents_the_route(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    operation = paths[URL]["post"]
    assert set(operation["requestBody"]["content"]) >= {
        "multipart/form-data",
        "application/pdf",
        "application/ofd",
    }
    assert {"200", "400", "403", "409", "413", "415"} <= set(operation["responses"])
    assert "X-Trustsvc-Es-Id" in operation["responses"]["200"]["headers"]


@pytest.mark.parametrize("value", ["0\x1f", "1\x1c", "\x1e2"])
def test_whole_number_fields_with_unicode_separators_are_read_not_500(value: str) -> None:
    """Hypothesis found '0\\x1f' passing the check after strip() and then failing int(): now both strip."""
    from werkzeug.datastructures import MultiDict

    from trustsvc.routes.documents import _int, _number

    assert _int(MultiDict({"page": value}), "page") == int(value.strip())
    assert _number(MultiDict({"x": value}), "x") == float(value.strip())
