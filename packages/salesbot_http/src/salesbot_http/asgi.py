"""The ASGI entry point granian loads in each worker: the app built from the environment.

``salesbot serve`` hands workers their settings through the environment (including the URL of
the embedded database the parent process started).
"""

from __future__ import annotations

from litestar import Litestar

from salesbot_http.app import create_app
from salesbot_http.logs import configure_logging
from salesbot_http.settings import load_environment, settings_from_env


def app() -> Litestar:
    """Factory for ``granian --factory salesbot_http.asgi:app``."""
    settings = settings_from_env(load_environment())
    configure_logging(settings.log_level)
    return create_app(settings)
