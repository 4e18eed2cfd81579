"""How the app's route handlers are wired."""

from __future__ import annotations

from salesbot_http.app import create_app
from salesbot_http.settings import Settings

SECRET = "s" * 40


def test_no_handler_takes_more_than_one_dependency() -> None:
    """Litestar resolves two or more dependencies of a handler in an anyio task group
    (litestar#4563), a few percent of a short request's CPU: a handler's one dependency is its
    use case; the caller's identity comes from ``salesbot_http.auth`` helpers on the request."""
    app = create_app(Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET))
    handlers = [handler for route in app.routes for handler in getattr(route, "route_handlers", [])]
    taken = {
        f"{handler.handler_name}": [
            name
            for name in handler.resolve_dependencies()
            if name in handler.parsed_fn_signature.parameters
        ]
        for handler in handlers
    }

    assert len(handlers) > 20
    assert {name: names for name, names in taken.items() if len(names) > 1} == {}
    assert taken["send"] == ["send_message"]


def test_a_ranked_product_carries_its_sku_and_price_and_a_plain_name_stays_as_before() -> None:
    from decimal import Decimal

    import msgspec

    from salesbot_http.dto import CountOut

    linked = CountOut(
        name="XPS 15", count=3, sku="LAP-XPS", price=Decimal("1499.00"), currency="USD"
    )
    assert msgspec.json.decode(msgspec.json.encode(linked)) == {
        "name": "XPS 15",
        "count": 3,
        "sku": "LAP-XPS",
        "price": "1499.00",
        "currency": "USD",
    }
    assert msgspec.json.decode(msgspec.json.encode(CountOut(name="xps", count=1))) == {
        "name": "xps",
        "count": 1,
    }
