"""The headers every answer carries, errors and event streams included: ``nosniff`` always, and
``no-store`` on everything but the public documents (``/health`` and the OpenAPI pages)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from salesbot_http.openapi import SCHEMA_PATH
from salesbot_http.web.pages import CONTENT_SECURITY_POLICY, is_page

# Answers nobody's tokens or personal data are in, which a cache may keep. Every other route,
# including ones added later and unknown paths, is private by default.
PUBLIC_PATHS = ("/health", SCHEMA_PATH)


def is_public(path: str) -> bool:
    return any(path == public or path.startswith(f"{public}/") for public in PUBLIC_PATHS)


async def add_response_headers(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: it sees the start of every answer the app sends, including those
    of its exception handlers, of routes that do not exist and of the body limit."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    # OWASP ASVS: a browser must not guess a type other than the declared one.
    headers["X-Content-Type-Options"] = "nosniff"
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    if is_page(path):
        # The pages run their own files only: an injected script has nowhere to come from.
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
    if not is_public(path):
        # RFC 6749 §5.1 for answers with tokens, and ASVS for personal data: no cache may keep
        # them. This replaces what a response set itself (Litestar's SSE says ``no-cache``).
        # ``Pragma`` is for HTTP/1.0 caches, as RFC 6749 asks.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
