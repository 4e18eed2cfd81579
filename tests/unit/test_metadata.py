"""Metadata merging keeps its invariants whatever the LLM answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from salesbot_core.domain import SalesMetadata, SaleStatus
from salesbot_core.metadata import MetadataLimits, merge_metadata, normalise_metadata

LIMITS = MetadataLimits(max_items=5, max_item_chars=20, max_intent_chars=30)

_items = st.lists(
    st.one_of(
        st.sampled_from(["Laptop", "laptop", " LAPTOP ", "Dell XPS 15", "dell xps 15", "", "  "]),
        st.text(max_size=40),
    ),
    max_size=12,
).map(tuple)

metadata = st.builds(
    SalesMetadata,
    interests=_items,
    offered_products=_items,
    rejected_products=_items,
    sale_status=st.sampled_from(list(SaleStatus)),
    last_intent=st.one_of(st.none(), st.text(max_size=60)),
)


def _keys(items: tuple[str, ...]) -> list[str]:
    return [item.casefold() for item in items]


@given(st.one_of(st.none(), metadata), metadata)
def test_merge_keeps_every_invariant(previous: SalesMetadata | None, answer: SalesMetadata) -> None:
    merged = merge_metadata(previous, answer, LIMITS)
    for items in (merged.interests, merged.offered_products, merged.rejected_products):
        assert len(items) <= LIMITS.max_items
        assert len(set(_keys(items))) == len(items)
        assert all(item and item == item.strip() for item in items)
        assert all(len(item) <= LIMITS.max_item_chars for item in items)
    assert not set(_keys(merged.offered_products)) & set(_keys(merged.rejected_products))
    assert merged.sale_status is answer.sale_status
    assert merged.last_intent is None or 0 < len(merged.last_intent) <= LIMITS.max_intent_chars
    assert normalise_metadata(merged, LIMITS) == merged


@given(st.one_of(st.none(), metadata), metadata)
def test_the_newest_rejection_always_survives(
    previous: SalesMetadata | None, answer: SalesMetadata
) -> None:
    merged = merge_metadata(previous, answer, LIMITS)
    newest = [" ".join(r.split())[:20].strip() for r in answer.rejected_products]
    newest = [r for r in newest if r]
    if newest:
        assert newest[-1].casefold() in _keys(merged.rejected_products)


def test_lists_are_unions_and_a_rejected_product_leaves_the_offered_list() -> None:
    previous = SalesMetadata(
        interests=("laptop",),
        offered_products=("MacBook Air M3", "Dell XPS 15"),
        sale_status=SaleStatus.INTERESTED,
        last_intent="compare laptops",
    )
    answer = SalesMetadata(
        interests=("Laptop", "programming"),
        offered_products=("ThinkPad T14",),
        rejected_products=("dell xps 15",),
        sale_status=SaleStatus.NEGOTIATING,
    )
    merged = merge_metadata(previous, answer, MetadataLimits())
    assert merged.interests == ("Laptop", "programming")
    assert merged.offered_products == ("MacBook Air M3", "ThinkPad T14")
    assert merged.rejected_products == ("dell xps 15",)
    assert merged.sale_status is SaleStatus.NEGOTIATING
    assert merged.last_intent == "compare laptops"


def test_caps_keep_the_most_recent_items() -> None:
    answer = SalesMetadata(interests=tuple(f"item {n}" for n in range(10)))
    merged = merge_metadata(None, answer, MetadataLimits(max_items=3))
    assert merged.interests == ("item 7", "item 8", "item 9")


def test_a_customer_may_change_their_mind_about_a_rejected_product() -> None:
    previous = SalesMetadata(rejected_products=("Dell XPS 15", "Chromebook"))
    answer = SalesMetadata(offered_products=("dell xps 15",), sale_status=SaleStatus.INTERESTED)
    merged = merge_metadata(previous, answer, MetadataLimits())
    assert merged.rejected_products == ("Chromebook",)
    assert merged.offered_products == ("dell xps 15",)
    # An answer that both offers and rejects a product keeps it rejected.
    both = SalesMetadata(offered_products=("Chromebook",), rejected_products=("Chromebook",))
    assert merge_metadata(previous, both, MetadataLimits()).rejected_products == (
        "Dell XPS 15",
        "Chromebook",
    )
