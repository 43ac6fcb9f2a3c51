"""Rebuild the tracker's state from the topics into an empty database."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer

from cityconfig import CityIndex
from contracts import ContractError, decode
from servicekit import db
from servicekit.kafka import Delivery, topic_partitions
from tracker.bootstrap import MIGRATIONS, TOPICS
from tracker.service import TrackerService

log = logging.getLogger(__name__)


async def read_all(bootstrap: str, topics: list[str]) -> list[Delivery]:
    """Every record now on the topics (up to the end offsets seen at start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        out: list[Delivery] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        try:
                            out.append(Delivery(decode(r.topic, r.value), r.topic, r.partition, r.offset))
                        except ContractError as exc:
                            log.warning(
                                "skipped a record that fits no contract", extra={"error": str(exc)[:200]}
                            )
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def replay(database_url: str, bootstrap: str, city: CityIndex, batch: int = 500) -> tuple[int, int]:
    pool: Any = await db.create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('cases') IS NOT NULL")
            if exists and await conn.fetchval("SELECT count(*) FROM cases"):
                raise SystemExit(f"{database_url} is not empty: replay only into an empty database")
        await db.migrate(pool, MIGRATIONS, "tracker")
        deliveries = await read_all(bootstrap, TOPICS)
        order = {"case.created": 0, "case.routed": 1, "case.status_changed": 2}
        deliveries.sort(key=lambda d: (d.event.occurred_at, order[d.topic]))
        service = TrackerService(city, pool, emit=False)
        skipped = 0
        for start in range(0, len(deliveries), batch):
            chunk = deliveries[start : start + batch]
            try:
                await service.handle(chunk)
            except Exception:
                for delivery in chunk:  # as the live consumer does: only the culprit is left out
                    try:
                        await service.handle([delivery])
                    except Exception as exc:
                        skipped += 1
                        log.warning(
                            "event skipped (the live consumer dead-letters it too)",
                            extra={
                                "topic": delivery.topic,
                                "offset": delivery.offset,
                                "error": repr(exc)[:200],
                            },
                        )
        return len(deliveries), skipped
    finally:
        await pool.close()
