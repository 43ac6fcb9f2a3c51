"""Intake against the real Kafka and PostgreSQL, run as a process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from contracts import CaseCreated, decode, headers_dict
from devstack.testing import RunningService, Stack, watch

pytestmark = pytest.mark.integration

CASE: dict[str, Any] = {
    "kind": "intervention",
    "category": "smieci.gabaryty",
    "channel": "mobile",
    "description": "Zalegające gabaryty przy altanie śmietnikowej",
    "location": {"lat": 52.1931, "lon": 21.0346, "address": "ul. Puławska 100"},
    "reporter": {"email": "anna@example.org", "name": "Anna"},
    "language": "pl",
}


@pytest.fixture
async def intake(services: Any, fresh_db: Any) -> RunningService:
    db = await fresh_db("intake")
    svc: RunningService = await services("intake", {"INTAKE_DATABASE_URL": db})
    svc.env["INTAKE_DATABASE_URL"] = db
    return svc


def created_events(records: list[Any]) -> list[CaseCreated]:
    out = []
    for r in records:
        event = decode(r.topic, r.value)
        assert isinstance(event, CaseCreated)
        out.append(event)
    return out


async def test_a_case_arrives_on_case_created_with_its_number(stack: Stack, intake: RunningService) -> None:
    async with watch(stack.kafka_bootstrap, "case.created") as watcher, httpx.AsyncClient() as client:
        response = await client.post(
            f"{intake.url}/v1/cases", json=CASE, headers={"X-Correlation-ID": "corr-42"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        records = await watcher.collect(lambda rs: any(body["case_id"] in r.value.decode() for r in rs))
    mine = [r for r in records if body["case_id"] in r.value.decode()]
    assert len(mine) == 1
    event = created_events(mine)[0]
    assert event.case.case_number == body["case_number"]
    assert mine[0].key == body["case_id"].encode()
    assert headers_dict(mine[0].headers)["correlation_id"] == "corr-42"
    assert event.correlation_id == "corr-42"
    assert event.case.reporter is not None
    assert event.case.reporter.email == "anna@example.org"
    assert body["status"] == "new"
    assert body["status_url"].endswith(body["case_id"])


async def test_retry_with_the_same_idempotency_key_yields_one_case(
    stack: Stack, intake: RunningService
) -> None:
    async with watch(stack.kafka_bootstrap, "case.created") as watcher, httpx.AsyncClient() as client:
        headers = {"Idempotency-Key": "portal-req-0001"}
        first = await client.post(f"{intake.url}/v1/cases", json=CASE, headers=headers)
        again = await asyncio.gather(
            *[client.post(f"{intake.url}/v1/cases", json=CASE, headers=headers) for _ in range(5)]
        )
        other = await client.post(
            f"{intake.url}/v1/cases", json={**CASE, "description": "Inny opis"}, headers=headers
        )
        await watcher.collect(lambda rs: False, timeout=3)
    assert first.status_code == 201
    for r in again:
        assert r.status_code == 201
        assert r.json()["case_number"] == first.json()["case_number"]
        assert r.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    published = [r for r in watcher.records if first.json()["case_id"] in r.value.decode()]
    assert len(published) == 1


async def test_200_concurrent_submissions_to_two_instances_get_200_numbers(
    stack: Stack, intake: RunningService, services: Any
) -> None:
    second: RunningService = await services(
        "intake", {"INTAKE_DATABASE_URL": intake.env["INTAKE_DATABASE_URL"]}
    )
    limits = httpx.Limits(max_connections=100)
    async with (
        watch(stack.kafka_bootstrap, "case.created") as watcher,
        httpx.AsyncClient(limits=limits) as client,
    ):
        urls = [intake.url, second.url]
        responses = await asyncio.gather(
            *[
                client.post(
                    f"{urls[i % 2]}/v1/cases", json={**CASE, "description": f"Gabaryty nr {i}"}, timeout=60
                )
                for i in range(200)
            ]
        )
        assert [r.status_code for r in responses] == [201] * 200
        ids = {r.json()["case_id"] for r in responses}
        await watcher.collect(
            lambda rs: len({decode(r.topic, r.value).case_id for r in rs} & _uuids(ids)) == 200, timeout=60
        )
    numbers = [r.json()["case_number"] for r in responses]
    assert len(set(numbers)) == 200
    on_kafka = {str(e.case_id) for e in created_events(watcher.records)}
    assert ids <= on_kafka


def _uuids(ids: set[str]) -> set[Any]:
    import uuid

    return {uuid.UUID(i) for i in ids}


async def test_emergencies_are_refused_and_never_published(stack: Stack, intake: RunningService) -> None:
    text = "Na przystanku leży nieprzytomny mężczyzna, nie oddycha"
    async with watch(stack.kafka_bootstrap, "case.created") as watcher, httpx.AsyncClient() as client:
        refused = await client.post(f"{intake.url}/v1/cases", json={**CASE, "description": text})
        overridden = await client.post(
            f"{intake.url}/v1/cases",
            json={
                **CASE,
                "description": "Pani zemdlała wczoraj - prośba o ławkę w cieniu",
                "kind": "proposal",
                "category": None,
                "channel": "phone",
                "consultant_id": "k-17",
                "emergency_override": True,
            },
        )
        await watcher.collect(lambda rs: False, timeout=2)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("/emergency")
    assert "112" in problem["detail"]
    assert overridden.status_code == 201
    assert not any(text.encode() in r.value for r in watcher.records)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{intake.url}/metrics")).text
    assert 'cc_intake_emergencies_refused_total{channel="mobile",rule="unconscious"} 1.0' in metrics


@pytest.mark.parametrize(
    ("content", "headers", "status", "mentions"),
    [
        ({**CASE, "category": "nie.ma.takiej"}, {}, 422, "category"),
        ({**CASE, "location": {"lat": 50.06, "lon": 19.94}}, {}, 422, "location"),
        ({**CASE, "description": ""}, {}, 422, "description"),
        ({**CASE, "description": "x" * 300_000}, {}, 413, "body"),
        ("kind=intervention", {"content-type": "application/x-www-form-urlencoded"}, 415, "application/json"),
        ("{not json", {"content-type": "application/json"}, 400, "body"),
        (
            {**CASE, "kind": "intervention", "category": None, "location": None, "photos": ["x"] * 9},
            {},
            422,
            "photos",
        ),
        ({**CASE, "location": {"lat": 1e308, "lon": 21.0}}, {}, 422, "location"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    intake: RunningService, content: Any, headers: dict[str, str], status: int, mentions: str
) -> None:
    async with httpx.AsyncClient() as client:
        if isinstance(content, str):
            response = await client.post(f"{intake.url}/v1/cases", content=content, headers=headers)
        else:
            response = await client.post(
                f"{intake.url}/v1/cases",
                content=json.dumps(content),
                headers={"content-type": "application/json", **headers},
            )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert mentions in response.text


async def test_categories_describe_the_form(intake: RunningService) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{intake.url}/v1/categories")
    assert response.status_code == 200
    body = response.json()
    assert {k["code"] for k in body["kinds"]} == {"intervention", "proposal", "information"}
    roads = next(s for c in body["categories"] for s in c["subcategories"] if s["code"] == "drogi")
    lights = next(e for e in roads["events"] if e["code"] == "drogi.sygnalizacja")
    assert lights["names"] == {
        "pl": "Uszkodzenie sygnalizacji świetlnej",
        "en": "Broken traffic light",
        "uk": "Пошкоджений світлофор",
    }
    assert lights["requires"] == ["location"]


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


async def test_photos_are_uploaded_checked_and_used_in_a_case(intake: RunningService) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        stored = await client.post(
            f"{intake.url}/v1/photos", files={"photo": ("dziura.png", PNG, "image/png")}
        )
        assert stored.status_code == 201, stored.text
        photo = stored.json()
        assert photo["content_type"] == "image/png"
        served = await client.get(f"{intake.url}/v1/photos/{photo['photo_id']}")
        assert served.content == PNG
        assert served.headers["content-type"] == "image/png"
        fake = await client.post(
            f"{intake.url}/v1/photos", files={"photo": ("x.jpg", b"MZ\x90\x00evil", "image/jpeg")}
        )
        assert fake.status_code == 415
        huge = await client.post(
            f"{intake.url}/v1/photos",
            files={"photo": ("big.png", PNG + b"\x00" * (6 * 1024 * 1024), "image/png")},
        )
        assert huge.status_code == 413
        case = await client.post(f"{intake.url}/v1/cases", json={**CASE, "photos": [photo["url"]]})
        assert case.status_code == 201, case.text
