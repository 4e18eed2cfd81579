"""The offline assistant's language rules for the shop's categories: the words customers use for
them in English and Spanish, and how a sentence names them. The products themselves come from
the shop's catalogue, through the core's grounding (``ReplyRequest.products``)."""

from __future__ import annotations

import msgspec


class Category(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label_en: str
    label_es: str
    # The label with its article, as a sentence uses it ("a laptop", "unos auriculares").
    phrase_en: str
    phrase_es: str
    words: tuple[str, ...]

    def covers(self, category: str) -> bool:
        """Whether a catalogue category (as the shop wrote it) is this one."""
        folded = category.strip().lower()
        return folded in (self.key, self.label_en, self.label_es, *self.words) or any(
            word in folded.split() for word in (self.key, *self.words)
        )


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
            "audio",
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
