"""PostgreSQL: case numbers from a per-year sequence, the case and its outbox record in one transaction."""

from __future__ import annotations

import asyncio
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


async def case_sequences(conn: Any, year: int, count: int) -> list[int]:
    """`count` values of the year's sequence in one round trip (unique; gaps are fine)."""
    name = f"case_number_{year}"
    sql = "SELECT nextval($1::regclass) FROM generate_series(1, $2)"
    try:
        return [int(r[0]) for r in await conn.fetch(sql, name, count)]
    except asyncpg.UndefinedTableError:
        pass
    # another instance may create it at the same moment
    with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
        await conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START 1")
    return [int(r[0]) for r in await conn.fetch(sql, name, count)]


class CaseNumbers:
    """Case numbers taken from the database in blocks, so that a submission needs no round trip for its
    number. Numbers stay unique across instances; a stopped instance leaves a gap, as a sequence does."""

    def __init__(self, block: int = 50) -> None:
        self.block = block
        self._free: dict[int, list[int]] = {}
        self._lock = asyncio.Lock()

    async def take(self, conn: Any, year: int) -> int:
        free = self._free.setdefault(year, [])
        if not free:
            async with self._lock:
                if not free:
                    free.extend(reversed(await case_sequences(conn, year, self.block)))
        return free.pop()


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
    """Insert case + outbox (+ idempotency key) atomically, in one statement (one round trip). When the key
    already exists, nothing is written and the earlier answer is returned instead."""
    case = event.case
    key, value, headers = outbox.encode_record(event)
    args = [
        event.case_id,
        case.case_number,
        case.received_at,
        case.channel.value,
        case.kind.value,
        event.correlation_id,
        case.model_dump(mode="json"),
        event.event_type,
        key,
        value,
        headers,
    ]
    if idempotency is None:
        await conn.execute(
            "WITH c AS (INSERT INTO cases(case_id, case_number, received_at, channel, kind, correlation_id, payload) "
            "  VALUES ($1, $2, $3, $4, $5, $6, $7)) "
            "INSERT INTO outbox(topic, key, payload, headers, case_id) VALUES ($8, $9, $10, $11, $1)",
            *args,
        )
        return None
    # the key is claimed first; the case and its outbox record are written only if the claim succeeded
    # (the foreign key from the claim to the case is checked at the end of the statement)
    claimed = await conn.fetchval(
        "WITH claim AS ("
        "  INSERT INTO idempotency_keys(key, request_hash, case_id, response) VALUES ($12, $13, $1, $14) "
        "  ON CONFLICT (key) DO NOTHING RETURNING case_id), "
        "c AS (INSERT INTO cases(case_id, case_number, received_at, channel, kind, correlation_id, payload) "
        "  SELECT $1, $2, $3, $4, $5, $6, $7 FROM claim), "
        "o AS (INSERT INTO outbox(topic, key, payload, headers, case_id) "
        "  SELECT $8, $9, $10, $11, $1 FROM claim) "
        "SELECT count(*) FROM claim",
        *args,
        idempotency[0],
        idempotency[1],
        response,
    )
    if claimed:
        return None
    existing = await find_idempotent(conn, idempotency[0])
    if existing is None:
        raise LostRace  # the other request's transaction rolled back; the caller tries once more
    return existing


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
