"""``/auth``: login, refresh-token rotation, logout, logout everywhere, and who am I."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from salesbot_core.usecases import (
    GetProfile,
    Logout,
    LogoutAll,
    RefreshSession,
    ThrottledLogin,
)
from salesbot_http import auth
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
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        login: NamedDependency[ThrottledLogin],
    ) -> Envelope[LoginOut]:
        client_info = auth.client_info(request)
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
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshTokenRequest],
        refresh_session: NamedDependency[RefreshSession],
    ) -> Envelope[TokensOut]:
        client_info = auth.client_info(request)
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
        self, request: Request[Any, Any, Any], logout_all: NamedDependency[LogoutAll]
    ) -> Envelope[None]:
        current_user_id = auth.current_user_id(request)
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
        self, request: Request[Any, Any, Any], get_profile: NamedDependency[GetProfile]
    ) -> Envelope[UserOut]:
        current_user_id = auth.current_user_id(request)
        user = await get_profile(current_user_id)
        return ok(user_out(user), "User retrieved successfully")
