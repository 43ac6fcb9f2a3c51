"""Personal-data retention: each service that keeps reporter data anonymises it for cases closed longer ago
than the configured period. Which cases those are comes from the tracker's public API (no personal data there);
statistics (counts, statuses, categories, times) stay intact.

  python -m intake retention --older-than-days 365
  python -m router retention --older-than-days 365
  python -m notifier retention --older-than-days 365
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from servicekit import db

log = logging.getLogger(__name__)

Anonymiser = Callable[[Any, list[UUID]], Awaitable[int]]


async def closed_before(tracker_url: str, cutoff: datetime) -> list[UUID]:
    """Ids of cases closed (or merged) whose last change is older than the cutoff."""
    out: list[UUID] = []
    page = 1
    async with httpx.AsyncClient(base_url=tracker_url, timeout=30) as client:
        while True:
            response = await client.get(
                "/v1/public/cases",
                params={
                    "status": ["closed", "duplicate"],
                    "updated_before": cutoff.isoformat(),
                    "page": page,
                    "page_size": 100,
                },
            )
            response.raise_for_status()
            items = response.json()["items"]
            out.extend(UUID(item["case_id"]) for item in items)
            if len(items) < 100:
                return out
            page += 1


async def run(
    database_url: str,
    migrations: Path,
    owner: str,
    tracker_url: str,
    older_than_days: float,
    anonymise: Anonymiser,
) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    case_ids = await closed_before(tracker_url, cutoff)

    async def work(conn: Any) -> int:
        total = 0
        for start in range(0, len(case_ids), 1000):
            async with conn.transaction():
                total += await anonymise(conn, case_ids[start : start + 1000])
        return total

    changed: int = await db.with_connection(database_url, migrations, owner, work)
    log.info(
        "retention applied",
        extra={
            "service": owner,
            "closed_cases": len(case_ids),
            "anonymised": changed,
            "cutoff": cutoff.isoformat(),
        },
    )
    return changed


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--older-than-days",
        type=float,
        required=True,
        help="anonymise reporter data of cases closed longer ago than this",
    )
    parser.add_argument("--tracker-url", default=None, help="the tracker's base URL (default: from settings)")
