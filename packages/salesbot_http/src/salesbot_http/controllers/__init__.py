"""Thin Litestar controllers: decode the wire DTO, call one use case, wrap the result."""

from salesbot_http.controllers.admin import AdminController
from salesbot_http.controllers.chat import ChatController
from salesbot_http.controllers.devices import DevicesController
from salesbot_http.controllers.health import HealthController
from salesbot_http.controllers.products import ProductsController
from salesbot_http.controllers.sessions import SessionsController
from salesbot_http.controllers.streaming import ChatStreamController
from salesbot_http.controllers.users import UsersController

__all__ = [
    "AdminController",
    "ChatController",
    "ChatStreamController",
    "DevicesController",
    "HealthController",
    "ProductsController",
    "SessionsController",
    "UsersController",
]
