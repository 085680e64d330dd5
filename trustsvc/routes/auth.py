"""Request plumbing shared by blueprints: the current TrustService and API-key authentication."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from flask import current_app, g, request

from trustsvc.auth import authenticate
from trustsvc.errors import Forbidden, Unauthorized
from trustsvc.service import TrustService

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Caller:
    """Who is calling: a snapshot of the API key, usable after its session has closed."""

    key_id: int
    name: str
    prefix: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> str:
        """The audit actor for this caller."""
        return f"apikey:{self.prefix}"


def current_service() -> TrustService:
    """Return the TrustService of the running app."""
    service: TrustService = current_app.extensions["trustsvc"]
    return service


def current_caller() -> Caller:
    """Return the caller authenticated by :func:`require_api_key` for this request."""
    caller: Caller | None = g.get("trustsvc_caller")
    if caller is None:
        raise Unauthorized("no authenticated caller")
    return caller


def _token_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key") or None


def require_api_key(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Return a view decorator that admits a valid API key holding any of ``roles`` (any role if none).

    The key comes from ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``. No key or a bad
    one answers 401, a key without the role 403. The caller is then :func:`current_caller`.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            token = _token_from_request()
            if token is None:
                raise Unauthorized("an API key is required (Authorization: Bearer <token> or X-API-Key)")
            with current_service().session(read_only=True) as session, session.begin():
                key = authenticate(session, token)
                caller = Caller(key.id, key.name, key.prefix, tuple(key.roles))
            if roles and not set(roles) & set(caller.roles):
                raise Forbidden(f"this API key lacks the role(s): {', '.join(roles)}")
            g.trustsvc_caller = caller
            return view(*args, **kwargs)

        return wrapper

    return decorator
