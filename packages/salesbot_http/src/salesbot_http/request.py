"""The app's request class: a JSON body nested deeper than the decoder follows is malformed input,
refused as Litestar refuses any undecodable body (400 with the error envelope), not a 500."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

TOO_DEEPLY_NESTED = "JSON is malformed: nested too deeply"


class SalesbotRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as exc:
            # msgspec gives up on nesting at the interpreter's recursion limit, with
            # RecursionError rather than the DecodeError Litestar turns into a 400. A
            # SerializationException is what that DecodeError becomes: the same answer follows.
            raise SerializationException(TOO_DEEPLY_NESTED) from exc
