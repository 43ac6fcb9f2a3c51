"""The router's batch handling on the real PostgreSQL: a batch is saved in a few statements, yet every
case ends as if its events had been handled one by one (the published events are captured here; the
Kafka side is covered by test_router_integration)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from contracts import Actor, ActorKind, CaseRouted, CaseStatus, CaseStatusChanged, Event
from router.bootstrap import MIGRATIONS
from router.domain.locate import DistrictLocator
from router.entrypoints.consumers import RouterHandler
from servicekit import db
from servicekit.kafka import Delivery

from .test_router_integration import created

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


class Captured:
    """Stands in for the Kafka publisher: what the handler would publish."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish_many(self, events: list[Any]) -> None:
        self.events += events


def deliveries(*events: Event) -> list[Delivery]:
    return [Delivery(event=e, topic=e.event_type, partition=0, offset=i) for i, e in enumerate(events)]


def rejection(case: Any, unit: str) -> CaseStatusChanged:
    return CaseStatusChanged(
        case_id=case.case_id,
        correlation_id=case.correlation_id,
        case_number=case.case.case_number,
        from_status=CaseStatus.ROUTED,
        to_status=CaseStatus.REJECTED,
        actor=Actor(kind=ActorKind.UNIT, id=unit),
        public_note="Nie nasza właściwość",
        unit_id=unit,
        sequence=3,
    )


async def test_a_mixed_batch_ends_as_one_by_one(fresh_db: Any) -> None:
    from cityconfig import load_city

    city = load_city(ROOT / "deploy" / "config" / "warsaw")
    pool = await db.create_pool(await fresh_db("router"), size=2)
    try:
        await db.migrate(pool, MIGRATIONS, "router")
        out = Captured()
        handler = RouterHandler(city, DistrictLocator(city), pool, out)  # type: ignore[arg-type]
        plain = [created("drogi.nawierzchnia") for _ in range(30)]
        early = created("drogi.nawierzchnia")  # its rejection arrives before the case
        twice = created("drogi.nawierzchnia")  # created and rejected in the same batch
        batch = [
            *plain[:10],
            rejection(early, "ud-mokotow"),
            *plain[10:20],
            early,
            twice,
            rejection(twice, "ud-mokotow"),
            *plain[20:],
            plain[0],  # a redelivery in the same batch
        ]
        await handler.handle(deliveries(*batch))
        routed: dict[uuid.UUID, list[CaseRouted]] = {}
        for e in out.events:
            routed.setdefault(e.case_id, []).append(e)
        assert all([r.unit_id for r in routed[c.case_id]] == ["ud-mokotow"] for c in plain)
        assert [r.unit_id for r in routed[early.case_id]] == ["zdm"]  # the early rejection was honoured
        assert routed[early.case_id][0].reason.excluded_units == ["ud-mokotow"]
        assert [r.unit_id for r in routed[twice.case_id]] == ["ud-mokotow", "zdm"]
        rows = {
            r["case_id"]: r
            for r in await pool.fetch("SELECT case_id, current_unit, routings, details FROM cases")
        }
        assert len(rows) == 32
        assert all(
            (rows[c.case_id]["current_unit"], rows[c.case_id]["routings"]) == ("ud-mokotow", 1) for c in plain
        )
        assert (rows[early.case_id]["current_unit"], rows[early.case_id]["routings"]) == ("zdm", 1)
        assert (rows[twice.case_id]["current_unit"], rows[twice.case_id]["routings"]) == ("zdm", 2)
        assert all(r["details"]["description"] == "opis" for r in rows.values())

        # the whole batch again (a redelivery after a crash before the commit of offsets): nothing changes
        before = len(out.events)
        await handler.handle(deliveries(*batch))
        assert len(out.events) == before
        again = {r["case_id"]: r["routings"] for r in await pool.fetch("SELECT case_id, routings FROM cases")}
        assert again == {k: v["routings"] for k, v in rows.items()}
    finally:
        await pool.close()
