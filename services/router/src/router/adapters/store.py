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


async def save_created_many(
    conn: Any, cases: Sequence[tuple[UUID, str, CaseDetails, Reporter | None]]
) -> dict[UUID, list[str]]:
    """Many new cases in one statement (case ids distinct); returns each case's rejected units (a rejection
    can arrive before its case)."""
    rows = await conn.fetch(
        "INSERT INTO cases(case_id, correlation_id, details, reporter) "
        "SELECT case_id, correlation_id, details, reporter FROM jsonb_to_recordset($1::jsonb) "
        "  AS x(case_id uuid, correlation_id text, details jsonb, reporter jsonb) "
        "ON CONFLICT (case_id) DO UPDATE SET details = EXCLUDED.details, reporter = EXCLUDED.reporter, "
        "correlation_id = EXCLUDED.correlation_id, updated_at = now() "
        "RETURNING case_id, rejected_units",
        [
            {
                "case_id": str(case_id),
                "correlation_id": correlation_id,
                "details": details.model_dump(mode="json"),
                "reporter": reporter.model_dump(mode="json") if reporter else None,
            }
            for case_id, correlation_id, details, reporter in cases
        ],
    )
    return {r["case_id"]: list(r["rejected_units"]) for r in rows}


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


async def set_units(conn: Any, routings: Sequence[tuple[UUID, str]]) -> None:
    """Record routing decisions in one statement, in order: a case routed twice in the batch ends with its
    last unit and both routings counted."""
    last: dict[UUID, tuple[str, int]] = {}
    for case_id, unit_id in routings:
        last[case_id] = (unit_id, last.get(case_id, ("", 0))[1] + 1)
    if not last:
        return
    await conn.execute(
        "UPDATE cases SET current_unit = v.unit, routings = cases.routings + v.n, updated_at = now() "
        "FROM unnest($1::uuid[], $2::text[], $3::int[]) AS v(case_id, unit, n) WHERE cases.case_id = v.case_id",
        list(last),
        [unit for unit, _ in last.values()],
        [n for _, n in last.values()],
    )


async def anonymise(conn: Any, case_ids: list[UUID]) -> int:
    """Drop the consented reporter contact kept for re-routing (retention)."""
    result: str = await conn.execute(
        "UPDATE cases SET reporter = NULL WHERE case_id = ANY($1::uuid[]) AND reporter IS NOT NULL", case_ids
    )
    return int(result.split()[-1])
