"""``/auth/sessions``: the signed-in user's devices (one per login, seen through its live refresh
token), and signing one of them out."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from salesbot_core.usecases import EndSession, ListSessions
from salesbot_http import auth
from salesbot_http.auth import BEARER_SECURITY, require_access_token
from salesbot_http.dto import SessionOut, session_out
from salesbot_http.envelope import Envelope, ok
from salesbot_http.openapi import error_responses

# Declared as ``str`` in the path and parsed as a UUID, as conversation ids are: a malformed id
# is a 400, not an unknown route.
SessionId = Annotated[UUID, Parameter(description="The session's id (a UUID, from the list)")]


class DevicesController(Controller):
    path = "/auth/sessions"
    tags = ("auth",)
    guards = (require_access_token,)
    security = BEARER_SECURITY

    @get(
        "/",
        summary="The signed-in user's active sessions, most recently used first",
        description=(
            "One per login that can still refresh: when it started, when it was last used "
            "(logged in or refreshed), when its refresh token expires, and the user agent and "
            "address of its latest use."
        ),
        responses=error_responses(401),
    )
    async def sessions(
        self, request: Request[Any, Any, Any], list_sessions: NamedDependency[ListSessions]
    ) -> Envelope[list[SessionOut]]:
        current_user_id = auth.current_user_id(request)
        found = await list_sessions(current_user_id)
        return ok([session_out(s) for s in found], "Sessions retrieved successfully")

    @delete(
        "/{session_id:str}",
        status_code=HTTP_200_OK,
        summary="End a session: its refresh token stops working",
        description=(
            "The device's access token still works until it expires (`JWT_EXPIRES_IN`). "
            "Another user's session answers 404, exactly like an unknown or ended one."
        ),
        responses=error_responses(400, 401, 404),
    )
    async def end(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        end_session: NamedDependency[EndSession],
    ) -> Envelope[None]:
        current_user_id = auth.current_user_id(request)
        await end_session(current_user_id, session_id)
        return ok(None, "Session ended successfully")
