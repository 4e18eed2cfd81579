"""``/users``: registration, the email check and the profile."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from salesbot_core.usecases import CheckEmail, GetProfile, RegisterUser
from salesbot_core.validation import EMAIL_MAX_CHARS
from salesbot_http import auth
from salesbot_http.auth import BEARER_SECURITY, require_access_token
from salesbot_http.dto import EMAIL_PATTERN, EmailCheckOut, RegisterRequest, UserOut, user_out
from salesbot_http.envelope import Envelope, ok
from salesbot_http.openapi import error_responses


class UsersController(Controller):
    path = "/users"
    tags = ("users",)

    @post(
        "/register",
        status_code=HTTP_201_CREATED,
        summary="Register a customer",
        responses=error_responses(400, 409, 413),
    )
    async def register(
        self, data: JSONBody[RegisterRequest], register_user: NamedDependency[RegisterUser]
    ) -> Envelope[UserOut]:
        user = await register_user(
            email=data.email, password=data.password, name=data.name, phone=data.phone
        )
        return ok(user_out(user), "User registered successfully")

    @get("/check", summary="Is this email registered?", responses=error_responses(400))
    async def check(
        self,
        check_email: NamedDependency[CheckEmail],
        email: Annotated[
            str,
            Parameter(
                description="The email to look up",
                max_length=EMAIL_MAX_CHARS,
                schema_extra={"pattern": EMAIL_PATTERN},
            ),
        ],
    ) -> Envelope[EmailCheckOut]:
        exists = await check_email(email)
        return ok(EmailCheckOut(exists=exists), "Email checked")

    @get(
        "/profile",
        summary="The signed-in user's profile",
        guards=[require_access_token],
        security=BEARER_SECURITY,
        responses=error_responses(401, 404),
    )
    async def profile(
        self, request: Request[Any, Any, Any], get_profile: NamedDependency[GetProfile]
    ) -> Envelope[UserOut]:
        current_user_id = auth.current_user_id(request)
        user = await get_profile(current_user_id)
        return ok(user_out(user), "Profile retrieved successfully")
