"""Reading JSON request bodies in routes: one place for the checks and the messages callers see.

Each failure is an :class:`InvalidInput` (400) or :class:`UnsupportedMediaType` (415) naming the field, so a
business system learns which field to fix from the problem+json body alone.
"""

from __future__ import annotations

from typing import Any

from flask import request

from trustsvc.errors import InvalidInput, UnsupportedMediaType


def json_object(*, optional: bool = False) -> dict[str, Any]:
    """Return the request's JSON object (``{}`` for an empty body when ``optional``)."""
    if optional and not request.get_data():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body


def required_string(body: dict[str, Any], name: str, *, default: str | None = None) -> str:
    """Return the non-empty string ``body[name]`` (or ``default`` when absent)."""
    value = body.get(name, default)
    if value is None:
        raise InvalidInput(f"{name} is required", field=name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string", field=name)
    return value


def optional_string(body: dict[str, Any], name: str) -> str | None:
    """Return the string ``body[name]``, or None when it is absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name)
    return value
