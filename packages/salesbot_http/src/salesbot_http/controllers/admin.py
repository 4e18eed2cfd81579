"""``/admin``: sales insight for the shop's staff: analytics, the leads, the leads as CSV, one
lead read whole (its transcript and its metadata as each distillation changed it), and the webhook
deliveries (listed, and one queued again).

Every route needs an access token carrying the ``admin`` role (``salesbot users grant-admin``):
anonymous is 401, a customer 403, before anything else is read. The use cases check the role
again, so the rule holds for every entry point.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from salesbot_core.domain import Role, SaleStatus
from salesbot_core.usecases import (
    GetLeadConversation,
    GetSalesAnalytics,
    LeadPage,
    ListLeads,
    ListWebhookDeliveries,
    RetryWebhooks,
)
from salesbot_core.webhooks import DeliveryStatus
from salesbot_http import auth
from salesbot_http.auth import BEARER_SECURITY, require_admin
from salesbot_http.dto import (
    AnalyticsOut,
    LeadConversationOut,
    LeadOut,
    WebhookDeliveryOut,
    analytics_out,
    lead_conversation_out,
    lead_out,
    webhook_delivery_out,
)
from salesbot_http.envelope import Envelope, ok
from salesbot_http.leads_csv import header, leads_csv
from salesbot_http.openapi import error_responses
from salesbot_http.paging import (
    NEXT_PAGE_HEADER,
    CursorParameter,
    decode_cursor,
    next_page_headers,
)

# Litestar adds "; charset=utf-8" to text media types.
CSV_MEDIA_TYPE = "text/csv"
# The export reads the leads a page at a time (the largest page ListLeads allows) and stops
# after this many rows, so one request cannot hold a connection for ever.
CSV_PAGE_SIZE = 200
CSV_MAX_ROWS = 100_000

SaleStatusFilter = Annotated[
    SaleStatus | None,
    QueryParameter(
        name="saleStatus",
        description="Only conversations with this sale status (e.g. negotiating: the hot leads)",
    ),
]
LeadSearch = Annotated[
    str | None,
    QueryParameter(
        name="q",
        description=(
            "Only conversations whose customer's name or email or whose title contains this "
            "text, in any case (at most 255 characters)"
        ),
    ),
]


async def _csv_body(
    first: LeadPage,
    list_leads: ListLeads,
    role: Role,
    status: SaleStatus | None,
    search: str | None,
) -> AsyncGenerator[str]:
    yield header()
    page, written = first, 0
    while True:
        rows = page.items[: CSV_MAX_ROWS - written]
        yield leads_csv(rows)
        written += len(rows)
        if page.next is None or written >= CSV_MAX_ROWS:
            return
        page = await list_leads(
            role=role, status=status, limit=CSV_PAGE_SIZE, after=page.next, search=search
        )


class AdminController(Controller):
    path = "/admin"
    tags = ("admin",)
    guards = (require_admin,)
    security = BEARER_SECURITY

    @get(
        "/analytics",
        summary="Sales figures over every conversation",
        description=(
            "Conversations by sale status, the top 10 interests and most offered and most "
            "rejected products (counted once per conversation, case-insensitively), conversion "
            "per UTC day over the last `days` days, tokens per exchange, and the conversation "
            "context the metadata design saved against sending the whole history."
        ),
        responses=error_responses(400, 401, 403),
    )
    async def analytics(
        self,
        request: Request[Any, Any, Any],
        get_sales_analytics: NamedDependency[GetSalesAnalytics],
        days: Annotated[
            int | None,
            Parameter(
                description="The conversion window: 1 to 366 [default 30]",
                schema_extra={"minimum": 1, "maximum": 366},
            ),
        ] = None,
    ) -> Envelope[AnalyticsOut]:
        current_role = auth.current_role(request)
        figures = await get_sales_analytics(role=current_role, days=days)
        return ok(analytics_out(figures), "Sales analytics retrieved successfully")

    @get(
        "/leads",
        summary="Leads: conversations with their customer, metadata and last message",
        description=(
            "Most recently updated first, a page at a time: when more remain, the `Link` header "
            "(rel=next) gives the URL of the next page. `q` searches the customer's name and "
            "email and the conversation's title (contains, any case) over every lead."
        ),
        responses=error_responses(400, 401, 403),
        response_headers=[NEXT_PAGE_HEADER],
    )
    async def leads(
        self,
        request: Request[Any, Any, Any],
        list_leads: NamedDependency[ListLeads],
        sale_status: SaleStatusFilter = None,
        q: LeadSearch = None,
        limit: Annotated[
            int | None,
            Parameter(
                description="Page size: 1 to 200 [default 50]",
                schema_extra={"minimum": 1, "maximum": 200},
            ),
        ] = None,
        cursor: CursorParameter = None,
    ) -> Response[Envelope[list[LeadOut]]]:
        current_role = auth.current_role(request)
        page = await list_leads(
            role=current_role,
            status=sale_status,
            limit=limit,
            after=decode_cursor(cursor) if cursor else None,
            search=q,
        )
        body = ok([lead_out(lead) for lead in page.items], "Leads retrieved successfully")
        params: dict[str, str | int | None] = {
            "saleStatus": sale_status.value if sale_status else None,
            "q": q or None,
            "limit": limit,
        }
        return Response(body, headers=next_page_headers(request.url.path, page.next, params))

    @get(
        "/leads.csv",
        media_type=CSV_MEDIA_TYPE,
        summary="The leads as CSV, for a CRM import",
        description=(
            "One row per conversation, most recently updated first, with a header row: "
            "conversationId, title, customerName, customerEmail, customerPhone, saleStatus, "
            "interests, offeredProducts, offeredSkus, offeredPrices, rejectedProducts, "
            "lastIntent, lastMessage, lastMessageAt, updatedAt. `saleStatus` and `q` select the "
            "leads as they do for `/admin/leads`. Lists are joined with `;`; offeredSkus and "
            "offeredPrices (`1099.00 USD`) line up with offeredProducts, empty for a name that "
            "is no catalogue product's. Times are ISO-8601 UTC. "
            "RFC 4180 quoting, UTF-8, CRLF line ends. A cell starting with `=`, `+`, `-`, `@`, "
            "a tab or a carriage return gets a leading `'` so spreadsheets never run it "
            f"(E.164 phone numbers excepted). At most {CSV_MAX_ROWS:,} rows (the most recently "
            "updated); page through `/admin/leads` for more."
        ),
        response_description="The CSV file (streamed).",
        responses=error_responses(400, 401, 403),
    )
    async def leads_csv(
        self,
        request: Request[Any, Any, Any],
        list_leads: NamedDependency[ListLeads],
        sale_status: SaleStatusFilter = None,
        q: LeadSearch = None,
    ) -> Stream:
        # The first page is read before answering, so a failure is still an error envelope.
        current_role = auth.current_role(request)
        first = await list_leads(
            role=current_role, status=sale_status, limit=CSV_PAGE_SIZE, search=q
        )
        return Stream(
            _csv_body(first, list_leads, current_role, sale_status, q),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
        )

    @get(
        "/webhooks/deliveries",
        summary="Webhook deliveries: one per event and URL, with their status",
        description=(
            "Newest first, a page at a time (the `Link` header, rel=next, gives the next page): "
            "status (pending, delivered, dead), attempts, the last error and HTTP status, when "
            "it is tried next, the event type and the URL. `salesbot webhooks retry` re-queues."
        ),
        responses=error_responses(400, 401, 403),
        response_headers=[NEXT_PAGE_HEADER],
    )
    async def webhook_deliveries(
        self,
        request: Request[Any, Any, Any],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        status: Annotated[
            DeliveryStatus | None,
            QueryParameter(description="Only deliveries with this status (e.g. dead)"),
        ] = None,
        limit: Annotated[
            int | None,
            Parameter(
                description="Page size: 1 to 200 [default 50]",
                schema_extra={"minimum": 1, "maximum": 200},
            ),
        ] = None,
        cursor: CursorParameter = None,
    ) -> Response[Envelope[list[WebhookDeliveryOut]]]:
        page = await list_webhook_deliveries(
            role=auth.current_role(request),
            status=status,
            limit=limit,
            after=decode_cursor(cursor) if cursor else None,
        )
        body = ok(
            [webhook_delivery_out(d) for d in page.items],
            "Webhook deliveries retrieved successfully",
        )
        params: dict[str, str | int | None] = {
            "status": status.value if status else None,
            "limit": limit,
        }
        return Response(body, headers=next_page_headers(request.url.path, page.next, params))

    @post(
        "/webhooks/deliveries/{delivery_id:str}/retry",
        status_code=HTTP_200_OK,
        summary="Queue one webhook delivery again",
        description=(
            "A dead (or delivered) delivery is pending again with attempts from 0 and a fresh "
            "retry window; the server's workers send it. 404 when the id is unknown or the "
            "delivery is already pending. What `salesbot webhooks retry ID` does."
        ),
        responses=error_responses(400, 401, 403, 404),
    )
    async def retry_webhook_delivery(
        self,
        request: Request[Any, Any, Any],
        delivery_id: Annotated[UUID, Parameter(description="The delivery's id (a UUID)")],
        retry_webhooks: NamedDependency[RetryWebhooks],
    ) -> Envelope[None]:
        await retry_webhooks.one_as(role=auth.current_role(request), delivery_id=delivery_id)
        return ok(None, "Webhook delivery queued again")

    @get(
        "/conversations/{conversation_id:str}",
        summary="One lead read whole: its transcript and its metadata, distillation by distillation",
        description=(
            "The conversation with its customer and metadata now, its latest messages "
            "(`ADMIN_TRANSCRIPT_MESSAGES`, 500 by default) and its latest distillations "
            "(`ADMIN_TRANSCRIPT_DISTILLATIONS`, 100 by default), both oldest first, each "
            "distillation with the metadata it left; `totalMessages` and `totalDistillations` "
            "count them all. Distillations applied before the history was kept are not listed."
        ),
        responses=error_responses(400, 401, 403, 404),
    )
    async def conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: Annotated[UUID, Parameter(description="The conversation's id (a UUID)")],
        get_lead_conversation: NamedDependency[GetLeadConversation],
    ) -> Envelope[LeadConversationOut]:
        current_role = auth.current_role(request)
        found = await get_lead_conversation(role=current_role, conversation_id=conversation_id)
        return ok(lead_conversation_out(found), "Conversation retrieved successfully")
