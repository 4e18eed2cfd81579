"""Checking what is stored against the invariants the exchange path promises to keep."""

from __future__ import annotations

import msgspec

from salesbot_core.ports.integrity import IntegrityChecker, Invariant, Violation


class IntegrityReport(msgspec.Struct, frozen=True, kw_only=True):
    checked: tuple[Invariant, ...]
    skipped: tuple[Invariant, ...]
    violations: tuple[Violation, ...]

    @property
    def clean(self) -> bool:
        return not self.violations


class CheckIntegrity:
    """Run every invariant check and list every violation.

    Rules: every ``Invariant`` is checked unless the store keeps nothing it is about (then it
    is reported as skipped, never as passed); violations are listed in invariant order, all of
    them, not only the first.
    """

    def __init__(self, checker: IntegrityChecker) -> None:
        self._checker = checker

    async def __call__(self) -> IntegrityReport:
        checked: list[Invariant] = []
        skipped: list[Invariant] = []
        violations: list[Violation] = []
        for invariant in Invariant:
            if not await self._checker.can_check(invariant):
                skipped.append(invariant)
                continue
            checked.append(invariant)
            violations.extend(await self._checker.violations(invariant))
        return IntegrityReport(
            checked=tuple(checked), skipped=tuple(skipped), violations=tuple(violations)
        )
