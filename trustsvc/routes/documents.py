"""Sealing documents over HTTP: ``POST /api/v1/seal-document`` (API key, roles business-system or clerk).

The document comes either as ``multipart/form-data`` — the file in the part ``file``, the options as form
fields — or as the request body itself (``Content-Type: application/pdf``, ``application/ofd``, or
``application/octet-stream`` to have the format recognised), the options as query parameters. Options:
``es_id`` (required), ``page``/``x``/``y`` (mm from the top-left corner of the page) or ``keyword``
(``occurrence``) or ``across_pages`` (OFD), ``width``/``height`` (mm; default the seal picture's size),
``level`` (B-B, B-T — the default —, B-LT for PDF), ``format`` (pdf, ofd), ``reason``, ``location``
and, for a raw body, ``filename``.

The caller applies the seal as its own principal, ``apikey:<prefix>``, which must hold the seal's ``sign``
grant. The answer is the sealed document with its media type, ``Content-Disposition: attachment`` and headers
naming what was done (``X-Trustsvc-Es-Id``, ``-Signer-Serial``, ``-Signed-At``, ``-Level``, ``-Pages``,
``-Sm3``, and ``Repr-Digest``). Every failure is a problem+json 4xx (see
:meth:`~trustsvc.sealing.DocumentSealer.seal_document`): 400 naming the bad field, 403 without the grant,
404 for an unknown seal, 409 for a suspended, revoked or expired seal naming its state and since when, 413 for
a document over the limit or an archive bomb, 415 for what is neither PDF nor OFD.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from flask import Blueprint, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.utils import secure_filename

from trustsvc.auth import Role
from trustsvc.errors import InvalidInput, UnsupportedMediaType
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.sealing import DEFAULT_LEVEL, SealedDocument, SealPlacement

bp = Blueprint("documents", __name__)

_ROLES = (Role.BUSINESS_SYSTEM.value, Role.CLERK.value)
_FIELDS = frozenset(
    {
        "es_id",
        "page",
        "x",
        "y",
        "width",
        "height",
        "keyword",
        "occurrence",
        "across_pages",
        "level",
        "format",
        "reason",
        "location",
        "filename",
    }
)
_RAW_TYPES = {"application/pdf": "pdf", "application/ofd": "ofd", "application/octet-stream": None}
_INT_RE = re.compile(r"\+?[0-9]{1,9}")
_NUMBER_RE = re.compile(r"[+-]?([0-9]{1,9}(\.[0-9]*)?|\.[0-9]+)")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
_MAX_FILENAME = 120


@bp.post("/api/v1/seal-document")
@require_api_key(*_ROLES)
def seal_document() -> Response:
    data, fields, filename, format_hint = _document_and_fields()
    sealed = current_service().sealer.seal_document(
        data,
        es_id=_required(fields, "es_id"),
        principal=current_caller().actor,
        placement=_placement(fields),
        format=(_optional(fields, "format") or "").lower() or format_hint,
        level=(_optional(fields, "level") or DEFAULT_LEVEL).upper(),
        reason=_optional(fields, "reason"),
        location=_optional(fields, "location"),
    )
    return _sealed_response(sealed, filename)


# --- parsing -------------------------------------------------------------------------------------


def _document_and_fields() -> tuple[bytes, MultiDict[str, str], str | None, str | None]:
    """Return (document bytes, option fields, client's file name, format named by a media type)."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        parts = request.files.getlist("file")
        if len(parts) != 1:
            raise InvalidInput(
                "send the document in exactly one multipart part named file"
                + (f" (got {len(parts)})" if parts else ""),
                field="file",
            )
        others = sorted(set(request.files) - {"file"})
        if others:
            raise InvalidInput(f"unknown file part(s) {', '.join(others)}; the document goes in file")
        part = parts[0]
        fields: MultiDict[str, str] = request.form
        _check_names(fields)
        return part.read(), fields, part.filename, _RAW_TYPES.get(part.mimetype)
    if mimetype in _RAW_TYPES:
        _check_names(request.args)
        filename = _optional(request.args, "filename")
        return request.get_data(cache=False), request.args, filename, _RAW_TYPES[mimetype]
    raise UnsupportedMediaType(
        "send the document as multipart/form-data (part file) or as the body with Content-Type "
        f"application/pdf, application/ofd or application/octet-stream, not {mimetype or 'no type'}",
        content_type=mimetype or None,
    )


def _check_names(fields: MultiDict[str, str]) -> None:
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(n[:40] for n in unknown[:10])}; "
            f"known: {', '.join(sorted(_FIELDS))}",
            field=unknown[0][:40],
        )
    for name in fields:
        if len(fields.getlist(name)) > 1:
            raise InvalidInput(f"{name} is given more than once", field=name)


def _optional(fields: MultiDict[str, str], name: str) -> str | None:
    value = fields.get(name)
    return value if value else None


def _required(fields: MultiDict[str, str], name: str) -> str:
    value = _optional(fields, name)
    if value is None:
        raise InvalidInput(f"{name} is required", field=name)
    return value


def _int(fields: MultiDict[str, str], name: str) -> int | None:
    value = _optional(fields, name)
    if value is None:
        return None
    text = value.strip()
    if not _INT_RE.fullmatch(text):
        raise InvalidInput(f"{name} must be a whole number, not {value[:20]!r}", field=name)
    return int(text)


def _number(fields: MultiDict[str, str], name: str) -> float | None:
    value = _optional(fields, name)
    if value is None:
        return None
    text = value.strip()
    if not _NUMBER_RE.fullmatch(text):
        raise InvalidInput(f"{name} must be a number of millimetres, not {value[:20]!r}", field=name)
    return float(text)


def _flag(fields: MultiDict[str, str], name: str) -> bool:
    value = (fields.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(f"{name} must be true or false, not {value[:20]!r}", field=name)


def _placement(fields: MultiDict[str, str]) -> SealPlacement:
    occurrence = _int(fields, "occurrence")
    return SealPlacement(
        page=_int(fields, "page"),
        x=_number(fields, "x"),
        y=_number(fields, "y"),
        width=_number(fields, "width"),
        height=_number(fields, "height"),
        keyword=fields.get("keyword") or None,
        occurrence=1 if occurrence is None else occurrence,
        across_pages=_flag(fields, "across_pages"),
    )


# --- answer --------------------------------------------------------------------------------------


def _sealed_response(sealed: SealedDocument, filename: str | None) -> Response:
    response = Response(sealed.data, mimetype=sealed.media_type)
    response.headers["Content-Disposition"] = _disposition(filename, sealed.format)
    response.headers["X-Trustsvc-Es-Id"] = sealed.es_id
    response.headers["X-Trustsvc-Signer-Serial"] = sealed.signer_serial
    response.headers["X-Trustsvc-Signed-At"] = sealed.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    response.headers["X-Trustsvc-Level"] = sealed.level
    response.headers["X-Trustsvc-Pages"] = ",".join(str(p) for p in sealed.pages)
    response.headers["X-Trustsvc-Sm3"] = sealed.sm3
    sha256 = base64.b64encode(bytes.fromhex(sealed.sha256)).decode("ascii")
    response.headers["Repr-Digest"] = f"sha-256=:{sha256}:"  # RFC 9530
    response.cache_control.no_store = True
    return response


def _disposition(filename: str | None, extension: str) -> str:
    """Return ``attachment; filename=<name>-sealed.<ext>``, with an RFC 6266 ``filename*`` for non-ASCII."""
    stem = re.split(r"[\\/]", filename or "")[-1]
    for suffix in (".pdf", ".ofd"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = "".join(c for c in stem if c.isprintable() and c not in "\"'").strip()[:_MAX_FILENAME]
    name = f"{stem or 'document'}-sealed.{extension}"
    fallback = f"{secure_filename(stem) or 'document'}-sealed.{extension}"
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
