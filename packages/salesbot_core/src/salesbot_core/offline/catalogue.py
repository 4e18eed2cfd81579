"""The offline assistant's built-in demo catalogue: a few products per category, with the words
customers use for them in English and Spanish."""

from __future__ import annotations

import msgspec


class Product(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    category: str
    price: int  # whole US dollars: a demo catalogue, not a price list
    benefit_en: str
    benefit_es: str
    # Lower-case ways a customer refers to the product, besides its full name.
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name.lower(), *self.aliases)


class Category(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label_en: str
    label_es: str
    # The label with its article, as a sentence uses it ("a laptop", "unos auriculares").
    phrase_en: str
    phrase_es: str
    words: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        key="laptop",
        phrase_en="a laptop",
        phrase_es="un portátil",
        label_en="laptop",
        label_es="portátil",
        words=(
            "laptop",
            "notebook",
            "computer",
            "portátil",
            "portatil",
            "ordenador",
            "computadora",
            "computador",
        ),
    ),
    Category(
        key="phone",
        phrase_en="a phone",
        phrase_es="un teléfono",
        label_en="phone",
        label_es="teléfono",
        words=(
            "phone",
            "smartphone",
            "mobile",
            "cellphone",
            "teléfono",
            "telefono",
            "móvil",
            "movil",
            "celular",
        ),
    ),
    Category(
        key="headphones",
        phrase_en="headphones",
        phrase_es="unos auriculares",
        label_en="headphones",
        label_es="auriculares",
        words=(
            "headphones",
            "headphone",
            "earbuds",
            "headset",
            "auriculares",
            "audífonos",
            "audifonos",
            "cascos",
        ),
    ),
    Category(
        key="monitor",
        phrase_en="a monitor",
        phrase_es="un monitor",
        label_en="monitor",
        label_es="monitor",
        words=("monitor", "screen", "display", "pantalla"),
    ),
    Category(
        key="tablet",
        phrase_en="a tablet",
        phrase_es="una tableta",
        label_en="tablet",
        label_es="tableta",
        words=("tablet", "tableta", "ipad"),
    ),
)

PRODUCTS: tuple[Product, ...] = (
    Product(
        name="MacBook Air M3",
        category="laptop",
        price=1099,
        benefit_en="light with an all-day battery",
        benefit_es="ligero y con batería para todo el día",
        aliases=("macbook air", "macbook"),
    ),
    Product(
        name="Dell XPS 15",
        category="laptop",
        price=1499,
        benefit_en="powerful, with a 15-inch OLED screen",
        benefit_es="potente, con pantalla OLED de 15 pulgadas",
        aliases=("xps 15", "xps", "dell"),
    ),
    Product(
        name="Lenovo ThinkPad T14",
        category="laptop",
        price=1149,
        benefit_en="a superb keyboard and business-grade durability",
        benefit_es="un teclado excelente y gran durabilidad",
        aliases=("thinkpad", "t14"),
    ),
    Product(
        name="ASUS Zenbook 14",
        category="laptop",
        price=899,
        benefit_en="great value in a light body",
        benefit_es="muy buena relación calidad-precio y poco peso",
        aliases=("zenbook", "asus"),
    ),
    Product(
        name="iPhone 16",
        category="phone",
        price=799,
        benefit_en="a great camera and long software support",
        benefit_es="una gran cámara y años de actualizaciones",
        aliases=("iphone",),
    ),
    Product(
        name="Samsung Galaxy S24",
        category="phone",
        price=799,
        benefit_en="a bright screen and a versatile zoom camera",
        benefit_es="una pantalla brillante y una cámara con zoom versátil",
        aliases=("galaxy s24", "s24", "galaxy"),
    ),
    Product(
        name="Google Pixel 9",
        category="phone",
        price=699,
        benefit_en="the cleanest Android and excellent photos",
        benefit_es="Android limpio y fotos excelentes",
        aliases=("pixel 9", "pixel"),
    ),
    Product(
        name="Motorola Edge 50",
        category="phone",
        price=499,
        benefit_en="fast charging at a friendly price",
        benefit_es="carga rápida a buen precio",
        aliases=("motorola", "edge 50"),
    ),
    Product(
        name="Sony WH-1000XM5",
        category="headphones",
        price=399,
        benefit_en="class-leading noise cancelling",
        benefit_es="la mejor cancelación de ruido",
        aliases=("sony", "xm5", "wh-1000xm5"),
    ),
    Product(
        name="Bose QuietComfort Ultra",
        category="headphones",
        price=429,
        benefit_en="all-day comfort and immersive sound",
        benefit_es="comodidad todo el día y sonido envolvente",
        aliases=("bose", "quietcomfort"),
    ),
    Product(
        name="AirPods Pro 2",
        category="headphones",
        price=249,
        benefit_en="tiny earbuds with solid noise cancelling",
        benefit_es="auriculares pequeños con buena cancelación de ruido",
        aliases=("airpods",),
    ),
    Product(
        name="Jabra Elite 8",
        category="headphones",
        price=199,
        benefit_en="rugged earbuds made for sport",
        benefit_es="resistentes y pensados para el deporte",
        aliases=("jabra",),
    ),
    Product(
        name="Dell UltraSharp U2723QE",
        category="monitor",
        price=579,
        benefit_en="a sharp 4K panel with USB-C docking",
        benefit_es="panel 4K nítido con conexión USB-C",
        aliases=("ultrasharp", "u2723qe"),
    ),
    Product(
        name="LG 27GP850",
        category="monitor",
        price=399,
        benefit_en="a fast 165 Hz panel for gaming",
        benefit_es="un panel rápido de 165 Hz para jugar",
        aliases=("lg", "27gp850"),
    ),
    Product(
        name="Samsung Odyssey G5",
        category="monitor",
        price=299,
        benefit_en="a curved QHD screen at a low price",
        benefit_es="pantalla curva QHD a buen precio",
        aliases=("odyssey", "g5"),
    ),
    Product(
        name="iPad Air",
        category="tablet",
        price=599,
        benefit_en="a fast chip and pencil support",
        benefit_es="un chip rápido y compatibilidad con lápiz",
        aliases=("ipad air",),
    ),
    Product(
        name="Samsung Galaxy Tab S9",
        category="tablet",
        price=799,
        benefit_en="a water-resistant AMOLED tablet with a pen included",
        benefit_es="pantalla AMOLED resistente al agua y lápiz incluido",
        aliases=("tab s9", "galaxy tab"),
    ),
    Product(
        name="Lenovo Tab P12",
        category="tablet",
        price=349,
        benefit_en="a big screen for little money",
        benefit_es="una pantalla grande por poco dinero",
        aliases=("tab p12", "lenovo tab"),
    ),
)
