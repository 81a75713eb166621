"""The fault-injection suite's ledger: each test that injects a fault (a failure, an
interrupt, a SIGKILL and ``kiln reap``, an engine that goes away) reports its
injection point and what it found left over through the ``fault_report`` fixture;
the session's summary prints how many points were tried and what leaked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest


@dataclass
class FaultReport:
    #: (suite, point, leftovers by kind) for every injection point tried
    points: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)

    def check(self, suite: str, point: str, leftovers: Mapping[str, Sequence[str]]) -> None:
        """Record one injection point and assert that nothing of the build remains."""
        found = {kind: list(items) for kind, items in leftovers.items() if items}
        self.points.append((suite, point, found))
        assert not found, f"{suite} / {point}: left behind {found}"


_REPORT = FaultReport()


@pytest.fixture
def fault_report() -> FaultReport:
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT.points:
        return
    suites: dict[str, int] = {}
    for suite, _, _ in _REPORT.points:
        suites[suite] = suites.get(suite, 0) + 1
    leaked = [(suite, point, found) for suite, point, found in _REPORT.points if found]
    per_suite = ", ".join(f"{suite} {n}" for suite, n in sorted(suites.items()))
    terminalreporter.write_sep("=", "fault injection")
    terminalreporter.write_line(
        f"{len(_REPORT.points)} injection points tried ({per_suite}); "
        f"leftovers found at {len(leaked)}"
    )
    for suite, point, found in leaked:
        terminalreporter.write_line(f"  LEAK {suite} / {point}: {found}")
