"""Thin Litestar controllers: decode the wire DTO, call one use case, wrap the result."""

from salesbot_http.controllers.chat import ChatController
from salesbot_http.controllers.health import HealthController
from salesbot_http.controllers.sessions import SessionsController
from salesbot_http.controllers.users import UsersController

__all__ = ["ChatController", "HealthController", "SessionsController", "UsersController"]
