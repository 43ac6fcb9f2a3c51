"""Consumes case.created and rejections on case.status_changed; publishes case.routed."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter as Tally
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from cityconfig import CityIndex
from contracts import (
    Actor,
    ActorKind,
    CaseCreated,
    CaseDetails,
    CaseRouted,
    CaseStatus,
    CaseStatusChanged,
    Event,
    Reporter,
    RoutingReason,
)
from router.adapters import store
from router.domain.locate import DistrictLocator
from router.domain.routing import TRIAGE_TEXT, decide
from servicekit import db
from servicekit.kafka import Delivery, Publisher
from servicekit.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

ROUTED = Counter("cc_router_cases_routed_total", "Routing decisions published", ["unit", "rule"])
TRIAGED = Counter("cc_router_triage_total", "Cases sent to the triage queue", ["reason"])
REROUTED = Counter("cc_router_reroutes_total", "Re-routings after a unit rejected a case")
DUPLICATES = Counter("cc_router_duplicate_events_total", "Redelivered events ignored")
ROUTING_LATENCY = Histogram(
    "cc_router_routing_latency_seconds",
    "From the triggering event's time to the routing decision being published",
    buckets=LATENCY_BUCKETS,
)

for _reason in TRIAGE_TEXT:  # bounded label sets exist at zero from the start
    TRIAGED.labels(_reason.value)

NAMESPACE = uuid.UUID("6f1c7c1e-5d2a-4b8e-9a51-0c9e2f7d4a10")


class RouterHandler:
    def __init__(self, city: CityIndex, locator: DistrictLocator, pool: Any, publisher: Publisher) -> None:
        self.city = city
        self.locator = locator
        self.pool = pool
        self.publisher = publisher

    def _routed(self, rc: store.RouterCase, source_event_id: uuid.UUID, correlation_id: str) -> CaseRouted:
        assert rc.details is not None
        decision = decide(rc.details, self.city, self.locator, rc.rejected_units)
        now = datetime.now(UTC)
        unit = self.city.unit(decision.unit_id)
        return CaseRouted(
            # derived from the triggering event: a redelivery produces the same id, consumers dedupe it
            event_id=uuid.uuid5(NAMESPACE, f"routed:{source_event_id}"),
            case_id=rc.case_id,
            correlation_id=correlation_id,
            occurred_at=now,
            unit_id=decision.unit_id,
            unit_name=unit.name.pl if unit else decision.unit_id,
            reason=RoutingReason(
                rule=decision.rule,
                district=decision.district,
                district_source=decision.district_source,
                triage_reason=TRIAGE_TEXT[decision.triage_reason] if decision.triage_reason else None,
                excluded_units=rc.rejected_units,
            ),
            sla_due_at=decision.due(now),
            routed_by=Actor(kind=ActorKind.SYSTEM, id="router"),
            case=rc.details,
            reporter=rc.reporter,
        )

    async def handle(self, deliveries: list[Delivery]) -> None:
        """A batch in a few statements: the new cases that have no other event in the batch are saved
        together, the rest one by one in order, and all routing decisions recorded together."""
        out: list[tuple[CaseRouted, datetime]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await db.lock_and_claim(
                conn, [d.event.case_id for d in deliveries], [d.event.event_id for d in deliveries]
            )
            seen: set[uuid.UUID] = set()
            events: list[Event] = []
            for d in deliveries:
                if d.event.event_id not in fresh or d.event.event_id in seen:
                    DUPLICATES.inc()
                    continue
                seen.add(d.event.event_id)
                events.append(d.event)
            per_case = Tally(e.case_id for e in events)
            alone = [_kept(e) for e in events if isinstance(e, CaseCreated) and per_case[e.case_id] == 1]
            saved = await store.save_created_many(conn, alone) if alone else {}
            kept = {row[0]: row for row in alone}
            for event in events:
                if isinstance(event, CaseCreated):
                    row = kept.get(event.case_id) or _kept(event)
                    if event.case_id not in saved:
                        saved.update(await store.save_created_many(conn, [row]))
                    rc = store.RouterCase(*row, saved.pop(event.case_id))
                    routed = self._routed(rc, event.event_id, event.correlation_id)
                elif isinstance(event, CaseStatusChanged) and event.to_status is CaseStatus.REJECTED:
                    unit_id = (
                        event.actor.id
                        if event.actor.kind is ActorKind.UNIT and event.actor.id
                        else event.unit_id
                    )
                    if not unit_id:
                        raise ValueError("a rejection must name the unit that rejected the case")
                    rc = await store.add_rejection(conn, event.case_id, event.correlation_id, unit_id)
                    if rc.details is None:
                        log.info("rejection before creation; kept until the case arrives")
                        continue
                    routed = self._routed(rc, event.event_id, event.correlation_id)
                    REROUTED.inc()
                else:
                    continue
                out.append((routed, event.occurred_at))
            await store.set_units(conn, [(r.case_id, r.unit_id) for r, _ in out])
            await self.publisher.publish_many([r for r, _ in out])
        now = time.time()
        for routed, started in out:
            ROUTED.labels(routed.unit_id, routed.reason.rule).inc()
            if routed.is_triage:
                TRIAGED.labels(_reason_code(routed)).inc()
            ROUTING_LATENCY.observe(max(0.0, now - started.timestamp()))
            log.info(
                "case routed",
                extra={
                    "case_id": str(routed.case_id),
                    "correlation_id": routed.correlation_id,
                    "unit": routed.unit_id,
                    "rule": routed.reason.rule,
                    "district": routed.reason.district,
                },
            )


def _kept(event: CaseCreated) -> tuple[uuid.UUID, str, CaseDetails, Reporter | None]:
    """What the router keeps of a new case (case id, correlation id, details, and the reporter only with
    consent to share), in the order store.save_created_many and store.RouterCase take them."""
    case = event.case
    reporter = case.reporter if case.consent.share_contact_with_unit else None
    details = CaseDetails.model_validate(case.model_dump(exclude={"reporter", "consent", "secret_hash"}))
    return event.case_id, event.correlation_id, details, reporter


def _reason_code(routed: CaseRouted) -> str:
    for code, text in TRIAGE_TEXT.items():
        if text == routed.reason.triage_reason:
            return code.value
    return "other"
