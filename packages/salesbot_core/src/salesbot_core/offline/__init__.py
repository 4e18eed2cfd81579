"""The offline sales assistant: rule-based, deterministic, English and Spanish.

It lives in the core, beside ``testing``, because it is an adapter with no external service:
pure computation over the core's own request types, so it keeps the core free of I/O libraries
and every user of the library (the service, other services, tests) gets a working assistant
without an LLM. It names only the products the core picked for the reply (``request.products``).
"""

from salesbot_core.offline.assistant import OfflineSalesAssistant, distil_by_rules, title_for
from salesbot_core.offline.catalogue import CATEGORIES, Category

__all__ = [
    "CATEGORIES",
    "Category",
    "OfflineSalesAssistant",
    "distil_by_rules",
    "title_for",
]
