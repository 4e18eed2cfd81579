"""``/health``: 200 when the database answers, 503 when it does not (within a bounded time)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from salesbot_core.errors import DatabaseUnavailable
from salesbot_http.dto import HealthOut
from salesbot_http.envelope import Envelope, ok
from salesbot_http.health import DatabaseProbe
from salesbot_http.openapi import error_responses


class HealthController(Controller):
    path = "/health"
    tags = ("health",)

    @get("/", summary="Is the service up and its database answering?", responses=error_responses())
    async def health(self, database_probe: NamedDependency[DatabaseProbe]) -> Envelope[HealthOut]:
        if not await database_probe():
            raise DatabaseUnavailable("The database is unavailable")
        return ok(HealthOut(status="ok", database="up"), "Service is healthy")
