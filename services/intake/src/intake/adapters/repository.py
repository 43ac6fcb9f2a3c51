"""PostgreSQL: case numbers from a per-year sequence, the case and its outbox record in one transaction."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from contracts import CaseCreated
from servicekit import outbox


@dataclass(frozen=True)
class StoredAnswer:
    case_id: UUID
    response: dict[str, Any]
    request_hash: str


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


async def next_case_sequence(conn: Any, year: int) -> int:
    """nextval of the year's sequence, created on first use (gaps are fine, duplicates impossible)."""
    name = f"case_number_{year}"
    try:
        return int(await conn.fetchval("SELECT nextval($1::regclass)", name))
    except asyncpg.UndefinedTableError:
        pass
    # another instance may create it at the same moment
    with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
        await conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START 1")
    return int(await conn.fetchval("SELECT nextval($1::regclass)", name))


async def find_idempotent(conn: Any, key: str) -> StoredAnswer | None:
    row = await conn.fetchrow(
        "SELECT case_id, response, request_hash FROM idempotency_keys WHERE key = $1", key
    )
    if row is None:
        return None
    return StoredAnswer(row["case_id"], row["response"], row["request_hash"])


async def store_case(
    conn: Any, event: CaseCreated, response: dict[str, Any], idempotency: tuple[str, str] | None
) -> StoredAnswer | None:
    """Insert case + outbox (+ idempotency key) atomically. When the key already exists, nothing is
    written and the earlier answer is returned instead."""
    async with conn.transaction():
        if idempotency is not None:
            existing = await find_idempotent(conn, idempotency[0])
            if existing is not None:
                return existing
        case = event.case
        await conn.execute(
            "INSERT INTO cases(case_id, case_number, received_at, channel, kind, correlation_id, payload) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            event.case_id,
            case.case_number,
            case.received_at,
            case.channel.value,
            case.kind.value,
            event.correlation_id,
            case.model_dump(mode="json"),
        )
        if idempotency is not None:
            claimed = await conn.fetchval(
                "INSERT INTO idempotency_keys(key, request_hash, case_id, response) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (key) DO NOTHING RETURNING 1",
                idempotency[0],
                idempotency[1],
                event.case_id,
                response,
            )
            if claimed is None:
                raise LostRace
        await outbox.enqueue(conn, [event])
    return None


class LostRace(Exception):
    """Another request with the same Idempotency-Key committed first; the caller reads its answer."""


async def anonymise(conn: Any, case_ids: list[UUID]) -> int:
    """Drop the reporter's contact from stored cases (retention)."""
    result: str = await conn.execute(
        "UPDATE cases SET payload = payload - 'reporter' || '{\"reporter\": null}'::jsonb "
        "WHERE case_id = ANY($1::uuid[]) AND payload->'reporter' IS NOT NULL AND payload->'reporter' <> 'null'::jsonb",
        case_ids,
    )
    return int(result.split()[-1])
