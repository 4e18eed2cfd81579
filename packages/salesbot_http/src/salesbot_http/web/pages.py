"""The routes of the pages: ``/`` (the chat), ``/console`` (the admin console) and their assets
under ``/static``. The documents are public shells: every figure they show comes from the JSON
API, whose guards decide who may read it (a customer's console shows the API's 403)."""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
# The pages run only their own files: no inline script or style, nothing from another origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_page(path: str) -> bool:
    return path in {"/", "/console"} or path.startswith(f"{STATIC_PATH}/")


def _page(name: str) -> File:
    return File(STATIC_DIR / name, content_disposition_type="inline", media_type="text/html")


@get("/", include_in_schema=False, sync_to_thread=False)
def chat_page() -> File:
    return _page("chat.html")


@get("/console", include_in_schema=False, sync_to_thread=False)
def console_page() -> File:
    return _page("console.html")


def page_handlers() -> list[ControllerRouterHandler]:
    return [
        chat_page,
        console_page,
        create_static_files_router(
            path=STATIC_PATH, directories=[STATIC_DIR], include_in_schema=False
        ),
    ]
