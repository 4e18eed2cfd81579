"""Small catalogues for the grounding and offline-assistant tests (English, as a shop writes it)."""

from __future__ import annotations

from decimal import Decimal

from salesbot_core.domain import Product


def product(
    sku: str,
    name: str,
    *,
    brand: str,
    category: str,
    price: str,
    description: str = "",
    stock: int = 5,
    currency: str = "USD",
    attributes: dict[str, str] | None = None,
) -> Product:
    return Product(
        sku=sku,
        name=name,
        brand=brand,
        category=category,
        description=description or f"A {category} by {brand}.",
        price=Decimal(price),
        currency=currency,
        stock=stock,
        attributes=attributes or {},
    )


SHOP: tuple[Product, ...] = (
    product(
        "LAP-MBA13",
        "MacBook Air 13",
        brand="Apple",
        category="laptop",
        price="1099.00",
        description="Light laptop with an all-day battery and a bright Retina display.",
    ),
    product(
        "LAP-TP14",
        "ThinkPad T14",
        brand="Lenovo",
        category="laptop",
        price="1149.00",
        description="Business laptop with a superb keyboard and a durable build.",
    ),
    product(
        "LAP-XPS15",
        "XPS 15",
        brand="Dell",
        category="laptop",
        price="1499.00",
        description="Powerful laptop with a 15-inch OLED screen for creative work.",
    ),
    product(
        "LAP-CB14",
        "Chromebook Plus 14",
        brand="Acer",
        category="laptop",
        price="449.00",
        description="Simple, light laptop for school and the web.",
    ),
    product(
        "LAP-ROG16",
        "ROG Strix 16",
        brand="ASUS",
        category="laptop",
        price="2899.00",
        description="Gaming laptop with a fast 240 Hz screen.",
    ),
    product(
        "LAP-ZEN14",
        "Zenbook 14",
        brand="ASUS",
        category="laptop",
        price="899.00",
        description="Light laptop with great value and a long battery.",
        stock=0,
    ),
    product(
        "AUD-JAB8",
        "Elite 8 Active",
        brand="Jabra",
        category="headphones",
        price="199.00",
        description="Rugged wireless earbuds made for sport.",
    ),
    product(
        "AUD-JAB10",
        "Elite 10",
        brand="Jabra",
        category="headphones",
        price="249.00",
        description="Wireless earbuds with noise cancelling for calls.",
    ),
    product(
        "AUD-XM5",
        "WH-1000XM5",
        brand="Sony",
        category="headphones",
        price="399.00",
        description="Over-ear wireless headphones with class-leading noise cancelling.",
    ),
    product(
        "AUD-APP2",
        "AirPods Pro 2",
        brand="Apple",
        category="headphones",
        price="249.00",
        description="Tiny wireless earbuds with solid noise cancelling.",
    ),
)
