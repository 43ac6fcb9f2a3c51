"""The transactional outbox: a service writes its events into its own `outbox` table in the same
transaction as its state; the relay publishes them to Kafka in id order, at least once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from prometheus_client import Counter, Gauge

from contracts import Event, encode
from servicekit.kafka import Publisher

log = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge("cc_outbox_backlog", "Outbox records not yet published to Kafka", ["service"])
OUTBOX_LAG = Gauge("cc_outbox_relay_lag_seconds", "Age of the oldest unpublished outbox record", ["service"])
RELAYED = Counter("cc_outbox_relayed_total", "Outbox records published to Kafka", ["service"])
RELAY_FAILURES = Counter(
    "cc_outbox_relay_failures_total", "Failed attempts to publish outbox records", ["service"]
)


def encode_record(event: Event) -> tuple[bytes | None, bytes, list[list[str]]]:
    """An event as an outbox row stores it: key, value, headers (as a JSON list of pairs)."""
    key, value, headers = encode(event)
    return key, value, [[k, v.decode()] for k, v in headers]


async def enqueue(conn: Any, events: list[Event]) -> None:
    """Add events to the outbox inside the caller's transaction, in order, in one statement."""
    if not events:
        return
    records = [encode_record(event) for event in events]
    await conn.execute(
        "INSERT INTO outbox(topic, key, payload, headers, case_id) "
        "SELECT topic, key, payload, headers::jsonb, case_id "
        "FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::uuid[]) WITH ORDINALITY "
        "  AS r(topic, key, payload, headers, case_id, n) ORDER BY n",
        [e.event_type for e in events],
        [key for key, _, _ in records],
        [value for _, value, _ in records],
        [json.dumps(headers) for _, _, headers in records],  # a list of pairs would be read as a 2-D array
        [e.case_id for e in events],
    )


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    items = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(k), str(v).encode()) for k, v in items]


class OutboxRelay:
    def __init__(
        self, service: str, pool: Any, publisher: Publisher, batch_size: int = 500, idle_poll: float = 0.2
    ) -> None:
        self.service = service
        self.pool = pool
        self.publisher = publisher
        self.batch_size = batch_size
        self.idle_poll = idle_poll
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        """Called after a case commits in this process, so it goes out without waiting for the poll."""
        self.wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch; rows are locked (SKIP LOCKED lets several instances share the work) and
        deleted only after Kafka acknowledged every record of the batch."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, payload, headers FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            producer_sends = [
                (
                    r["topic"],
                    bytes(r["payload"]),
                    bytes(r["key"]) if r["key"] is not None else None,
                    _headers(r["headers"]),
                )
                for r in rows
            ]
            await self.publisher.send_batch(producer_sends)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        RELAYED.labels(self.service).inc(len(rows))
        return len(rows)

    async def observe(self) -> None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
            )
        OUTBOX_BACKLOG.labels(self.service).set(row["n"])
        OUTBOX_LAG.labels(self.service).set(float(row["age"]))

    async def run(self) -> None:
        delay = 0.5
        last_observed = 0.0
        loop = asyncio.get_running_loop()
        while True:
            # cleared before the read: a commit notified while this batch is in flight wakes the next one
            self.wakeup.clear()
            try:
                sent = await self.relay_once()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                RELAY_FAILURES.labels(self.service).inc()
                log.warning(
                    "outbox relay failed; cases stay in the outbox",
                    extra={"error": repr(exc)[:300], "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                sent = 0
            if loop.time() - last_observed > 1.0:
                last_observed = loop.time()
                try:
                    await self.observe()
                except Exception:
                    log.debug("outbox metrics not updated", exc_info=True)
            if sent < self.batch_size:  # the outbox is drained (a full batch means more may be waiting)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=self.idle_poll)
