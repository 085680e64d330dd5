"""The HTTP form of a signed status answer (seal status, licence status): cacheable unless a nonce was asked.

Both answers are signed statements with a ``produced`` time, re-signed after ``refresh_seconds``; caches
may keep one until then (ETag, Last-Modified, 304 on If-None-Match). A ``?nonce=`` answer is never stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import Response, request


def signed_answer_response(
    answer: bytes, produced: datetime, *, now: datetime, refresh_seconds: int, nonce: str | None
) -> Response:
    """Return ``answer`` as application/json with the caching headers its freshness allows."""
    response = Response(answer, mimetype="application/json")
    if nonce is not None:
        response.cache_control.no_store = True
        return response
    etag = hashlib.sha256(answer).hexdigest()[:32]
    response.set_etag(etag)
    response.cache_control.public = True
    age = int((now - produced) / timedelta(seconds=1))
    response.cache_control.max_age = max(0, refresh_seconds - age)
    response.last_modified = produced
    if request.if_none_match.contains(etag):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
    return response
