"""SQL of the tracker: cases, history, pending events, processed event ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import Actor, CaseCreated, CaseStatus

CASE_COLUMNS = (
    "case_id, case_number, correlation_id, kind, category, category_codes, description, location, photos, "
    "channel, language, status, unit_id, district, triage_reason, created_at, updated_at, sla_due_at, overdue, "
    "overdue_at, first_response_at, closed_at, duplicate_of, version, secret_hash"
)


@dataclass
class CaseRow:
    case_id: UUID
    case_number: str
    correlation_id: str
    status: CaseStatus
    unit_id: str | None
    version: int
    closed_at: datetime | None
    first_response_at: datetime | None
    language: str
    secret_hash: str | None
    raw: dict[str, Any]


def _row(record: Any) -> CaseRow:
    raw = dict(record)
    return CaseRow(
        case_id=raw["case_id"],
        case_number=raw["case_number"],
        correlation_id=raw["correlation_id"],
        status=CaseStatus(raw["status"]),
        unit_id=raw["unit_id"],
        version=raw["version"],
        closed_at=raw["closed_at"],
        first_response_at=raw["first_response_at"],
        language=raw["language"],
        secret_hash=raw["secret_hash"],
        raw=raw,
    )


async def claim_events(conn: Any, event_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "INSERT INTO processed_events(event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def get_case(conn: Any, case_id: UUID, lock: bool = False) -> CaseRow | None:
    sql = f"SELECT {CASE_COLUMNS} FROM cases WHERE case_id = $1" + (" FOR UPDATE" if lock else "")
    record = await conn.fetchrow(sql, case_id)
    return _row(record) if record else None


async def get_cases_many(conn: Any, case_ids: Sequence[UUID]) -> dict[UUID, CaseRow]:
    """Many cases, locked for this transaction, in one query; absent ids are not in the answer."""
    records = await conn.fetch(
        f"SELECT {CASE_COLUMNS} FROM cases WHERE case_id = ANY($1::uuid[]) FOR UPDATE", list(case_ids)
    )
    return {r["case_id"]: _row(r) for r in records}


async def get_case_by_number(conn: Any, case_number: str) -> CaseRow | None:
    record = await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM cases WHERE case_number = $1", case_number)
    return _row(record) if record else None


def _created_row(event: CaseCreated) -> dict[str, Any]:
    case = event.case
    codes = [
        c
        for c in (
            (case.category.category, case.category.subcategory, case.category.event) if case.category else ()
        )
        if c
    ]
    return {
        "case_id": str(event.case_id),
        "event_id": str(event.event_id),
        "case_number": case.case_number,
        "correlation_id": event.correlation_id,
        "kind": case.kind.value,
        "category": case.category.model_dump(mode="json") if case.category else None,
        "category_codes": codes,
        "description": case.description,
        "location": case.location.model_dump(mode="json") if case.location else None,
        "photos": [str(p) for p in case.photos],
        "channel": case.channel.value,
        "language": case.language.value,
        "district": case.location.district if case.location else None,
        "created_at": case.received_at.isoformat(),
        "secret_hash": case.secret_hash,
    }


async def insert_created_many(conn: Any, events: Sequence[CaseCreated]) -> set[UUID]:
    """A batch of new cases and their first history entries in one statement; returns the case ids that
    were new (a redelivered creation changes nothing)."""
    rows = await conn.fetch(
        "WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x("
        "  case_id uuid, event_id uuid, case_number text, correlation_id text, kind text, category jsonb, "
        "  category_codes jsonb, description text, location jsonb, photos jsonb, channel text, language text, "
        "  district text, created_at timestamptz, secret_hash text)), "
        "ins AS (INSERT INTO cases(case_id, case_number, correlation_id, kind, category, category_codes, "
        "  description, location, photos, channel, language, status, district, created_at, updated_at, version, "
        "  secret_hash) "
        "  SELECT case_id, case_number, correlation_id, kind, category, "
        "   ARRAY(SELECT jsonb_array_elements_text(category_codes)), description, location, "
        "   photos, channel, language, 'new', district, created_at, "
        "   created_at, 1, secret_hash FROM u "
        "  ON CONFLICT (case_id) DO NOTHING RETURNING case_id), "
        "h AS (INSERT INTO history(case_id, sequence, status, actor_kind, actor_id, public_note, occurred_at, "
        "  event_id) SELECT u.case_id, 1, 'new', 'system', 'intake', NULL, u.created_at, u.event_id "
        "  FROM u JOIN ins USING (case_id)) "
        "SELECT case_id FROM ins",
        [_created_row(e) for e in events],
    )
    return {r["case_id"] for r in rows}


async def take_pending_many(
    conn: Any, case_ids: Sequence[UUID]
) -> dict[UUID, list[tuple[str, dict[str, Any]]]]:
    rows = await conn.fetch(
        "DELETE FROM pending_events WHERE case_id = ANY($1::uuid[]) RETURNING case_id, topic, payload, occurred_at",
        list(case_ids),
    )
    out: dict[UUID, list[tuple[str, dict[str, Any]]]] = {}
    for r in sorted(rows, key=lambda r: r["occurred_at"]):
        out.setdefault(r["case_id"], []).append((r["topic"], r["payload"]))
    return out


async def history_has_many(conn: Any, event_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT event_id FROM history WHERE event_id = ANY($1::uuid[])", list(event_ids))
    return {r["event_id"] for r in rows}


async def history_has(conn: Any, event_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM history WHERE event_id = $1", event_id))


@dataclass
class Change:
    """One transition to write: the new state and its history entry."""

    event_id: UUID
    to_status: CaseStatus
    actor: Actor
    occurred_at: datetime
    public_note: str | None = None
    unit_id: str | None = None
    district: str | None = None
    sla_due_at: datetime | None = None
    triage_reason: str | None = None
    duplicate_of: UUID | None = None
    set_routing: bool = False


async def write_change(conn: Any, case: CaseRow, change: Change) -> int:
    """Apply the change to the case row and append the history entry; returns the new sequence."""
    return (await write_changes(conn, [(case, change)]))[0]


async def write_changes(conn: Any, changes: Sequence[tuple[CaseRow, Change]]) -> list[int]:
    """Apply changes to distinct cases and append their history entries, all in one statement; returns the
    new sequences in order."""
    if not changes:
        return []
    sequences = [case.version + 1 for case, _ in changes]
    await conn.execute(
        "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], "
        "  $6::uuid[], $7::text[], $8::bool[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], "
        "  $13::text[], $14::text[], $15::uuid[]) AS v(case_id, status, unit_id, at, seq, duplicate_of, "
        "  actor_kind, routing, district, sla_due_at, triage_reason, from_status, actor_id, note, event_id)), "
        "changed AS (UPDATE cases c SET status = v.status, unit_id = v.unit_id, "
        " updated_at = greatest(c.updated_at, v.at), version = v.seq, "
        " closed_at = CASE WHEN v.status = 'closed' THEN v.at WHEN v.status = 'reopened' THEN NULL "
        "   ELSE c.closed_at END, "
        " first_response_at = CASE WHEN c.first_response_at IS NULL AND v.status IN ('in_progress', 'closed') "
        "   AND v.actor_kind = 'unit' THEN v.at ELSE c.first_response_at END, "
        " duplicate_of = coalesce(v.duplicate_of, c.duplicate_of), "
        " district = CASE WHEN v.routing THEN coalesce(v.district, c.district) ELSE c.district END, "
        " sla_due_at = CASE WHEN v.routing THEN v.sla_due_at ELSE c.sla_due_at END, "
        " overdue = CASE WHEN v.routing THEN false ELSE c.overdue END, "
        " triage_reason = CASE WHEN v.routing THEN v.triage_reason ELSE c.triage_reason END "
        "FROM v WHERE c.case_id = v.case_id RETURNING c.case_id) "
        "INSERT INTO history(case_id, sequence, status, from_status, actor_kind, actor_id, unit_id, public_note, "
        " occurred_at, event_id) SELECT v.case_id, v.seq, v.status, v.from_status, v.actor_kind, v.actor_id, "
        " v.unit_id, v.note, v.at, v.event_id FROM v JOIN changed USING (case_id)",
        [case.case_id for case, _ in changes],
        [change.to_status.value for _, change in changes],
        [change.unit_id if change.unit_id is not None else case.unit_id for case, change in changes],
        [change.occurred_at for _, change in changes],
        sequences,
        [change.duplicate_of for _, change in changes],
        [change.actor.kind.value for _, change in changes],
        [change.set_routing for _, change in changes],
        [change.district for _, change in changes],
        [change.sla_due_at for _, change in changes],
        [change.triage_reason for _, change in changes],
        [case.status.value for case, _ in changes],
        [change.actor.id for _, change in changes],
        [change.public_note for _, change in changes],
        [change.event_id for _, change in changes],
    )
    return sequences


async def park(
    conn: Any, event_id: UUID, case_id: UUID, topic: str, payload: dict[str, Any], occurred_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO pending_events(event_id, case_id, topic, payload, occurred_at) VALUES ($1,$2,$3,$4,$5) "
        "ON CONFLICT DO NOTHING",
        event_id,
        case_id,
        topic,
        payload,
        occurred_at,
    )


async def history(conn: Any, case_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT sequence, status, from_status, actor_kind, unit_id, public_note, occurred_at FROM history "
        "WHERE case_id = $1 ORDER BY sequence",
        case_id,
    )
    return [dict(r) for r in rows]
