"""Turning events into Kafka records and back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts.envelope import Event
from contracts.topics import TOPICS

Header = tuple[str, bytes]

HEADER_EVENT_TYPE = "event_type"
HEADER_SCHEMA_VERSION = "schema_version"
HEADER_CORRELATION_ID = "correlation_id"
HEADER_TRACEPARENT = "traceparent"
HEADER_PRODUCER = "producer"  # the service that published the record (set by its publisher)


class ContractError(ValueError):
    """A record that does not match any contract."""


def traceparent_for(correlation_id: str) -> str:
    """A W3C traceparent whose trace id is derived from the correlation id (stable across services)."""
    import hashlib

    digest = hashlib.sha256(correlation_id.encode()).hexdigest()
    return f"00-{digest[:32]}-{digest[32:48]}-01"


def encode(event: Event) -> tuple[bytes, bytes, list[Header]]:
    """Key, value and headers of the Kafka record for an event."""
    headers: list[Header] = [
        (HEADER_EVENT_TYPE, event.event_type.encode()),
        (HEADER_SCHEMA_VERSION, str(event.schema_version).encode()),
        (HEADER_CORRELATION_ID, event.correlation_id.encode()),
        (HEADER_TRACEPARENT, traceparent_for(event.correlation_id).encode()),
    ]
    return event.kafka_key(), event.model_dump_json().encode(), headers


def decode(topic: str, value: bytes | None) -> Event:
    """Parse a record's value with its topic's model; ContractError when it does not fit."""
    spec = TOPICS.get(topic)
    if spec is None:
        raise ContractError(f"no contract for topic {topic!r}")
    if value is None:
        raise ContractError("empty record value")
    try:
        return spec.model.model_validate_json(value)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ContractError(f"invalid {topic} message: {exc}") from exc


def headers_dict(headers: Sequence[Header] | Mapping[str, bytes | str] | None) -> dict[str, str]:
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in items}
