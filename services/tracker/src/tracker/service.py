"""The tracker's use cases: applying events to the case state, and the commands of units, consultants
and residents. Every state change is written with its history entry and its event in one transaction."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from cityconfig import CityIndex
from contracts import (
    TOPICS,
    Actor,
    ActorKind,
    CaseCreated,
    CaseDetails,
    CaseRouted,
    CaseStatus,
    CaseStatusChanged,
    Event,
    Language,
    RoutingReason,
)
from servicekit import db, outbox
from servicekit.kafka import Delivery
from tracker.adapters import store
from tracker.adapters.store import CaseRow, Change
from tracker.domain.lifecycle import StatusTransitionError, check_transition

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0b7f2c55-3f7e-4d8a-8f0e-5c3b8a9d1e22")
TIME_BUCKETS = (
    60,
    300,
    900,
    3600,
    4 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    4 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    60 * 86400,
)

TRANSITIONS = Counter(
    "cc_tracker_transitions_total", "Status transitions applied", ["from_status", "to_status"]
)
FIRST_RESPONSE = Histogram(
    "cc_tracker_time_to_first_response_seconds",
    "From creation to the unit's first action",
    buckets=TIME_BUCKETS,
)
TIME_TO_CLOSE = Histogram(
    "cc_tracker_time_to_close_seconds", "From creation to closure", buckets=TIME_BUCKETS
)
OUT_OF_ORDER = Counter(
    "cc_tracker_out_of_order_events_total", "Events parked until their case arrived", ["topic"]
)
DUPLICATE_EVENTS = Counter("cc_tracker_duplicate_events_total", "Redelivered events ignored", ["topic"])


class NotFoundError(LookupError):
    pass


class ForbiddenError(PermissionError):
    pass


@dataclass
class Outcome:
    case_id: uuid.UUID
    case_number: str
    status: CaseStatus
    sequence: int


def routed_change_id(event: CaseRouted) -> uuid.UUID:
    """The id of the status change a routing makes (the same on every replay)."""
    return uuid.uuid5(NAMESPACE, f"status-of-routed:{event.event_id}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TrackerService:
    def __init__(self, city: CityIndex, pool: Any, emit: bool = True) -> None:
        self.city = city
        self.pool = pool
        self.emit = emit  # False while replaying: the events are already on the topics

    # ---- events -> state -------------------------------------------------------------------------
    async def handle(self, deliveries: list[Delivery]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await db.lock_and_claim(
                conn, [d.event.case_id for d in deliveries], [d.event.event_id for d in deliveries]
            )
            seen: set[uuid.UUID] = set()
            todo: list[Event] = []
            for d in deliveries:
                if d.event.event_id not in fresh or d.event.event_id in seen:
                    DUPLICATE_EVENTS.labels(d.topic).inc()
                    continue
                seen.add(d.event.event_id)
                todo.append(d.event)
            await self.apply_batch(conn, todo)

    async def apply_batch(self, conn: Any, events: list[Event]) -> None:
        """The batch with few round trips: new cases in one statement first (so later events of the same
        batch find them), then the status changes this tracker already derived are skipped in one query,
        and the rest is applied one by one, in order."""
        created = [e for e in events if isinstance(e, CaseCreated)]
        if created:
            inserted = await store.insert_created_many(conn, created)
            for new in created:
                if new.case_id in inserted:
                    log.info(
                        "case tracked",
                        extra={
                            "case_id": str(new.case_id),
                            "correlation_id": new.correlation_id,
                            "case_number": new.case.case_number,
                        },
                    )
            parked = await store.take_pending_many(conn, list(inserted)) if inserted else {}
            for case_id in inserted:
                for topic, payload in parked.get(case_id, []):
                    update = TOPICS[topic].model.model_validate(payload)
                    if isinstance(update, CaseRouted | CaseStatusChanged):  # only updates are ever parked
                        await self.apply(conn, update)
        # the history entries each event would write: those already there were applied before
        entries = {
            e.event_id: routed_change_id(e) if isinstance(e, CaseRouted) else e.event_id
            for e in events
            if isinstance(e, CaseRouted | CaseStatusChanged)
        }
        known = await store.history_has_many(conn, list(entries.values())) if entries else set()
        updates = [
            e
            for e in events
            if isinstance(e, CaseRouted | CaseStatusChanged) and entries[e.event_id] not in known
        ]
        if updates:
            await self._apply_updates(conn, updates)

    async def _apply_updates(self, conn: Any, updates: list[CaseRouted | CaseStatusChanged]) -> None:
        """Updates whose case has only this one in the batch are read and written together (one statement
        each); a case with several goes one event at a time, in order. Their events go out together."""
        per_case = Tally(e.case_id for e in updates)
        alone = [e for e in updates if per_case[e.case_id] == 1]
        cases = await store.get_cases_many(conn, [e.case_id for e in alone]) if alone else {}
        out: list[Event] = []
        writes: list[tuple[CaseRow, Change, bool]] = []
        for event in alone:
            case = cases.get(event.case_id)
            if case is None:
                await self._park(conn, event)
            elif (planned := self._change_for(case, event)) is not None:
                writes.append((case, *planned))
        sequences = await store.write_changes(conn, [(case, change) for case, change, _ in writes])
        for (case, change, publish), sequence in zip(writes, sequences, strict=True):
            self._written(case, change, sequence, out if publish else None)
        for event in updates:
            if per_case[event.case_id] > 1:
                await self.apply(conn, event, checked=True, out=out)
        if out and self.emit:
            await outbox.enqueue(conn, out)

    async def apply(
        self,
        conn: Any,
        event: CaseRouted | CaseStatusChanged,
        checked: bool = False,
        out: list[Event] | None = None,
    ) -> None:
        """One update of a case (new cases go through apply_batch); `checked`: the caller already knows
        its history entry is not there yet; `out`: where its event goes (else to the outbox at once)."""
        case = await store.get_case(conn, event.case_id, lock=True)
        if case is None:
            await self._park(conn, event)
            return
        if not checked:
            change_id = routed_change_id(event) if isinstance(event, CaseRouted) else event.event_id
            if await store.history_has(conn, change_id):
                return  # applied before, or our own change coming back
        planned = self._change_for(case, event)
        if planned is None:
            return
        change, publish = planned
        await self._write(conn, case, change, publish=publish, out=out)

    async def _park(self, conn: Any, event: CaseRouted | CaseStatusChanged) -> None:
        OUT_OF_ORDER.labels(event.event_type).inc()
        await store.park(
            conn,
            event.event_id,
            event.case_id,
            event.event_type,
            event.model_dump(mode="json"),
            event.occurred_at,
        )
        log.info("event parked until its case arrives", extra={"event_type": event.event_type})

    def _change_for(self, case: CaseRow, event: CaseRouted | CaseStatusChanged) -> tuple[Change, bool] | None:
        """The change an event makes to its case, and whether the tracker publishes it (a routing: yes; a
        status change came from elsewhere and is on the topic already); None when it changes nothing."""
        if isinstance(event, CaseStatusChanged):
            change = Change(
                event_id=event.event_id,
                to_status=event.to_status,
                actor=event.actor,
                occurred_at=event.occurred_at,
                public_note=event.public_note,
                unit_id=event.unit_id,
                duplicate_of=event.duplicate_of,
            )
            return change, False
        if case.status in (CaseStatus.CLOSED, CaseStatus.DUPLICATE):
            log.warning("routing of a finished case ignored", extra={"status": case.status.value})
            return None
        target = CaseStatus.TRIAGE if event.is_triage else CaseStatus.ROUTED
        note = event.reason.triage_reason if event.is_triage else f"Przekazano do: {event.unit_name}"
        change = Change(
            event_id=routed_change_id(event),
            to_status=target,
            actor=event.routed_by,
            occurred_at=event.occurred_at,
            public_note=note,
            unit_id=event.unit_id,
            district=event.reason.district,
            sla_due_at=event.sla_due_at,
            triage_reason=event.reason.triage_reason,
            set_routing=True,
        )
        return change, True

    async def _write(
        self, conn: Any, case: CaseRow, change: Change, publish: bool = True, out: list[Event] | None = None
    ) -> Outcome:
        sequence = await store.write_change(conn, case, change)
        events: list[Event] = [] if out is None else out
        self._written(case, change, sequence, events if publish else None)
        if out is None and events and self.emit:  # no batch to gather it: to the outbox at once
            await outbox.enqueue(conn, events)
        return Outcome(case.case_id, case.case_number, change.to_status, sequence)

    def _written(self, case: CaseRow, change: Change, sequence: int, out: list[Event] | None) -> None:
        """After a change is written: metrics, the log line, and its event added to `out` (None: the change
        is not published by the tracker)."""
        TRANSITIONS.labels(case.status.value, change.to_status.value).inc()
        log.info(
            "case status changed",
            extra={
                "case_id": str(case.case_id),
                "correlation_id": case.correlation_id,
                "from_status": case.status.value,
                "to_status": change.to_status.value,
                "actor": change.actor.kind.value,
                "sequence": sequence,
            },
        )
        created = case.raw["created_at"]
        if (
            change.actor.kind is ActorKind.UNIT
            and case.first_response_at is None
            and change.to_status in (CaseStatus.IN_PROGRESS, CaseStatus.CLOSED)
        ):
            FIRST_RESPONSE.observe(max(0.0, (change.occurred_at - created).total_seconds()))
        if change.to_status is CaseStatus.CLOSED:
            TIME_TO_CLOSE.observe(max(0.0, (change.occurred_at - created).total_seconds()))
        if out is not None:
            out.append(
                CaseStatusChanged(
                    event_id=change.event_id,
                    case_id=case.case_id,
                    correlation_id=case.correlation_id,
                    occurred_at=change.occurred_at,
                    case_number=case.case_number,
                    from_status=case.status,
                    to_status=change.to_status,
                    actor=change.actor,
                    public_note=change.public_note,
                    unit_id=change.unit_id if change.unit_id is not None else case.unit_id,
                    duplicate_of=change.duplicate_of,
                    sequence=sequence,
                    language=Language(case.language),
                )
            )

    # ---- commands ----------------------------------------------------------------------------------
    async def transition(
        self,
        case_id: uuid.UUID,
        target: CaseStatus,
        actor: Actor,
        note: str | None,
        *,
        unit_scope: str | None = None,
        duplicate_of: uuid.UUID | None = None,
    ) -> Outcome:
        """A unit's, consultant's or resident's change. unit_scope: the unit the caller acts for."""
        async with self.pool.acquire() as conn, conn.transaction():
            case = await _locked(conn, case_id)
            if unit_scope is not None and case.unit_id != unit_scope:
                raise ForbiddenError("this case is not assigned to your unit")
            now = datetime.now(UTC)
            check_transition(case.status, target, actor.kind, note, case.closed_at, now)
            if duplicate_of is not None:
                other = await store.get_case(conn, duplicate_of)
                if other is None or other.case_id == case.case_id:
                    raise StatusTransitionError("duplicate_of must be another existing case")
            change = Change(
                event_id=uuid.uuid4(),
                to_status=target,
                actor=actor,
                occurred_at=now,
                public_note=note,
                duplicate_of=duplicate_of,
            )
            return await self._write(conn, case, change)

    async def add_note(self, case_id: uuid.UUID, actor: Actor, note: str) -> Outcome:
        async with self.pool.acquire() as conn, conn.transaction():
            case = await _locked(conn, case_id)
            if case.status is CaseStatus.DUPLICATE:
                raise StatusTransitionError("a merged case takes no notes; add it to the surviving case")
            change = Change(
                event_id=uuid.uuid4(),
                to_status=case.status,
                actor=actor,
                occurred_at=datetime.now(UTC),
                public_note=note,
            )
            return await self._write(conn, case, change)

    async def assign(self, case_id: uuid.UUID, unit_id: str, actor: Actor, note: str | None) -> Outcome:
        """A consultant places a triage case: the routing is published as case.routed, like the router's."""
        unit = self.city.unit(unit_id)
        if unit is None or unit_id == self.city.triage_unit:
            raise StatusTransitionError(f"unknown unit {unit_id!r}")
        async with self.pool.acquire() as conn, conn.transaction():
            case = await _locked(conn, case_id)
            check_transition(case.status, CaseStatus.ROUTED, actor.kind, note)
            now = datetime.now(UTC)
            leaf_code = _leaf_code(case.raw["category"])
            leaf = self.city.leaf(leaf_code) if leaf_code else None
            due = now + leaf.sla if leaf else None
            routed = CaseRouted(
                case_id=case.case_id,
                correlation_id=case.correlation_id,
                occurred_at=now,
                unit_id=unit_id,
                unit_name=unit.name.pl,
                sla_due_at=due,
                routed_by=actor,
                reason=RoutingReason(rule="consultant", district=case.raw["district"]),
                case=_details(case),
            )
            await store.claim_events(conn, [routed.event_id])
            change = Change(
                event_id=routed_change_id(routed),
                to_status=CaseStatus.ROUTED,
                actor=actor,
                occurred_at=now,
                public_note=note or f"Przekazano do: {unit.name.pl}",
                unit_id=unit_id,
                district=case.raw["district"],
                sla_due_at=due,
                set_routing=True,
            )
            outcome = await self._write(conn, case, change)
            if self.emit:
                await outbox.enqueue(conn, [routed])
            return outcome

    async def dispute(self, case_number: str, secret: str, reason: str) -> Outcome:
        async with self.pool.acquire() as conn:
            case = await store.get_case_by_number(conn, case_number)
        if (
            case is None
            or not case.secret_hash
            or not hmac.compare_digest(case.secret_hash, hash_secret(secret))
        ):
            raise ForbiddenError("case number and secret do not match")
        return await self.transition(
            case.case_id, CaseStatus.REOPENED, Actor(kind=ActorKind.RESIDENT), reason
        )


async def _locked(conn: Any, case_id: uuid.UUID) -> CaseRow:
    """The case, locked for this transaction; NotFoundError when there is none."""
    case = await store.get_case(conn, case_id, lock=True)
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    return case


def _leaf_code(category: dict[str, Any] | None) -> str | None:
    if not category:
        return None
    return category.get("event") or category.get("subcategory") or category.get("category")


def _details(case: CaseRow) -> CaseDetails:
    raw = case.raw
    return CaseDetails.model_validate(
        {
            "case_number": raw["case_number"],
            "kind": raw["kind"],
            "category": raw["category"],
            "description": raw["description"],
            "location": raw["location"],
            "photos": raw["photos"],
            "channel": raw["channel"],
            "language": raw["language"],
            "received_at": raw["created_at"],
        }
    )
