"""CheckIntegrity: every invariant checked or reported skipped, every violation listed."""

from __future__ import annotations

from collections.abc import Sequence

from salesbot_core.ports import Invariant, Violation
from salesbot_core.usecases import CheckIntegrity


class _Checker:
    def __init__(self, found: dict[Invariant, list[Violation]], missing: set[Invariant]) -> None:
        self.found = found
        self.missing = missing
        self.asked: list[Invariant] = []

    async def can_check(self, invariant: Invariant) -> bool:
        return invariant not in self.missing

    async def violations(self, invariant: Invariant) -> Sequence[Violation]:
        self.asked.append(invariant)
        return self.found.get(invariant, [])


def _violation(invariant: Invariant, subject: str) -> Violation:
    return Violation(invariant=invariant, subject=subject, detail="found")


async def test_every_violation_of_every_invariant_is_listed_in_order() -> None:
    found = {
        Invariant.COUNTER: [_violation(Invariant.COUNTER, "c1")],
        Invariant.MESSAGE_COUNT: [
            _violation(Invariant.MESSAGE_COUNT, "c2"),
            _violation(Invariant.MESSAGE_COUNT, "c3"),
        ],
    }
    checker = _Checker(found, missing=set())

    report = await CheckIntegrity(checker)()

    assert not report.clean
    assert checker.asked == list(Invariant)
    assert [(v.invariant, v.subject) for v in report.violations] == [
        (Invariant.MESSAGE_COUNT, "c2"),
        (Invariant.MESSAGE_COUNT, "c3"),
        (Invariant.COUNTER, "c1"),
    ]


async def test_an_invariant_the_store_cannot_check_is_skipped_not_passed() -> None:
    checker = _Checker({}, missing={Invariant.OUTBOX_EVENT_COMMITTED})

    report = await CheckIntegrity(checker)()

    assert report.clean
    assert report.skipped == (Invariant.OUTBOX_EVENT_COMMITTED,)
    assert Invariant.OUTBOX_EVENT_COMMITTED not in report.checked
    assert Invariant.OUTBOX_EVENT_COMMITTED not in checker.asked
    assert len(report.checked) == len(Invariant) - 1
