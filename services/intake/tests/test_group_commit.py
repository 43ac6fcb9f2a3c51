"""Intake's group commit on the real PostgreSQL: concurrent submissions share statements, yet each gets
its own answer, a case the database refuses fails alone, and Idempotency-Keys hold inside a batch."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from contracts import Case, CaseCreated
from intake.adapters.repository import CaseNumbers, CaseWriter, NewCase
from intake.bootstrap import MIGRATIONS
from servicekit import db

pytestmark = pytest.mark.integration


def new_case(number: str, key: tuple[str, str] | None = None) -> NewCase:
    case = Case.model_validate(
        {
            "case_number": number,
            "kind": "intervention",
            "description": "Dziura w jezdni",
            "location": {"lat": 52.2297, "lon": 21.0122},
            "channel": "portal",
            "received_at": datetime.now(UTC),
            "reporter": {"email": "r@example.org"},
        }
    )
    event = CaseCreated(case_id=uuid.uuid4(), correlation_id=f"c-{number}", case=case)
    return NewCase(event, {"case_id": str(event.case_id), "case_number": number}, key)


class CountingPool:
    """The real pool, counting how many times a connection is taken (one per statement batch here)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.acquired = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        self.acquired += 1
        async with self.pool.acquire() as conn:
            yield conn


@pytest.fixture
async def pool(fresh_db: Any) -> AsyncIterator[Any]:
    pool = await db.create_pool(await fresh_db("intake"), size=4)
    await db.migrate(pool, MIGRATIONS, "intake")
    yield pool
    await pool.close()


async def test_concurrent_submissions_share_statements_and_keep_their_answers(pool: Any) -> None:
    counting = CountingPool(pool)
    writer = CaseWriter(counting)
    cases = [new_case(f"{n}/26") for n in range(1, 201)]
    answers = await asyncio.gather(*(writer.store(c) for c in cases))
    assert answers == [None] * 200  # all stored
    assert counting.acquired < 20  # in a handful of statements, not 200
    stored = {r["case_id"] for r in await pool.fetch("SELECT case_id FROM cases")}
    assert stored == {c.event.case_id for c in cases}
    outbox = [r["case_id"] for r in await pool.fetch("SELECT case_id FROM outbox ORDER BY id")]
    assert outbox == [c.event.case_id for c in cases]  # in submission order


async def test_a_refused_case_fails_alone(pool: Any) -> None:
    writer = CaseWriter(pool)
    await writer.store(new_case("1/26"))
    good = [new_case(f"{n}/26") for n in range(2, 30)]
    clash = new_case("1/26")  # the same case number again: the database refuses it
    results = await asyncio.gather(
        *(writer.store(c) for c in [*good[:10], clash, *good[10:]]), return_exceptions=True
    )
    assert isinstance(results[10], asyncpg.UniqueViolationError)
    assert [r for i, r in enumerate(results) if i != 10] == [None] * len(good)
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1 + len(good)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1 + len(good)


async def test_an_idempotency_key_used_twice_in_one_batch(pool: Any) -> None:
    writer = CaseWriter(pool)
    first = new_case("1/26", ("key-1", "hash-a"))
    again = new_case("2/26", ("key-1", "hash-a"))  # the same request sent twice at once
    other = new_case("3/26", ("key-2", "hash-b"))
    results = await asyncio.gather(*(writer.store(c) for c in [first, again, other, new_case("4/26")]))
    assert [results[0], results[2], results[3]] == [None, None, None]
    replay = results[1]
    assert replay is not None
    assert (replay.case_id, replay.response, replay.request_hash) == (
        first.event.case_id,
        first.response,
        "hash-a",
    )
    numbers = {r["case_number"] for r in await pool.fetch("SELECT case_number FROM cases")}
    assert numbers == {"1/26", "3/26", "4/26"}
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 3


class SlowReleasePool(CountingPool):
    """The real pool, whose connections take a while to go back (a release can suspend the caller)."""

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self.pool.acquire() as conn:
            yield conn
        await asyncio.sleep(0.02)


async def test_case_numbers_under_a_crowd_stay_unique(pool: Any) -> None:
    numbers = CaseNumbers(block=50)
    slow = SlowReleasePool(pool)

    async def arrive(n: int) -> int:  # requests keep arriving while a block is being fetched
        await asyncio.sleep(n * 0.0002)
        return await numbers.take(slow, 2026)

    taken = await asyncio.gather(*(arrive(n) for n in range(1000)))
    assert len(set(taken)) == 1000
