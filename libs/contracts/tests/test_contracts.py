"""The contracts: examples validate, records round-trip, drift of the schema fails, bad records are refused."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import (
    TOPICS,
    CaseCreated,
    CaseRouted,
    CaseStatusChanged,
    ContractError,
    decode,
    encode,
    headers_dict,
)
from contracts.asyncapi import render
from contracts.examples import sample_case, sample_events

SNAPSHOT = Path(__file__).resolve().parents[1] / "schema" / "asyncapi.json"


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.event_type)
def test_record_round_trip_with_headers_and_key(event: CaseCreated | CaseRouted | CaseStatusChanged) -> None:
    key, value, headers = encode(event)
    h = headers_dict(headers)
    assert h["event_type"] == event.event_type
    assert h["schema_version"] == "1"
    assert h["correlation_id"] == "corr-1"
    assert h["traceparent"].startswith("00-")
    assert len(h["traceparent"]) == 55
    expected_key = event.unit_id if isinstance(event, CaseRouted) else str(event.case_id)
    assert key == expected_key.encode()
    assert decode(event.event_type, value) == event


def test_every_topic_has_a_contract_and_a_dead_letter_topic() -> None:
    assert set(TOPICS) == {"case.created", "case.routed", "case.status_changed"}
    for topic in TOPICS.values():
        assert topic.dlq == f"{topic.name}.dlq"
        assert topic.partitions >= 1


def test_envelope_requires_timezone_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        CaseCreated(case_id=uuid4(), correlation_id="c", case=sample_case(), occurred_at=datetime(2026, 1, 1))


@pytest.mark.parametrize("bad", [b"not json", b"{}", b'{"event_type": "case.created"}', None])
def test_bad_records_are_contract_errors(bad: bytes | None) -> None:
    with pytest.raises(ContractError):
        decode("case.created", bad)


def test_unknown_fields_and_topics_are_refused() -> None:
    event = sample_events()[0]
    data = json.loads(event.model_dump_json())
    data["surprise"] = 1
    with pytest.raises(ContractError):
        decode("case.created", json.dumps(data).encode())
    with pytest.raises(ContractError):
        decode("case.unknown", event.model_dump_json().encode())


def test_case_number_format_is_warsaws() -> None:
    sample_case("1/26")
    with pytest.raises(ValueError, match="case_number"):
        sample_case("2026-000001")


def test_anonymous_case_is_valid() -> None:
    case = sample_case().model_copy(update={"reporter": None})
    CaseCreated(case_id=uuid4(), correlation_id="c", case=case)


def test_schema_snapshot_is_current() -> None:
    """An accidental change to a contract changes the generated AsyncAPI document and fails here.
    After a deliberate, additive change: UPDATE_SNAPSHOTS=1 make test (and bump the document version)."""
    current = render()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), "run with UPDATE_SNAPSHOTS=1 once to create the snapshot"
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == json.loads(current), (
        "the contracts changed: if on purpose, UPDATE_SNAPSHOTS=1 and follow libs/contracts/README.md"
    )


def test_models_carry_descriptions_and_examples() -> None:
    schema = CaseCreated.model_json_schema()
    envelope = schema["properties"]
    for name in ("event_id", "occurred_at", "correlation_id"):
        assert envelope[name].get("description"), name
    assert envelope["correlation_id"].get("examples")
