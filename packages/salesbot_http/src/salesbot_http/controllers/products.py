"""``/admin/products``: the shop's catalogue, maintained by its staff: list, create or replace,
delete, and import a whole file.

Admin only, as every ``/admin`` route (anonymous 401, a customer 403). Products are checked by
the core's catalogue rules (``salesbot_core.catalogue``), the same for a file and for one
product, and an import is all or nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated, Any
from urllib.parse import unquote

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from salesbot_core.catalogue import MAX_SKU, SKU_PATTERN, CatalogueFormat, read_products
from salesbot_core.errors import ProductNotFound
from salesbot_core.usecases import ImportCatalogue, ListProducts, RemoveProduct, SaveProduct
from salesbot_http.auth import BEARER_SECURITY, require_admin
from salesbot_http.dto import ImportOut, ProductIn, ProductOut, import_out, product_out
from salesbot_http.envelope import Envelope, ok
from salesbot_http.openapi import error_responses
from salesbot_http.paging import NEXT_PAGE_HEADER, next_link

CSV_TYPES = ("text/csv",)
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
# The upload is spooled to a temporary file past this size, so a large one never sits in memory.
SPOOL_BYTES = 1024 * 1024

# A sku may hold "/", so the route takes the rest of the path (``{sku:path}``, which Litestar
# hands over with its leading "/"): ``PUT /admin/products/ACME/X-1`` and ``.../ACME%2FX-1`` are
# both the product ``ACME/X-1``. The core checks the sku, as it checks a file's; the document
# shows its rule as the pattern.
Sku = Annotated[
    str,
    Parameter(
        description="The product's sku (it may contain `/`, as is or as `%2F`)",
        schema_extra={"pattern": f"^{SKU_PATTERN}$", "maxLength": MAX_SKU},
    ),
]


def _sku(request: Request[Any, Any, Any], routed: str) -> str:
    """The sku the request's path names. Litestar decodes ``%2F`` and then tidies the path
    before routing (``ACME%2F`` arrives as ``/ACME``, ``A//B`` as ``/A/B``), which would hand
    over another product's sku; so the path as sent must spell the routed sku exactly, or the
    request names no product (404)."""
    sku = routed.removeprefix("/")
    raw = request.scope.get("raw_path")
    if raw is not None and not unquote(raw.decode("ascii", "replace")).endswith(f"/{sku}"):
        raise ProductNotFound
    return sku


def _import_body() -> RequestBody:
    text = Schema(type=OpenAPIType.STRING, description="The file's bytes (UTF-8)")
    return RequestBody(
        required=True,
        description=(
            "The whole catalogue file as the body: CSV with a header row (`text/csv`) or JSON "
            "Lines (`application/x-ndjson`), the formats of `salesbot catalogue import`."
        ),
        content={media: OpenAPIMediaType(schema=text) for media in (*CSV_TYPES, JSONL_TYPES[0])},
    )


@dataclass
class _ImportOperation(Operation):
    """The import reads its body itself (a stream, not a decoded ``data``): its document entry
    says what the body is."""

    def __post_init__(self) -> None:
        self.request_body = _import_body()


def _format_of(request: Request[Any, Any, Any]) -> CatalogueFormat:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return CatalogueFormat.CSV
    if media in JSONL_TYPES:
        return CatalogueFormat.JSONL
    raise HTTPException(
        status_code=415,
        detail="Send the file as text/csv or application/x-ndjson",
    )


async def _spooled(request: Request[Any, Any, Any], limit: int) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spool.close()
            raise HTTPException(
                status_code=413,
                detail=f"The file is larger than {limit} bytes (CATALOGUE_IMPORT_MAX_BYTES)",
            )
        spool.write(chunk)
    spool.seek(0)
    return spool


def _lines(spool: IO[bytes]) -> Iterator[bytes]:
    yield from spool


@dataclass(frozen=True)
class CatalogueUpload:
    """What the import route needs, as its one dependency (see test_http_routes): the use case
    and the bound on the file (``CATALOGUE_IMPORT_MAX_BYTES``)."""

    import_catalogue: ImportCatalogue
    max_bytes: int


class ProductsController(Controller):
    path = "/admin/products"
    tags = ("admin",)
    guards = (require_admin,)
    security = BEARER_SECURITY

    @get(
        "/",
        summary="The catalogue's products, by sku",
        description=(
            "A page at a time, by sku: when more remain, the `Link` header (rel=next) gives the "
            "URL of the next page (its `cursor` is the last sku of this page). With `q`, only "
            "products matching any of its words (English or Spanish stems); with `category`, "
            "only that category (any case)."
        ),
        responses=error_responses(400, 401, 403),
        response_headers=[NEXT_PAGE_HEADER],
    )
    async def products(
        self,
        request: Request[Any, Any, Any],
        list_products: NamedDependency[ListProducts],
        q: Annotated[str | None, Parameter(description="Search words")] = None,
        category: Annotated[str | None, Parameter(description="Only this category")] = None,
        limit: Annotated[
            int | None,
            Parameter(
                description="Page size: 1 to 200 [default 50]",
                schema_extra={"minimum": 1, "maximum": 200},
            ),
        ] = None,
        cursor: Annotated[
            str | None,
            Parameter(
                description=(
                    "Where to continue: the sku after which the page starts (the `cursor` of "
                    "the `Link` header of the previous page; empty for the first page)"
                ),
                pattern=f"^({SKU_PATTERN})?$",  # a cursor is the sku to continue after
                max_length=MAX_SKU,
            ),
        ] = None,
    ) -> Response[Envelope[list[ProductOut]]]:
        page = await list_products(limit=limit, after=cursor, query=q, category=category)
        body = ok([product_out(p) for p in page.items], "Products retrieved successfully")
        headers = {}
        if page.next_after is not None:
            params: dict[str, str | int | None] = {
                "q": q or None,
                "category": category or None,
                "limit": limit,
                "cursor": page.next_after,
            }
            headers["Link"] = next_link(request.url.path, params)
        return Response(body, headers=headers)

    @put(
        "/{sku:path}",
        summary="Create or replace one product",
        description=(
            "The product's fields, checked by the same rules as a line of an import file. "
            "201 when the sku was new, 200 when it replaced a product; 404 when the path, as "
            "sent, is no sku (a `/` at its end, `//`, a `.` or `..` part)."
        ),
        responses=error_responses(400, 401, 403, 404),
        status_code=HTTP_200_OK,
    )
    async def save(
        self,
        request: Request[Any, Any, Any],
        sku: Sku,
        data: JSONBody[ProductIn],
        save_product: NamedDependency[SaveProduct],
    ) -> Response[Envelope[ProductOut]]:
        product, created = await save_product(_sku(request, sku), msgspec.structs.asdict(data))
        message = "Product created" if created else "Product updated"
        status = HTTP_201_CREATED if created else HTTP_200_OK
        return Response(ok(product_out(product), message), status_code=status)

    @delete(
        "/{sku:path}",
        status_code=HTTP_200_OK,
        summary="Delete one product",
        responses=error_responses(400, 401, 403, 404),
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        sku: Sku,
        remove_product: NamedDependency[RemoveProduct],
    ) -> Envelope[None]:
        await remove_product(_sku(request, sku))
        return ok(None, "Product deleted")

    @post(
        "/import",
        status_code=HTTP_200_OK,
        summary="Import a catalogue file (all or nothing)",
        description=(
            "Upserts every product of the file by sku; with `replace=true` also removes the "
            "products not in it. A file breaking a rule is refused with a 400 naming the line "
            "(`line 4: ...`; the CSV header is line 1) and nothing is imported. At most "
            "CATALOGUE_IMPORT_MAX_BYTES (413 beyond)."
        ),
        operation_class=_ImportOperation,
        request_max_body_size=None,  # bounded below by CATALOGUE_IMPORT_MAX_BYTES
        responses=error_responses(400, 401, 403, 413, 415),
    )
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        catalogue_upload: NamedDependency[CatalogueUpload],
        replace: Annotated[
            bool, Parameter(description="Also remove the products not in the file")
        ] = False,
    ) -> Envelope[ImportOut]:
        file_format = _format_of(request)
        spool = await _spooled(request, catalogue_upload.max_bytes)
        with spool:
            counts = await catalogue_upload.import_catalogue(
                read_products(_lines(spool), file_format), replace=replace
            )
        return ok(import_out(counts), "Catalogue imported")
