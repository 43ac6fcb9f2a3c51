"""Sends what the delivery log says is due: case notifications before alerts, retries with backoff,
failures recorded after the retry budget, never blocking the consumer.

A channel that cannot be reached (the SMTP server or the push gateway is down) is an outage, not a fault
of the messages: they wait untried, without using up their retry budget, and the channel is probed every
`channel_probe_s`; the first message that goes through ends the outage and the backlog flows at once.
The budget is spent by messages the server refuses for a while (4xx) or that fail while it is up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiosmtplib
from prometheus_client import Counter, Gauge, Histogram

from notifier.adapters import deliveries
from notifier.adapters.senders import Mailer, PermanentFailure, PushGateway
from notifier.domain.messages import TEXTS
from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

SENT = Counter("cc_notifier_sent_total", "Notifications delivered", ["channel", "template"])
FAILED = Counter(
    "cc_notifier_failed_total",
    "Notifications given up after the retry budget or refused",
    ["channel", "template"],
)
RETRIES = Counter("cc_notifier_retries_total", "Delivery attempts that will be retried", ["channel"])
PENDING = Gauge(
    "cc_notifier_pending",
    "Notifications waiting to be sent, in the whole delivery log (every instance shows the same; take max)",
)
GAUGE_EVERY_S = 5.0  # the backlog count and the stale-claim sweep (Prometheus scrapes every 5 s)
LATENCY = Histogram(
    "cc_notifier_delivery_latency_seconds",
    "From the event's time to the delivery",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)

UNREACHABLE = Gauge("cc_notifier_channel_unreachable", "1 while a channel cannot be reached", ["channel"])

STALE_AFTER_S = 120.0
CHANNELS = ("email", "push")

for _channel in CHANNELS:  # bounded label sets exist at zero from the start
    for _template in (*TEXTS, "alert_info", "alert_warning", "alert_danger"):
        SENT.labels(_channel, _template)
        FAILED.labels(_channel, _template)
    RETRIES.labels(_channel)
    UNREACHABLE.labels(_channel)
CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPTimeoutError,
)


class SentMarks:
    """Group commit of 'sent' marks: each accepted message is marked without the sender waiting for it,
    and the marks that pile up while one write is in flight go in the next write. A crash can lose only
    the marks not yet written (messages accepted in the last round trip), which are then sent again with
    the same Message-ID: at least once, as before, with a window of milliseconds."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._ids: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, delivery_id: int) -> None:
        self._ids.append(delivery_id)
        if self._task is None or self._task.done():
            self._idle.clear()
            self._task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._ids:
                ids, self._ids = self._ids, []
                try:
                    async with self.pool.acquire() as conn:
                        await deliveries.mark_sent(conn, ids)
                except Exception as exc:  # the database is away: keep them and try again
                    self._ids = ids + self._ids
                    log.warning(
                        "sent marks not written yet", extra={"count": len(ids), "error": str(exc)[:200]}
                    )
                    await asyncio.sleep(1.0)
        finally:
            self._idle.set()

    async def written(self) -> None:
        """Until every mark so far is in the database."""
        await self._idle.wait()


class Dispatcher:
    def __init__(self, pool: Any, settings: NotifierSettings, mailer: Mailer, push: PushGateway) -> None:
        self.pool = pool
        self.settings = settings
        self.mailer = mailer
        self.push = push
        self.wakeup = asyncio.Event()
        self.sender_id = f"notifier-{settings.instance_id}"
        self.unreachable: dict[str, float] = {}  # channel -> when to probe it again (loop time)
        self.marks = SentMarks(pool)

    def notify(self) -> None:
        self.wakeup.set()

    def backoff(self, attempts: int) -> float:
        return float(min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** max(0, attempts - 1)))

    async def _deliver(self, row: dict[str, Any]) -> None:
        if row["channel"] == "email":
            message = self.mailer.build(
                to=row["recipient"],
                subject=row["subject"],
                text=row["body_text"],
                html=row["body_html"],
                message_id=row["message_id"],
                unsubscribe_url=row["unsubscribe_url"],
            )
            await self.mailer.send(row["recipient"], message)
        else:
            await self.push.send(
                row["recipient"],
                row["subject"],
                row["body_text"],
                {
                    "case_id": str(row["case_id"]) if row["case_id"] else None,
                    "alert_id": str(row["alert_id"]) if row["alert_id"] else None,
                },
            )

    async def dispatch_once(self) -> int:
        """Send one claimed batch: recipients in parallel (up to the SMTP pool), each recipient's messages in
        order; when a channel is down its remaining messages go back untried."""
        channels = [c for c in CHANNELS if not self._waiting(c)]
        if not channels:
            return 0
        async with self.pool.acquire() as conn:
            rows = await deliveries.claim(conn, self.settings.dispatch_batch, self.sender_id, channels)
        if not rows:
            return 0
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault((row["channel"], row["recipient"]), []).append(row)
        gate = asyncio.Semaphore(self.settings.smtp_connections)

        async def serve(group: list[dict[str, Any]]) -> int:
            sent = 0
            async with gate:
                for index, row in enumerate(group):
                    if self._waiting(row["channel"]):
                        await self._release(group[index:], f"{row['channel']} unavailable")
                        return sent
                    if await self._send_one(row):
                        sent += 1
                    elif self._waiting(row["channel"]):
                        await self._release(group[index + 1 :], f"{row['channel']} unavailable")
                        return sent
            return sent

        sent = sum(await asyncio.gather(*(serve(g) for g in groups.values())))
        await self.marks.written()
        return sent

    async def _release(self, rows: list[dict[str, Any]], reason: str) -> None:
        if rows:
            async with self.pool.acquire() as conn:
                await deliveries.release(conn, [r["id"] for r in rows], reason)

    async def _send_one(self, row: dict[str, Any]) -> bool:
        try:
            await self._deliver(row)
        except PermanentFailure as exc:
            await self._fail(row, str(exc))
            return False
        except CONNECTION_ERRORS as exc:
            self._channel_down(row["channel"], f"{type(exc).__name__}: {exc}")
            await self._release([row], f"{row['channel']} unavailable: {type(exc).__name__}: {exc}")
            return False
        except Exception as exc:
            await self._retry_or_fail(row, f"{type(exc).__name__}: {exc}")
            return False
        if self.unreachable.pop(row["channel"], None) is not None:
            UNREACHABLE.labels(row["channel"]).set(0)
            log.warning("channel reachable again", extra={"channel": row["channel"]})
        self.marks.add(row["id"])
        SENT.labels(row["channel"], row["template"]).inc()
        LATENCY.labels(row["channel"]).observe(max(0.0, time.time() - row["event_time"].timestamp()))
        return True

    def _waiting(self, channel: str) -> bool:
        """The channel failed to connect and its next probe is not due yet."""
        return self.unreachable.get(channel, 0.0) > asyncio.get_running_loop().time()

    def _channel_down(self, channel: str, error: str) -> None:
        if channel not in self.unreachable:
            UNREACHABLE.labels(channel).set(1)
            log.warning(
                "channel unreachable; messages wait untried",
                extra={
                    "channel": channel,
                    "probe_every_s": self.settings.channel_probe_s,
                    "error": error[:200],
                },
            )
        self.unreachable[channel] = asyncio.get_running_loop().time() + self.settings.channel_probe_s

    async def _retry_or_fail(self, row: dict[str, Any], error: str) -> None:
        if row["attempts"] >= self.settings.max_attempts:
            await self._fail(row, f"gave up after {row['attempts']} attempts: {error}")
            return
        RETRIES.labels(row["channel"]).inc()
        delay = self.backoff(row["attempts"])
        log.warning(
            "delivery will be retried",
            extra={
                "delivery_id": row["id"],
                "channel": row["channel"],
                "attempt": row["attempts"],
                "retry_in_s": delay,
                "error": error[:200],
            },
        )
        async with self.pool.acquire() as conn:
            await deliveries.mark_retry(conn, row["id"], error, delay)

    async def _fail(self, row: dict[str, Any], error: str) -> None:
        FAILED.labels(row["channel"], row["template"]).inc()
        log.error(
            "delivery failed",
            extra={
                "delivery_id": row["id"],
                "channel": row["channel"],
                "template": row["template"],
                "error": error[:300],
            },
        )
        async with self.pool.acquire() as conn:
            await deliveries.mark_failed(conn, row["id"], error)

    async def run(self) -> None:
        async with self.pool.acquire() as conn:
            # what this instance had claimed before it stopped is resumed now; other instances' after a while
            resumed = await deliveries.release_stale(conn, STALE_AFTER_S, self.sender_id)
        if resumed:
            log.warning("deliveries of a stopped sender resumed", extra={"count": resumed})
        loop = asyncio.get_running_loop()
        last_gauge = 0.0
        try:
            while True:
                sent = await self.dispatch_once()
                if loop.time() - last_gauge > GAUGE_EVERY_S:
                    last_gauge = loop.time()
                    async with self.pool.acquire() as conn:
                        PENDING.set(await deliveries.pending_count(conn))
                        await deliveries.release_stale(conn, STALE_AFTER_S)
                if sent == 0:
                    self.wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wakeup.wait(), timeout=0.25)
        finally:  # stopping: the marks of what was sent are written first, if the database lets us
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.marks.written(), timeout=2.0)
