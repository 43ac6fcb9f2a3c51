"""PostgreSQL: a pool per service and versioned SQL migrations applied at start."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

Pool = asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip the RESET ALL round trip: the services keep no session state (the pool
    still ends any open transaction), and advisory session locks are always released explicitly."""


async def create_pool(dsn: str, size: int = 10) -> Any:
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        init=_init_connection,
        command_timeout=30,
        max_inactive_connection_lifetime=60,
        reset=_keep_session,
    )


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def migrate(pool: Any, migrations: Path, owner: str) -> list[str]:
    """Apply `NNN_name.sql` files in order, once each, under an advisory lock (safe with many instances)."""
    files = sorted(p for p in migrations.glob("*.sql"))
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_id(f"migrate:{owner}"))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for path in files:
                if path.stem in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations(version) VALUES ($1)", path.stem)
                applied.append(path.stem)
                log.info("migration applied", extra={"migration": path.stem, "owner": owner})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_id(f"migrate:{owner}"))
    return applied


async def ping(pool: Any) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
        return True
    except Exception:
        return False


async def lock_case(conn: Any, case_id: Any) -> None:
    """Serialise work on one case across instances until the transaction ends (events of one case can
    arrive on different topics, and so at different instances, at the same moment)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_id(f"case:{case_id}"))


async def lock_and_claim(conn: Any, case_ids: Any, event_ids: Any) -> set[Any]:
    """lock_case for every case of a batch, then the claim of the event ids in the service's
    `processed_events`, in one round trip; returns the ids not seen before (the rest are redeliveries).
    The locks are taken in one order by every instance (sorted ids, no deadlocks between them), and the
    claim's rows are joined with the aggregate over them, so every lock is held before the first claim."""
    ids = sorted({_lock_id(f"case:{c}") for c in case_ids})
    rows = await conn.fetch(
        "WITH locks AS (SELECT count(pg_advisory_xact_lock(id)) AS n FROM unnest($1::bigint[]) AS id) "
        "INSERT INTO processed_events(event_id) SELECT e FROM locks, unnest($2::uuid[]) AS e "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        ids,
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def with_connection(dsn: str, migrations: Path, owner: str, work: Any) -> Any:
    """For command-line tools: a migrated database, one connection, `await work(conn)`, then close."""
    pool = await create_pool(dsn, 2)
    try:
        await migrate(pool, migrations, owner)
        async with pool.acquire() as conn:
            return await work(conn)
    finally:
        await pool.close()
