"""The router's own PostgreSQL data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from contracts import CaseDetails, Reporter


@dataclass
class RouterCase:
    case_id: UUID
    correlation_id: str | None
    details: CaseDetails | None
    reporter: Reporter | None
    rejected_units: list[str]


async def claim_events(conn: Any, event_ids: Sequence[UUID]) -> set[UUID]:
    """Record event ids; returns those not seen before (the rest are redeliveries)."""
    rows = await conn.fetch(
        "INSERT INTO processed_events(event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def save_created(
    conn: Any, case_id: UUID, correlation_id: str, details: CaseDetails, reporter: Reporter | None
) -> RouterCase:
    row = await conn.fetchrow(
        "INSERT INTO cases(case_id, correlation_id, details, reporter) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (case_id) DO UPDATE SET details = EXCLUDED.details, reporter = EXCLUDED.reporter, "
        "correlation_id = EXCLUDED.correlation_id, updated_at = now() "
        "RETURNING rejected_units",
        case_id,
        correlation_id,
        details.model_dump(mode="json"),
        reporter.model_dump(mode="json") if reporter else None,
    )
    return RouterCase(case_id, correlation_id, details, reporter, list(row["rejected_units"]))


async def add_rejection(conn: Any, case_id: UUID, correlation_id: str, unit_id: str) -> RouterCase:
    row = await conn.fetchrow(
        "INSERT INTO cases(case_id, correlation_id, rejected_units) VALUES ($1, $2, ARRAY[$3]) "
        "ON CONFLICT (case_id) DO UPDATE SET rejected_units = "
        "  CASE WHEN $3 = ANY(cases.rejected_units) THEN cases.rejected_units "
        "       ELSE array_append(cases.rejected_units, $3) END, updated_at = now() "
        "RETURNING correlation_id, details, reporter, rejected_units",
        case_id,
        correlation_id,
        unit_id,
    )
    details = CaseDetails.model_validate(row["details"]) if row["details"] is not None else None
    reporter = Reporter.model_validate(row["reporter"]) if row["reporter"] is not None else None
    return RouterCase(case_id, row["correlation_id"], details, reporter, list(row["rejected_units"]))


async def set_unit(conn: Any, case_id: UUID, unit_id: str) -> None:
    await conn.execute(
        "UPDATE cases SET current_unit = $2, routings = routings + 1, updated_at = now() WHERE case_id = $1",
        case_id,
        unit_id,
    )


async def anonymise(conn: Any, case_ids: list[UUID]) -> int:
    """Drop the consented reporter contact kept for re-routing (retention)."""
    result: str = await conn.execute(
        "UPDATE cases SET reporter = NULL WHERE case_id = ANY($1::uuid[]) AND reporter IS NOT NULL", case_ids
    )
    return int(result.split()[-1])
