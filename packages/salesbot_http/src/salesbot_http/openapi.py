"""The OpenAPI 3.1 document: served at ``/schema/openapi.json``, browsable at ``/schema``.

Every error a route can answer is described with the error envelope, replacing Litestar's own
error shape, which salesbot never sends.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag

from salesbot_http.envelope import ErrorEnvelope
from salesbot_http.web.pages import STATIC_PATH

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

SCHEMA_PATH = "/schema"

_WHEN: dict[int, str] = {
    400: "Invalid input: a validation rule, malformed JSON or a missing parameter",
    401: "Missing, invalid or expired credentials",
    403: "Signed in, but not allowed (an admin route without the admin role)",
    404: "Not found (another user's conversation or session answers exactly like a missing one)",
    409: "The email is already registered",
    413: "The request body is larger than the limit (64 KiB by default)",
    429: "Too many failed logins for this account or from this address; see `Retry-After`",
    500: "Unexpected error (details are logged, never sent)",
    502: "The sales assistant failed; nothing was stored, the request can be sent again",
    503: "The database is unavailable",
    504: "The sales assistant did not answer in time; nothing was stored",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Error-envelope responses for ``statuses``, plus 500 and 503 that any route can answer."""
    wanted = sorted({*statuses, 500, 503})
    return {
        status: ResponseSpec(
            data_container=ErrorEnvelope,
            description=_WHEN.get(status, HTTPStatus(status).phrase),
            generate_examples=False,
        )
        for status in wanted
    }


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Request bodies refuse unknown fields (``forbid_unknown_fields``): their schemas say so with
    ``additionalProperties: false``, which Litestar's own struct plugin leaves out. (Litestar
    exports no public base for this; the struct plugin is reused as it is.)"""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        if not super().is_plugin_supported_field(field_definition):
            return False
        info = msgspec.inspect.type_info(field_definition.type_)
        return isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


# Swagger UI's own files (swagger-ui-dist 5.18.2, Apache-2.0, its LICENSE beside them) are
# served by salesbot, so the page at /schema works with no internet, as the other pages do.
SWAGGER_UI = f"{STATIC_PATH}/swagger-ui"


def _swagger_ui() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        standalone_preset_js_url=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
        css_url=f"{SWAGGER_UI}/swagger-ui.css",
        favicon="",  # Litestar's default is an image on a CDN
    )


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="salesbot",
        version=version,
        description=(
            "AI sales chat: customers register, log in and chat with an LLM sales assistant. "
            "Every response is an envelope `{success, message, data, timestamp}`; errors add "
            "`path`. Authenticate with `Authorization: Bearer <accessToken>` from `/auth/login`. "
            "`POST /chat/send/stream` answers with Server-Sent Events instead (see its "
            "description); `GET /admin/leads.csv` with CSV."
        ),
        path=SCHEMA_PATH,
        render_plugins=[_swagger_ui(), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="The access token from /auth/login or /auth/refresh.",
                )
            }
        ),
        tags=[
            Tag(name="users", description="Registration and profile"),
            Tag(name="auth", description="Login, token refresh and logout"),
            Tag(name="chat", description="Conversations with the sales assistant"),
            Tag(name="admin", description="Sales insight for the shop's staff (admin role only)"),
            Tag(name="health", description="Liveness of the service and its database"),
        ],
    )
