"""In-memory adapters for tests, shipped so other services that import the core can test with them.

- ``InMemoryStore``: the whole persistence port in memory; ``store.uow_factory`` is a
  ``UnitOfWorkFactory``. Units of work are serialised (one at a time), see nothing of each other
  until commit, and count commits.
- ``ScriptedAssistant``: answers from a script and records every request and the prompt an LLM
  would have been sent.
- ``append_exchange``: records an exchange in any store as the core plans it (test seeding).
- ``InMemoryCatalogue``: the in-memory ``Catalogue``, over the shop's products in a list (for
  grounding tests) or, as ``store.catalogue()``, over the store's products (``uow.products``).
- ``InMemoryAttemptCounter``: failed-login counters whose windows end by a (fake) clock.
- ``TestObservers``: what both stores offer tests beyond the port (seeding, listing).
- ``FakeClock``, ``SequentialIds``, ``FastPasswordHasher``, ``FakeTokenIssuer``.
"""

from salesbot_core.testing.assistant import FailMidStream, ScriptedAssistant, pieces
from salesbot_core.testing.attempts import InMemoryAttemptCounter
from salesbot_core.testing.catalogue import InMemoryCatalogue, InMemoryProducts
from salesbot_core.testing.exchanges import Exchange, append_exchange
from salesbot_core.testing.memory import InMemoryStore, InMemoryUnitOfWork
from salesbot_core.testing.observers import TestObservers
from salesbot_core.testing.outbox import RecordingPoster
from salesbot_core.testing.support import (
    FakeClock,
    FakeTokenIssuer,
    FastPasswordHasher,
    SequentialIds,
)

__all__ = [
    "Exchange",
    "FailMidStream",
    "FakeClock",
    "FakeTokenIssuer",
    "FastPasswordHasher",
    "InMemoryAttemptCounter",
    "InMemoryCatalogue",
    "InMemoryProducts",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "RecordingPoster",
    "ScriptedAssistant",
    "SequentialIds",
    "TestObservers",
    "append_exchange",
    "pieces",
]
