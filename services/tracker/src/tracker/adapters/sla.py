"""Periodic jobs: mark overdue cases once (the flag survives restarts) and refresh the caseload gauges."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

MARKED_OVERDUE = Counter(
    "cc_tracker_cases_marked_overdue_total", "Cases that passed their SLA due time", ["unit"]
)
OPEN_CASES = Gauge(
    "cc_tracker_open_cases", "Cases not closed or merged, by status and unit", ["status", "unit"]
)
OVERDUE_CASES = Gauge("cc_tracker_overdue_cases", "Open cases past their SLA due time, by unit", ["unit"])


async def mark_overdue(conn: Any) -> int:
    rows = await conn.fetch(
        "UPDATE cases SET overdue = true, overdue_at = now() WHERE NOT overdue AND sla_due_at < now() "
        "AND status NOT IN ('closed', 'duplicate') RETURNING unit_id"
    )
    for r in rows:
        MARKED_OVERDUE.labels(r["unit_id"] or "none").inc()
    return len(rows)


async def refresh_gauges(conn: Any, units: list[str]) -> None:
    open_rows = await conn.fetch(
        "SELECT status, coalesce(unit_id, 'none') AS unit, count(*) AS n FROM cases "
        "WHERE status NOT IN ('closed', 'duplicate') GROUP BY 1, 2"
    )
    overdue_rows = await conn.fetch(
        "SELECT coalesce(unit_id, 'none') AS unit, count(*) AS n FROM cases "
        "WHERE overdue AND status NOT IN ('closed', 'duplicate') GROUP BY 1"
    )
    OPEN_CASES.clear()
    for r in open_rows:
        OPEN_CASES.labels(r["status"], r["unit"]).set(r["n"])
    OVERDUE_CASES.clear()
    overdue = {r["unit"]: r["n"] for r in overdue_rows}
    for unit in {*units, *overdue}:
        OVERDUE_CASES.labels(unit).set(overdue.get(unit, 0))


async def run_periodic(pool: Any, sla_interval: float, gauges_interval: float, units: list[str]) -> None:
    loop = asyncio.get_running_loop()
    next_sla = next_gauges = loop.time()
    while True:
        now = loop.time()
        if now >= next_sla:
            async with pool.acquire() as conn:
                marked = await mark_overdue(conn)
            if marked:
                log.info("cases marked overdue", extra={"count": marked})
            next_sla = now + sla_interval
        if now >= next_gauges:
            async with pool.acquire() as conn:
                await refresh_gauges(conn, units)
            next_gauges = now + gauges_interval
        await asyncio.sleep(max(0.05, min(next_sla, next_gauges) - loop.time()))
