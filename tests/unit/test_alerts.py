"""Deadline alerts, the decision: which alerts are due at a given time, on a fake clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from incident.adapters.obligation_tables import ObligationRecord
from incident.service.alerts import MISSED, Alert, AlertId, due_alerts, point_label

DUE = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
POINTS = (24.0, 6.0, 1.0)


def _ob(key: str = "gdpr_art33/authority/NL", *, due: datetime | None = DUE,
        status: str = "open") -> ObligationRecord:  # fmt: skip
    return ObligationRecord(
        incident_id="INC-1", key=key, rule_id="gdpr_art33", regime="GDPR", recipient="authority",
        recipient_name="Autoriteit Persoonsgegevens", stage="notification", jurisdiction="NL",
        persons=3, reason="-", citation="Art. 33", deadline="72h", clock_note="-",
        time_zone="Europe/Amsterdam", clock_start_kind="aware", due=due, status=status,
        law_enforcement_delay="-", facts_hash="x",
    )  # fmt: skip


class FakeClock:
    """Moves forward; every `check` records what fired, as the worker's store would."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sent: set[AlertId] = set()
        self.fired: list[tuple[datetime, Alert]] = []

    def check(self, obligations: Iterable[ObligationRecord]) -> list[Alert]:
        alerts = due_alerts(obligations, self.sent, self.now, POINTS)
        self.sent |= {a.id for a in alerts}
        self.fired += [(self.now, a) for a in alerts]
        return alerts

    def run_until(
        self, end: datetime, step: timedelta, obligations: list[ObligationRecord]
    ) -> None:
        while self.now <= end:
            self.check(obligations)
            self.now += step


def test_each_configured_point_fires_once_then_missed_fires_once() -> None:
    """Checked every 10 min from 3 days before to 2 days after: 24h, 6h, 1h, missed, once."""
    clock = FakeClock(DUE - timedelta(days=3))
    clock.run_until(DUE + timedelta(days=2), timedelta(minutes=10), [_ob()])

    assert [a.point for _, a in clock.fired] == ["24h", "6h", "1h", MISSED]
    when = {a.point: at for at, a in clock.fired}
    assert when["24h"] == DUE - timedelta(hours=24)
    assert when["6h"] == DUE - timedelta(hours=6)
    assert when["1h"] == DUE - timedelta(hours=1)
    assert when[MISSED] == DUE


def test_a_point_not_yet_reached_does_not_fire() -> None:
    assert due_alerts([_ob()], set(), DUE - timedelta(hours=24, seconds=1), POINTS) == []


def test_a_check_that_runs_late_sends_only_the_tightest_point_crossed() -> None:
    """The worker was down from 30 h to 3 h before the deadline: one '6h' alert, not two."""
    alerts = due_alerts([_ob()], set(), DUE - timedelta(hours=3), POINTS)

    assert [a.point for a in alerts] == ["6h"]
    assert due_alerts([_ob()], {alerts[0].id}, DUE - timedelta(hours=2), POINTS) == []


def test_a_deadline_first_seen_after_it_passed_alerts_missed_only() -> None:
    alerts = due_alerts([_ob()], set(), DUE + timedelta(hours=5), POINTS)

    assert [(a.point, a.due) for a in alerts] == [(MISSED, DUE)]


def test_a_met_obligation_never_alerts() -> None:
    met = _ob(status="met")
    clock = FakeClock(DUE - timedelta(days=2))
    clock.run_until(DUE + timedelta(days=1), timedelta(minutes=30), [met])

    assert clock.fired == []


def test_an_obligation_without_a_due_time_never_alerts() -> None:
    assert due_alerts([_ob(due=None)], set(), DUE, POINTS) == []


def test_an_obligation_met_between_points_stops_alerting() -> None:
    ob = _ob()
    clock = FakeClock(DUE - timedelta(hours=7))
    clock.run_until(DUE - timedelta(hours=5), timedelta(minutes=15), [ob])
    ob.status = "met"
    clock.run_until(DUE + timedelta(hours=5), timedelta(minutes=15), [ob])

    assert [a.point for _, a in clock.fired] == ["24h", "6h"]


def test_each_obligation_has_its_own_points() -> None:
    later = _ob("ccpa/individuals/US-CA", due=DUE + timedelta(days=10))
    alerts = due_alerts([_ob(), later], set(), DUE - timedelta(minutes=30), POINTS)

    assert [(a.obligation_key, a.point) for a in alerts] == [("gdpr_art33/authority/NL", "1h")]


def test_points_are_configurable_and_labelled_in_hours() -> None:
    alerts = due_alerts([_ob()], set(), DUE - timedelta(hours=47), (48.0, 0.5))

    assert [a.point for a in alerts] == ["48h"]
    assert point_label(0.5) == "0.5h" and point_label(24.0) == "24h"
