"""The AsyncAPI 3.0 document of every topic, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from contracts.codec import (
    HEADER_CORRELATION_ID,
    HEADER_EVENT_TYPE,
    HEADER_PRODUCER,
    HEADER_SCHEMA_VERSION,
    HEADER_TRACEPARENT,
)
from contracts.topics import DLQ_PARTITIONS, TOPICS

DOCUMENT_VERSION = "1.0.2"

_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        HEADER_EVENT_TYPE: {"type": "string", "description": "Repeats the envelope's event_type"},
        HEADER_SCHEMA_VERSION: {"type": "string", "description": "Repeats the envelope's schema_version"},
        HEADER_CORRELATION_ID: {"type": "string", "description": "Repeats the envelope's correlation_id"},
        HEADER_TRACEPARENT: {"type": "string", "description": "W3C trace context"},
        HEADER_PRODUCER: {
            "type": "string",
            "description": "The service that published the record (intake, router, tracker, ...)",
        },
    },
    "required": [HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, HEADER_CORRELATION_ID],
}


def build(operations: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document; `operations` (who sends and receives what) come from the services' wiring."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in TOPICS.values():
        name = topic.model.__name__
        schema = topic.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name] = schema
        messages[name] = {
            "name": name,
            "title": topic.name,
            "summary": topic.description,
            "contentType": "application/json",
            "headers": _HEADERS_SCHEMA,
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"the {topic.key}"}}},
        }
        channels[topic.name] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Partitions: {topic.partitions}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions}},
        }
        channels[topic.dlq] = {
            "address": topic.dlq,
            "description": (
                f"Dead letters of {topic.name}: the original record, with headers dlq_reason, "
                "dlq_topic, dlq_partition, dlq_offset, dlq_consumer_group."
            ),
            "bindings": {"kafka": {"topic": topic.dlq, "partitions": DLQ_PARTITIONS}},
        }
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "City contact centre events",
            "version": DOCUMENT_VERSION,
            "description": "Topics shared by intake, router, tracker and notifier.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }
    if operations:
        document["operations"] = operations
    return document


def operation(service: str, action: str, topic: str, group: str | None = None) -> tuple[str, dict[str, Any]]:
    """One AsyncAPI operation: `service` sends to or receives from `topic`."""
    name = f"{service}.{action}.{topic}"
    summary = f"{service} {action}s {topic}" + (f" (consumer group {group})" if group else "")
    spec = TOPICS.get(topic)
    body: dict[str, Any] = {"action": action, "channel": {"$ref": f"#/channels/{topic}"}, "summary": summary}
    if spec is not None:
        body["messages"] = [{"$ref": f"#/channels/{topic}/messages/{spec.model.__name__}"}]
    return name, body


def render(operations: dict[str, Any] | None = None) -> str:
    return json.dumps(build(operations), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
