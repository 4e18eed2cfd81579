"""Picking the shop's products a reply is grounded in."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from salesbot_core.domain import Product, SalesMetadata
from salesbot_core.grounding import (
    GroundingPolicy,
    choose,
    grounding_texts,
    latest_budget,
    price_ceiling,
    retrieval_words,
)
from salesbot_core.ports.catalogue import Catalogue, ProductQuery
from salesbot_core.prompts import fitting_products


class Grounding(msgspec.Struct, frozen=True, kw_only=True):
    """The products a reply may name, and whether the shop has a catalogue at all."""

    products: tuple[Product, ...] = ()
    catalogue_loaded: bool = False


class PickProducts:
    """Pick the products for one reply.

    Rules (``salesbot_core.grounding`` owns each):
    - retrieval reads the new message, the customer's turns since the last distillation and
      the record's interests; Spanish shop words also look for their English equivalents;
    - the latest stated budget sets ``max_price`` to 1.5 times it;
    - the catalogue is asked for ``policy.candidates`` products; the rejected ones (the
      record's ``rejectedProducts``, by name or brand) are dropped, in-stock ones come first,
      at most ``policy.products`` remain, and of those the ones whose prompt lines fit in
      ``policy.prompt_chars`` (``prompts.fitting_products``);
    - an empty catalogue gives no products and says so (the prompt then names none).
    """

    def __init__(self, catalogue: Catalogue, policy: GroundingPolicy | None = None) -> None:
        self._catalogue = catalogue
        self._policy = policy or GroundingPolicy()

    async def __call__(
        self,
        customer_message: str,
        earlier_customer_turns: Sequence[str] = (),
        metadata: SalesMetadata | None = None,
    ) -> Grounding:
        if await self._catalogue.is_empty():
            return Grounding()
        if self._policy.products <= 0:
            return Grounding(catalogue_loaded=True)
        texts = grounding_texts(customer_message, earlier_customer_turns, metadata)
        words = retrieval_words(texts)[: max(self._policy.query_words, 1)]
        if not words:
            return Grounding(catalogue_loaded=True)
        budget = latest_budget(
            [*(metadata.interests if metadata else ()), *earlier_customer_turns, customer_message]
        )
        candidates = await self._catalogue.search(
            ProductQuery(
                words=words, limit=self._policy.candidates, max_price=price_ceiling(budget)
            )
        )
        rejected = metadata.rejected_products if metadata else ()
        chosen = choose(candidates, rejected, self._policy.products)
        return Grounding(
            products=fitting_products(chosen, self._policy.prompt_chars), catalogue_loaded=True
        )
