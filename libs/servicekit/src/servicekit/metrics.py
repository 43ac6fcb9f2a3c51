"""Prometheus metrics shared by all services (bounded labels only: never a case id or an e-mail)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

registry: CollectorRegistry = REGISTRY

CONSUMED = Counter(
    "cc_consumer_messages_total",
    "Kafka records handled by a consumer, by outcome (processed, dead_lettered, own: its own, passed over)",
    ["service", "topic", "outcome"],
)
BATCH_SECONDS = Histogram(
    "cc_consumer_batch_seconds",
    "Time to handle one consumed batch",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "cc_consumer_lag_messages",
    "Records behind the partition's end, as seen after the last batch",
    ["service", "group", "topic", "partition"],
)
DEAD_LETTERS = Counter("cc_dead_letters_total", "Records sent to a dead-letter topic", ["service", "topic"])
RETRIES = Counter(
    "cc_consumer_retries_total", "Batches put back for a retry after a transient error", ["service", "topic"]
)
PUBLISHED = Counter("cc_events_published_total", "Events published to Kafka", ["service", "topic"])
