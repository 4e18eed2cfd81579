"""Where the container lives inside a running app (for guards, which take no dependencies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar import Litestar

    from salesbot_http.container import Container

CONTAINER_KEY = "salesbot_container"


def container_of(app: Litestar) -> Container:
    container: Container = app.state[CONTAINER_KEY]
    return container
