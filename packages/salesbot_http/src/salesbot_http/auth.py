"""Bearer authentication: the guard that checks the access token, the admin guard, and who is
asking.

The guards run before the body is read, so an anonymous request is refused with 401 whatever it
sends. Every failure (no header, another scheme, a bad, foreign, expired or refresh token) raises
the same ``InvalidAccessToken``, hence the same 401; a valid token without the admin role on an
admin route raises ``Forbidden`` (403).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from salesbot_core.domain import Role
from salesbot_core.errors import Forbidden, InvalidAccessToken
from salesbot_core.ports import AccessClaims
from salesbot_core.usecases import ClientInfo
from salesbot_http.state import container_of

_CLAIMS_KEY = "salesbot_access_claims"
# The OpenAPI security requirement of protected routes.
BEARER_SECURITY: list[dict[str, list[str]]] = [{"BearerAuth": []}]


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        raise InvalidAccessToken
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidAccessToken
    return token


async def require_access_token(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard: a valid access token, or 401."""
    container = container_of(connection.app)
    token = bearer_token(connection.headers.get("authorization"))
    claims = container.security.token_issuer().verify(token, container.clock().now())
    connection.state[_CLAIMS_KEY] = claims


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Litestar guard: a valid access token (401 otherwise) carrying the admin role (403
    otherwise). The role is the token's, so a change of role counts from the next refresh."""
    await require_access_token(connection, handler)
    if _claims(connection).role is not Role.ADMIN:
        raise Forbidden


def _claims(connection: ASGIConnection[Any, Any, Any, Any]) -> AccessClaims:
    claims = connection.state.get(_CLAIMS_KEY)
    if not isinstance(claims, AccessClaims):
        # A protected route without the guard: refuse rather than serve anonymously.
        raise InvalidAccessToken
    return claims


def current_user_id(request: Request[Any, Any, Any]) -> UUID:
    """The signed-in user's id, as checked by ``require_access_token``.

    Handlers call these helpers on their request rather than take them as dependencies: Litestar
    resolves two or more dependencies of one handler in an anyio task group (litestar#4563),
    a few percent of a short request's CPU; a handler's only dependency is its use case."""
    return _claims(request).user_id


def current_role(request: Request[Any, Any, Any]) -> Role:
    """The signed-in user's role, as the access token states it."""
    return _claims(request).role


def client_info(request: Request[Any, Any, Any]) -> ClientInfo:
    """User agent and client address, kept with refresh tokens for audit.

    The address is the peer's; behind a reverse proxy, configure the ASGI server to trust the
    proxy's forwarded headers.
    """
    client = request.client
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip=client.host if client else None,
    )
