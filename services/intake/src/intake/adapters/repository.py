"""PostgreSQL: case numbers from a per-year sequence, the case and its outbox record in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from contracts import CaseCreated
from servicekit import outbox
from servicekit.problems import UNAVAILABLE


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

    async def take(self, pool: Any, year: int) -> int:
        free = self._free.setdefault(year, [])
        while not free:  # (checked again after every wait: others may have taken the new block meanwhile)
            async with self._lock:
                if not free:
                    async with pool.acquire() as conn:
                        block = await case_sequences(conn, year, self.block)
                    free.extend(reversed(block))
        return free.pop()


async def find_idempotent(conn: Any, key: str) -> StoredAnswer | None:
    row = await conn.fetchrow(
        "SELECT case_id, response, request_hash FROM idempotency_keys WHERE key = $1", key
    )
    if row is None:
        return None
    return StoredAnswer(row["case_id"], row["response"], row["request_hash"])


@dataclass(frozen=True)
class NewCase:
    """A case to store: its event, the answer to give, and the (Idempotency-Key, request hash) if any."""

    event: CaseCreated
    response: dict[str, Any]
    idempotency: tuple[str, str] | None


async def insert_cases(conn: Any, cases: list[NewCase]) -> set[UUID]:
    """Insert the cases, their outbox records and idempotency keys atomically, in one statement; returns
    the ids of the cases written. A case whose Idempotency-Key exists already (or is used twice in the
    batch) is not written."""
    records = [outbox.encode_record(c.event) for c in cases]
    rows = await conn.fetch(
        "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], "
        "  $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::text[], $12::text[], "
        "  $13::text[], $14::text[]) WITH ORDINALITY AS v(case_id, case_number, received_at, channel, kind, "
        "  correlation_id, payload, topic, key, value, headers, idem_key, idem_hash, response, n)), "
        # a key is claimed first; its case and outbox record are written only if the claim succeeded
        # (the foreign key from the claim to the case is checked at the end of the statement)
        "claim AS (INSERT INTO idempotency_keys(key, request_hash, case_id, response) "
        "  SELECT idem_key, idem_hash, case_id, response::jsonb FROM v WHERE idem_key IS NOT NULL "
        "  ON CONFLICT (key) DO NOTHING RETURNING case_id), "
        "ok AS (SELECT * FROM v WHERE idem_key IS NULL OR case_id IN (SELECT case_id FROM claim)), "
        "c AS (INSERT INTO cases(case_id, case_number, received_at, channel, kind, correlation_id, payload) "
        "  SELECT case_id, case_number, received_at, channel, kind, correlation_id, payload::jsonb FROM ok), "
        "o AS (INSERT INTO outbox(topic, key, payload, headers, case_id) "
        "  SELECT topic, key, value, headers::jsonb, case_id FROM ok ORDER BY n) "
        "SELECT case_id FROM ok",
        [c.event.case_id for c in cases],
        [c.event.case.case_number for c in cases],
        [c.event.case.received_at for c in cases],
        [c.event.case.channel.value for c in cases],
        [c.event.case.kind.value for c in cases],
        [c.event.correlation_id for c in cases],
        [c.event.case.model_dump_json() for c in cases],
        [c.event.event_type for c in cases],
        [key for key, _, _ in records],
        [value for _, value, _ in records],
        [json.dumps(headers) for _, _, headers in records],
        [c.idempotency[0] if c.idempotency else None for c in cases],
        [c.idempotency[1] if c.idempotency else None for c in cases],
        [json.dumps(c.response) if c.idempotency else None for c in cases],
    )
    return {r["case_id"] for r in rows}


class CaseWriter:
    """Group commit: submissions that arrive while a write is in flight are stored together in the next
    one (one statement, one commit), so that a burst costs a round trip per batch instead of per case.
    Each caller gets its own answer or exception: a batch the database refuses is retried case by case,
    so that one bad case cannot fail the others. A lone submission is written at once, without waiting."""

    def __init__(self, pool: Any, max_batch: int = 100) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: list[tuple[NewCase, asyncio.Future[StoredAnswer | None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    async def store(self, case: NewCase) -> StoredAnswer | None:
        """None when the case was stored; the earlier answer when its Idempotency-Key was used before."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredAnswer | None] = loop.create_future()
        self._queue.append((case, future))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                if len(batch) == 1:
                    await self._settle(*batch[0])
                    continue
                try:
                    async with self.pool.acquire() as conn:
                        written = await insert_cases(conn, [c for c, _ in batch])
                except UNAVAILABLE as exc:  # nothing was written; the same for every case in it
                    for _, future in batch:
                        _resolve(future, exc=exc)
                    continue
                except Exception:
                    await asyncio.gather(*(self._settle(case, future) for case, future in batch))
                    continue
                for case, future in batch:
                    if case.event.case_id in written or case.idempotency is None:
                        _resolve(future, None)
                    else:
                        await self._settle(case, future)  # the key's earlier answer
        finally:
            self._flushing = False

    async def _settle(self, case: NewCase, future: asyncio.Future[StoredAnswer | None]) -> None:
        """One case on its own: stored, or the earlier answer of its key."""
        try:
            async with self.pool.acquire() as conn:
                for _ in range(2):
                    if case.event.case_id in await insert_cases(conn, [case]) or case.idempotency is None:
                        _resolve(future, None)
                        return
                    existing = await find_idempotent(conn, case.idempotency[0])
                    if existing is not None:
                        _resolve(future, existing)
                        return
                    # the first holder of the key rolled back: the key is free again, try once more
                raise LostRace
        except Exception as exc:
            _resolve(future, exc=exc)


def _resolve(
    future: asyncio.Future[StoredAnswer | None],
    answer: StoredAnswer | None = None,
    exc: Exception | None = None,
) -> None:
    if future.done():  # the caller went away (client disconnected)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(answer)


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
