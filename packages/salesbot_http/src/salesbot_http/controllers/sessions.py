"""``/auth``: login, refresh-token rotation, logout, logout everywhere, and who am I."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from salesbot_core.usecases import (
    ClientInfo,
    GetProfile,
    Logout,
    LogoutAll,
    RefreshSession,
)
from salesbot_http.auth import BEARER_SECURITY, require_access_token
from salesbot_http.dto import (
    LoginOut,
    LoginRequest,
    RefreshTokenRequest,
    TokensOut,
    UserOut,
    login_out,
    tokens_out,
    user_out,
)
from salesbot_http.envelope import Envelope, ok
from salesbot_http.openapi import error_responses
from salesbot_http.ratelimit import ThrottledLogin


class SessionsController(Controller):
    path = "/auth"
    tags = ("auth",)

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Log in with email and password",
        description=(
            "Unknown email and wrong password give the same 401 and message. Too many failed "
            "logins for one account, or from one client address, within a window are refused "
            "with 429 and `Retry-After` until the window ends."
        ),
        responses=error_responses(400, 401, 413, 429),
    )
    async def login(
        self,
        data: JSONBody[LoginRequest],
        login: NamedDependency[ThrottledLogin],
        client_info: NamedDependency[ClientInfo],
    ) -> Envelope[LoginOut]:
        result = await login(email=data.email, password=data.password, client=client_info)
        return ok(login_out(result), "Login successful")

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        summary="Trade a refresh token for new tokens",
        description=(
            "Rotation: the refresh token presented stops working and a new one is returned. "
            "Presenting an already rotated token revokes every token of its login (reuse "
            "detection)."
        ),
        responses=error_responses(400, 401, 413),
    )
    async def refresh(
        self,
        data: JSONBody[RefreshTokenRequest],
        refresh_session: NamedDependency[RefreshSession],
        client_info: NamedDependency[ClientInfo],
    ) -> Envelope[TokensOut]:
        tokens = await refresh_session(data.refresh_token, client_info)
        return ok(tokens_out(tokens), "Token refreshed successfully")

    @post(
        "/logout",
        status_code=HTTP_200_OK,
        summary="Revoke a refresh token",
        description="Idempotent: an unknown or already revoked token is not an error.",
        responses=error_responses(400, 413),
    )
    async def logout(
        self, data: JSONBody[RefreshTokenRequest], logout: NamedDependency[Logout]
    ) -> Envelope[None]:
        await logout(data.refresh_token)
        return ok(None, "Logout successful")

    @post(
        "/logout-all",
        status_code=HTTP_200_OK,
        summary="Revoke every refresh token of the signed-in user",
        guards=[require_access_token],
        security=BEARER_SECURITY,
        responses=error_responses(401),
    )
    async def logout_all(
        self, current_user_id: NamedDependency[UUID], logout_all: NamedDependency[LogoutAll]
    ) -> Envelope[None]:
        await logout_all(current_user_id)
        return ok(None, "Logged out from all sessions")

    @get(
        "/me",
        summary="The signed-in user",
        guards=[require_access_token],
        security=BEARER_SECURITY,
        responses=error_responses(401, 404),
    )
    async def me(
        self, current_user_id: NamedDependency[UUID], get_profile: NamedDependency[GetProfile]
    ) -> Envelope[UserOut]:
        user = await get_profile(current_user_id)
        return ok(user_out(user), "User retrieved successfully")
