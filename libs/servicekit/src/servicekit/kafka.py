"""Kafka at the edge of every service: a publisher, and batch consumers that commit only after success,
dedupe by event_id (in the handler's own transaction), and dead-letter what they cannot process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts import ContractError, Event, dead_letter_topic, decode, encode, headers_dict
from contracts.codec import HEADER_PRODUCER
from servicekit import metrics
from servicekit.logs import log_context

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)


# The producer itself is beyond repair; a new one must be made (see Publisher._reset_if_fatal).
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
    ProducerClosed,
)


class RetryLater(Exception):
    """A handler's way to say: not now, redeliver this batch later (never dead-letter it)."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (RetryLater, *TRANSIENT_ERRORS))


class Publisher:
    """One idempotent producer per service (acks=all); events are keyed per their contract."""

    def __init__(self, bootstrap: str, service: str, client_id: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.service = service
        self.client_id = client_id or service
        self._producer_header = (HEADER_PRODUCER, service.encode())
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._producer is not None:
                return
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=15000,
                max_batch_size=256 * 1024,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                producer, self._producer = self._producer, None
                await producer.stop()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def _ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        return self._producer

    async def _reset_if_fatal(self, producer: AIOKafkaProducer, exc: BaseException) -> None:
        """An idempotent producer whose sequence state the broker no longer accepts (after a broker restart:
        OutOfOrderSequenceNumber, UnknownProducerId, ...) never recovers; drop it so that the retry starts
        a fresh one with a new producer id. Nothing is lost: the caller retries what was not acknowledged."""
        if not isinstance(exc, FATAL_PRODUCER_ERRORS):
            return
        log.warning(
            "producer state refused by the broker; starting a new producer", extra={"error": repr(exc)}
        )
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        with contextlib.suppress(Exception):
            await producer.stop()

    async def _send_all(
        self, records: Sequence[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]]
    ) -> None:
        producer = await self._ready()
        try:
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for topic, value, key, headers in records
            ]
            if futures:
                await asyncio.gather(*futures)
        except Exception as exc:
            await self._reset_if_fatal(producer, exc)
            raise

    async def publish(self, event: Event) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Send all, then wait for every acknowledgement (order per key is kept by the idempotent producer)."""
        records = []
        for event in events:
            key, value, headers = encode(event)
            records.append((event.event_type, value, key, [*headers, self._producer_header]))
        await self._send_all(records)
        for event in events:
            metrics.PUBLISHED.labels(self.service, event.event_type).inc()

    async def send_batch(
        self, records: Sequence[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]]
    ) -> None:
        """Send pre-encoded (topic, value, key, headers) records and wait for all acknowledgements."""
        await self._send_all([(t, v, k, [*h, self._producer_header]) for t, v, k, h in records])
        for topic, *_ in records:
            metrics.PUBLISHED.labels(self.service, topic).inc()

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        await self._send_all([(topic, value, key, headers)])


@dataclass
class Delivery:
    """One consumed record with its decoded event."""

    event: Event
    topic: str
    partition: int
    offset: int


BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


@dataclass
class ConsumerSpec:
    service: str
    group_id: str
    topics: Sequence[str]
    handler: BatchHandler
    max_records: int = 200
    retry_delays: Sequence[float] = field(default_factory=lambda: (0.5, 1, 2, 5, 10))
    commit_interval_s: float = 0.1
    # records this service published itself (their `producer` header) are passed over without decoding:
    # for a service that consumes a topic it also writes, whose own events are applied when written
    skip_own: bool = False


async def dead_letter(publisher: Publisher, record: Any, reason: str, spec: ConsumerSpec) -> None:
    """Send the original record with the reason and its coordinates to `<topic>.dlq`."""
    original = list(record.headers or [])
    extra = [
        ("dlq_reason", reason[:2000].encode()),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_consumer_group", spec.group_id.encode()),
        ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
    ]
    await publisher.send_raw(dead_letter_topic(record.topic), record.value, record.key, original + extra)
    metrics.DEAD_LETTERS.labels(spec.service, record.topic).inc()
    metrics.CONSUMED.labels(spec.service, record.topic, "dead_lettered").inc()
    log.warning(
        "record dead-lettered",
        extra={
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "reason": reason[:500],
            "correlation_id": headers_dict(record.headers).get("correlation_id"),
        },
    )


async def _handle_one(spec: ConsumerSpec, publisher: Publisher, delivery: Delivery, record: Any) -> None:
    with log_context(case_id=delivery.event.case_id, correlation_id=delivery.event.correlation_id):
        try:
            await spec.handler([delivery])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("event could not be processed")
            await dead_letter(publisher, record, f"processing failed: {type(exc).__name__}: {exc}", spec)
            return
    metrics.CONSUMED.labels(spec.service, delivery.topic, "processed").inc()


async def process_records(spec: ConsumerSpec, publisher: Publisher, records: Iterable[Any]) -> None:
    """Decode, dead-letter what does not fit a contract, and hand the rest to the handler as one batch;
    when the batch fails for a non-transient reason, retry one by one so only the culprit is dead-lettered."""
    pairs: list[tuple[Delivery, Any]] = []
    own = (HEADER_PRODUCER, spec.service.encode())
    for record in records:
        if spec.skip_own and own in (record.headers or ()):
            metrics.CONSUMED.labels(spec.service, record.topic, "own").inc()
            continue
        try:
            event = decode(record.topic, record.value)
        except ContractError as exc:
            await dead_letter(publisher, record, str(exc), spec)
            continue
        pairs.append((Delivery(event, record.topic, record.partition, record.offset), record))
    if not pairs:
        return
    try:
        await spec.handler([d for d, _ in pairs])
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("batch failed, retrying one by one", extra={"error": repr(exc)[:300]})
        for delivery, record in pairs:
            await _handle_one(spec, publisher, delivery, record)
        return
    for delivery, _ in pairs:
        metrics.CONSUMED.labels(spec.service, delivery.topic, "processed").inc()


def _update_lag(spec: ConsumerSpec, consumer: Any, records: Sequence[Any]) -> None:
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
    for (topic, partition), offset in last.items():
        try:
            highwater = consumer.highwater(TopicPartition(topic, partition))
        except Exception:
            log.debug("no high watermark yet", exc_info=True)
            continue
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(spec.service, spec.group_id, topic, str(partition)).set(
                max(0, highwater - offset - 1)
            )


async def _raw_decoder(msg: Any) -> Any:
    return msg.body


class OffsetCommitter:
    """Commits the offsets of processed records, at most once per `interval` s: a batch's commit does not
    hold up the next batch, and a broker under a steady trickle of small batches gets a few commits a
    second instead of one per batch. Only offsets of records whose batch succeeded are ever committed
    (explicit offsets, never the consumer's position, which runs ahead of the batch in hand). A crash or
    a rebalance loses at most the last interval's commits: those records come again and the handlers'
    event-id dedupe drops them, as for any redelivery."""

    def __init__(self, service: str, interval: float) -> None:
        self.service = service
        self.interval = interval
        self.done: dict[TopicPartition, int] = {}
        self.consumer: Any = None
        self.last = 0.0
        self.task: asyncio.Task[None] | None = None

    def processed(self, consumer: Any, records: Sequence[Any]) -> None:
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self.done[tp] = max(self.done.get(tp, 0), r.offset + 1)
        self.consumer = consumer
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._commit_soon())

    async def _commit_soon(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.last + self.interval - loop.time()))
        offsets, self.done = self.done, {}
        self.last = loop.time()
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # e.g. partitions revoked meanwhile: their records come again, deduped
            log.info("offsets not committed", extra={"service": self.service, "error": repr(exc)[:200]})


def register_consumer(broker: KafkaBroker, spec: ConsumerSpec, publisher: Publisher) -> None:
    """A FastStream batch subscriber whose offsets are committed only after the handler succeeded (a
    transient failure seeks back, so the batch comes again); commits are grouped by OffsetCommitter."""
    failures = {"count": 0}
    committer = OffsetCommitter(spec.service, spec.commit_interval_s)
    for topic in spec.topics:  # the series exist at zero before anything happens
        metrics.DEAD_LETTERS.labels(spec.service, topic)
        metrics.RETRIES.labels(spec.service, topic)
        for outcome in ("processed", "dead_lettered", *(("own",) if spec.skip_own else ())):
            metrics.CONSUMED.labels(spec.service, topic, outcome)

    @broker.subscriber(
        *spec.topics,
        group_id=spec.group_id,
        batch=True,
        max_records=spec.max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_decoder,
        title=f"{spec.service}:{spec.group_id}",
    )
    async def consume(body: Any, message: KafkaMessage) -> None:
        raw = message.raw_message
        records: Sequence[Any] = raw if isinstance(raw, tuple) else (raw,)
        started = time.perf_counter()
        try:
            await process_records(spec, publisher, records)
        except Exception as exc:
            delay = spec.retry_delays[min(failures["count"], len(spec.retry_delays) - 1)]
            failures["count"] += 1
            for topic in {r.topic for r in records}:
                metrics.RETRIES.labels(spec.service, topic).inc()
            log.warning("batch will be retried", extra={"error": repr(exc)[:300], "retry_in_s": delay})
            await message.nack()  # back to the batch's first records: it comes again
            await asyncio.sleep(delay)
            raise
        failures["count"] = 0
        consumer = getattr(message, "consumer", None)
        if consumer is not None:
            committer.processed(consumer, records)
        for topic in {r.topic for r in records}:
            metrics.BATCH_SECONDS.labels(spec.service, topic).observe(time.perf_counter() - started)
        _update_lag(spec, consumer, records)


async def topic_partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the topics, as the broker describes them."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"])
