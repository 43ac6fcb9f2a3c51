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
    """Apply the change to the case row and append the history entry, in one statement; returns the new
    sequence."""
    sequence = case.version + 1
    unit_id = change.unit_id if change.unit_id is not None else case.unit_id
    await conn.execute(
        "WITH changed AS (UPDATE cases SET status = $2, unit_id = $3, updated_at = greatest(updated_at, $4), "
        " version = $5, "
        " closed_at = CASE WHEN $2 = 'closed' THEN $4 WHEN $2 = 'reopened' THEN NULL ELSE closed_at END, "
        " first_response_at = CASE WHEN first_response_at IS NULL AND $2 IN ('in_progress', 'closed') "
        "   AND $7 = 'unit' THEN $4 ELSE first_response_at END, "
        " duplicate_of = coalesce($6, duplicate_of), "
        " district = CASE WHEN $8 THEN coalesce($9, district) ELSE district END, "
        " sla_due_at = CASE WHEN $8 THEN $10 ELSE sla_due_at END, "
        " overdue = CASE WHEN $8 THEN false ELSE overdue END, "
        " triage_reason = CASE WHEN $8 THEN $11 ELSE triage_reason END "
        "WHERE case_id = $1 RETURNING case_id) "
        "INSERT INTO history(case_id, sequence, status, from_status, actor_kind, actor_id, unit_id, public_note, "
        " occurred_at, event_id) SELECT case_id, $5, $2, $12, $7, $13, $3, $14, $4, $15 FROM changed",
        case.case_id,
        change.to_status.value,
        unit_id,
        change.occurred_at,
        sequence,
        change.duplicate_of,
        change.actor.kind.value,
        change.set_routing,
        change.district,
        change.sla_due_at,
        change.triage_reason,
        case.status.value,
        change.actor.id,
        change.public_note,
        change.event_id,
    )
    return sequence


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
