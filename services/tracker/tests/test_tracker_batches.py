"""The tracker's batch handling on the real PostgreSQL: a batch's updates are read and written together,
yet every case ends as if its events had been applied one by one, and the outbox holds each published
change once, in order (the Kafka side is covered by test_tracker_integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityconfig import load_city
from contracts import Actor, ActorKind, CaseStatus, CaseStatusChanged, Event, decode
from servicekit import db
from servicekit.kafka import Delivery
from tracker.bootstrap import MIGRATIONS
from tracker.service import TrackerService

from .test_tracker_integration import new_case, routed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def deliveries(*events: Event) -> list[Delivery]:
    return [Delivery(event=e, topic=e.event_type, partition=0, offset=i) for i, e in enumerate(events)]


def unit_change(case: Any, to: CaseStatus, sequence: int, at: datetime) -> CaseStatusChanged:
    return CaseStatusChanged(
        case_id=case.case_id,
        correlation_id=case.correlation_id,
        occurred_at=at,
        case_number=case.case.case_number,
        from_status=CaseStatus.ROUTED,
        to_status=to,
        actor=Actor(kind=ActorKind.UNIT, id="zdm"),
        public_note="Ekipa w drodze",
        unit_id="zdm",
        sequence=sequence,
    )


async def test_a_mixed_batch_ends_as_one_by_one(fresh_db: Any) -> None:
    city = load_city(ROOT / "deploy" / "config" / "warsaw")
    pool = await db.create_pool(await fresh_db("tracker"), size=2)
    try:
        await db.migrate(pool, MIGRATIONS, "tracker")
        tracker = TrackerService(city, pool)
        now = datetime.now(UTC)
        plain = [new_case() for _ in range(20)]
        busy = new_case()  # created, routed and taken up in the same batch
        late = new_case()  # routed before its creation arrives
        late_routing = routed(late, at=now)
        batch = [
            late_routing,
            *plain,
            busy,
            *[routed(c, at=now) for c in plain],
            routed(busy, at=now),
            unit_change(busy, CaseStatus.IN_PROGRESS, 3, now + timedelta(seconds=1)),
        ]
        await tracker.handle(deliveries(*batch))
        await tracker.handle(deliveries(late))  # the parked routing is applied when the case comes

        rows = {
            r["case_id"]: r for r in await pool.fetch("SELECT case_id, status, unit_id, version FROM cases")
        }
        assert all((rows[c.case_id]["status"], rows[c.case_id]["version"]) == ("routed", 2) for c in plain)
        assert (rows[busy.case_id]["status"], rows[busy.case_id]["version"]) == ("in_progress", 3)
        assert (rows[late.case_id]["status"], rows[late.case_id]["unit_id"]) == ("routed", "zdm")
        history = await pool.fetch("SELECT case_id, sequence, status FROM history ORDER BY case_id, sequence")
        assert [(h["sequence"], h["status"]) for h in history if h["case_id"] == busy.case_id] == [
            (1, "new"),
            (2, "routed"),
            (3, "in_progress"),
        ]
        assert len(history) == 3 * 1 + 2 * 21  # busy: 3; the others: new and routed

        # the outbox: one status change per routing the tracker derived, none for the unit's own change
        published = [
            decode(r["topic"], bytes(r["payload"]))
            for r in await pool.fetch("SELECT topic, payload FROM outbox ORDER BY id")
        ]
        assert all(isinstance(e, CaseStatusChanged) for e in published)
        assert sorted(str(e.case_id) for e in published) == sorted(
            str(c.case_id) for c in [*plain, busy, late]
        )
        assert {(e.from_status, e.to_status, e.sequence) for e in published} == {
            (CaseStatus.NEW, CaseStatus.ROUTED, 2)
        }

        # the whole batch again (redelivered after a crash before the offsets were committed): no change
        await tracker.handle(deliveries(*batch, late))
        assert await pool.fetchval("SELECT count(*) FROM outbox") == len(published)
        assert await pool.fetchval("SELECT count(*) FROM history") == len(history)
        assert await pool.fetchval("SELECT count(*) FROM pending_events") == 0
    finally:
        await pool.close()
