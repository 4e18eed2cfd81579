"""Page sizes: every list the API returns is bounded by a default page and a maximum."""

from __future__ import annotations

import msgspec

from salesbot_core.errors import InvalidInput


class PageLimits(msgspec.Struct, frozen=True, kw_only=True):
    default: int
    maximum: int

    def size(self, requested: int | None) -> int:
        """The page size to use; ``InvalidInput`` for a size outside 1..maximum."""
        if requested is None:
            return self.default
        if not 1 <= requested <= self.maximum:
            raise InvalidInput("limit", f"must be 1 to {self.maximum}")
        return requested


class PagingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    conversations: PageLimits = PageLimits(default=50, maximum=100)
    messages: PageLimits = PageLimits(default=100, maximum=500)
    leads: PageLimits = PageLimits(default=50, maximum=200)
    products: PageLimits = PageLimits(default=50, maximum=200)
