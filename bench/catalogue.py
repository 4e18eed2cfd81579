"""The catalogue at shop scale: importing 100,000 products, and ``Catalogue.search`` latency on
them with the queries a reply's grounding makes.

Run ``uv run python bench/catalogue.py --database-url postgresql://postgres@127.0.0.1:5432/postgres``
(without it, on an embedded server). The products are generated (6 categories, 8 brands each,
names, English and Spanish descriptions, prices from 20 to 3,000) and written as a CSV file;
the import is timed from the file, through the core's parser and rules
(``read_products``) and ``ImportCatalogue``, into the scratch database, all in one transaction,
as ``salesbot catalogue import`` does it. Then ``PostgresCatalogue.search`` runs a mix of
realistic queries (1 to 3 words, English or Spanish, a third with a budget), limit 20.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import msgspec

from salesbot_core.catalogue import CatalogueFormat, read_products
from salesbot_core.grounding import retrieval_words
from salesbot_core.ports.catalogue import Catalogue, ProductQuery
from salesbot_core.usecases import ImportCatalogue
from salesbot_postgres import Database, DatabaseConfig
from scratch import Latency, execute, scratch_database

CATEGORIES = {
    "Laptops": (
        ["Apple", "Dell", "Lenovo", "ASUS", "HP", "Acer", "MSI", "Razer"],
        "light laptop portátil ligero keyboard teclado battery batería screen pantalla",
    ),
    "Chromebooks": (
        ["Acer", "HP", "Lenovo", "ASUS", "Samsung", "Google", "Dell", "CTL"],
        "chromebook school escuela cheap barato browsing navegar",
    ),
    "Phones": (
        ["Apple", "Samsung", "Google", "Motorola", "Xiaomi", "OnePlus", "Sony", "Nokia"],
        "phone teléfono móvil camera cámara battery batería zoom",
    ),
    "Headphones": (
        ["Sony", "Bose", "Jabra", "Apple", "Sennheiser", "JBL", "Beats", "Anker"],
        "headphones auriculares noise cancelling cancelación ruido wireless inalámbrico",
    ),
    "Monitors": (
        ["Dell", "LG", "Samsung", "ASUS", "BenQ", "AOC", "Acer", "ViewSonic"],
        "monitor pantalla gaming juegos 4K colour color office oficina",
    ),
    "Tablets": (
        ["Apple", "Samsung", "Lenovo", "Amazon", "Xiaomi", "Huawei", "Microsoft", "TCL"],
        "tablet tableta pencil lápiz reading leer video vídeo light ligera",
    ),
}
SERIES = ["Air", "Pro", "Max", "Go", "Plus", "Ultra", "Lite", "Neo", "One", "Edge", "Prime", "X"]
QUERIES = [
    ("laptop", "light"),
    ("portátil", "ligero"),
    ("jabra",),
    ("headphones", "noise", "cancelling"),
    ("auriculares", "inalámbricos"),
    ("gaming", "monitor"),
    ("chromebook",),
    ("macbook", "apple"),
    ("phone", "camera"),
    ("tableta", "barata"),
    ("keyboard",),
    ("sony", "wireless"),
]
HEADER = "sku,name,brand,category,description,price,currency,stock,url\n"


def write_catalogue(path: Path, count: int, rng: random.Random) -> None:
    categories = list(CATEGORIES.items())
    with path.open("w", encoding="utf-8") as file:
        file.write(HEADER)
        for n in range(count):
            category, (brands, words) = categories[n % len(categories)]
            brand = rng.choice(brands)
            vocabulary = words.split()
            name = f"{brand} {rng.choice(SERIES)} {rng.randint(1, 99)}"
            description = " ".join(rng.sample(vocabulary, k=min(5, len(vocabulary))))
            price = Decimal(rng.randint(2000, 300000)) / 100
            stock = 0 if rng.random() < 0.1 else rng.randint(1, 50)
            file.write(
                f"SKU-{n:06},{name},{brand},{category},{description}.,{price:.2f},USD,{stock},"
                f"https://shop.example/p/{n}\n"
            )


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="a PostgreSQL server [default: embedded]")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


async def measure(
    catalogue: Catalogue, queries: list[ProductQuery], args: argparse.Namespace, words: str
) -> None:
    samples, found = [], []
    for query in queries:
        started = time.perf_counter()
        result = await catalogue.search(query)
        samples.append((time.perf_counter() - started) * 1000)
        found.append(len(result))
    latency = Latency(samples)
    print(
        f"Catalogue.search on {args.products:,} products ({len(queries)} queries, words "
        f"{words}, limit 20): p50 {latency.p50:.2f} ms, p99 {latency.p99:.2f} ms, "
        f"max {latency.samples[-1]:.2f} ms; {statistics.mean(found):.1f} found on average"
    )


async def main() -> None:
    args = options()
    rng = random.Random(14)
    with (
        tempfile.TemporaryDirectory() as directory,
        scratch_database(args.database_url, keep=args.keep) as url,
    ):
        path = Path(directory) / "catalogue.csv"
        started = time.perf_counter()
        write_catalogue(path, args.products, rng)
        print(
            f"wrote {args.products:,} products ({path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        database = Database(DatabaseConfig(url))
        try:
            imported = ImportCatalogue(database.unit_of_work)
            with path.open("rb") as file:
                started = time.perf_counter()
                counts = await imported(read_products(file, CatalogueFormat.CSV))
                took = time.perf_counter() - started
            print(
                f"import: {counts.created:,} created in {took:.1f} s "
                f"({counts.created / took:,.0f} products/s)"
            )
            with path.open("rb") as file:
                started = time.perf_counter()
                counts = await imported(read_products(file, CatalogueFormat.CSV))
                took = time.perf_counter() - started
            print(f"import again: {counts.updated:,} updated in {took:.1f} s")
            execute(url, "VACUUM ANALYZE products")

            catalogue = database.catalogue()
            queries = [
                ProductQuery(
                    words=rng.choice(QUERIES),
                    limit=20,
                    max_price=Decimal(rng.choice([300, 800, 1500]))
                    if rng.random() < 0.33
                    else None,
                )
                for _ in range(args.searches)
            ]
            for query in queries[:50]:  # warm-up
                await catalogue.search(query)
            await measure(catalogue, queries, args, "as given")
            # As a reply's grounding asks: the words through the core's retrieval_words (Spanish
            # words joined by their English equivalents: "portátil ligero" is 6 words).
            expanded = [
                msgspec.structs.replace(q, words=retrieval_words([" ".join(q.words)]))
                for q in queries
            ]
            await measure(catalogue, expanded, args, "as grounding expands them")
        finally:
            await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
