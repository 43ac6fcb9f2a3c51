"""Per-case advisory locks on the real PostgreSQL: a batch's locks are all held until its transaction ends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from servicekit import db

pytestmark = pytest.mark.integration


async def _lock_in_transaction(conn: asyncpg.Connection, case_id: uuid.UUID) -> None:
    async with conn.transaction():
        await db.lock_case(conn, case_id)


async def test_lock_and_claim_holds_the_locks_and_returns_only_new_events(fresh_db: Any) -> None:
    url = await fresh_db("locks")
    a = await asyncpg.connect(url)
    b = await asyncpg.connect(url)
    try:
        await a.execute("CREATE TABLE processed_events (event_id uuid PRIMARY KEY)")
        cases = [uuid.uuid4() for _ in range(3)]
        events = [uuid.uuid4() for _ in range(4)]
        tx = a.transaction()
        await tx.start()
        fresh = await db.lock_and_claim(a, [*cases, cases[0]], [*events, events[0]])
        assert fresh == set(events)
        waiting = asyncio.create_task(_lock_in_transaction(b, cases[2]))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the case locks are held
        await tx.commit()
        await asyncio.wait_for(waiting, timeout=5)
        async with a.transaction():  # redelivered: nothing new, a new one is
            new = uuid.uuid4()
            assert await db.lock_and_claim(a, cases, [*events, new]) == {new}
    finally:
        await a.close()
        await b.close()
