"""Tracker against the real Kafka and PostgreSQL, run as a process: a case's life, keys, replay, ordering."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import (
    Actor,
    ActorKind,
    Case,
    CaseCreated,
    CaseRouted,
    CaseStatusChanged,
    RoutingReason,
    decode,
)
from devstack.testing import RunningService, Stack, prime_group, publish, watch
from tracker.auth import issue_key

pytestmark = pytest.mark.integration

TOPICS = ["case.created", "case.routed", "case.status_changed"]
SECRET = "sekret-mieszkanca-123"


def new_case(number: str | None = None) -> CaseCreated:
    case = Case.model_validate(
        {
            "case_number": number or f"{uuid.uuid4().int % 9_000_000 + 1_000_000}/26",
            "kind": "intervention",
            "category": {"category": "interwencja", "subcategory": "drogi", "event": "drogi.sygnalizacja"},
            "description": "Nie działa sygnalizacja",
            "location": {"lat": 52.2297, "lon": 21.0122},
            "channel": "mobile",
            "received_at": datetime.now(UTC),
            "reporter": {"email": "x@example.org"},
            "secret_hash": hashlib.sha256(SECRET.encode()).hexdigest(),
        }
    )
    return CaseCreated(case_id=uuid.uuid4(), correlation_id=f"c-{uuid.uuid4().hex[:6]}", case=case)


def routed(created: CaseCreated, unit: str = "zdm", at: datetime | None = None) -> CaseRouted:
    return CaseRouted(
        case_id=created.case_id,
        correlation_id=created.correlation_id,
        unit_id=unit,
        occurred_at=at or datetime.now(UTC),
        unit_name={"zdm": "Zarząd Dróg Miejskich", "triage": "Kolejka"}.get(unit, unit),
        reason=RoutingReason(
            rule="triage" if unit == "triage" else "roads-traffic-lights",
            district="Śródmieście",
            triage_reason="no routing rule matches this case" if unit == "triage" else None,
        ),
        sla_due_at=datetime.now(UTC) + timedelta(days=1),
        routed_by=Actor(kind=ActorKind.SYSTEM, id="router"),
        case=created.case.model_dump(exclude={"reporter", "consent", "secret_hash"}),
    )


class Tracker:
    def __init__(self, svc: RunningService, db: str) -> None:
        self.svc = svc
        self.db = db
        self.client = httpx.AsyncClient(base_url=svc.url, timeout=30)

    async def key(self, role: str, subject: str) -> str:
        conn = await asyncpg.connect(self.db)
        try:
            return await issue_key(conn, role, subject)
        finally:
            await conn.close()

    async def view(self, case_id: uuid.UUID, until: Any = None, timeout: float = 30) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        body: dict[str, Any] = {}
        while asyncio.get_running_loop().time() < deadline:
            response = await self.client.get(f"/v1/public/cases/{case_id}")
            if response.status_code == 200:
                body = response.json()
                if until is None or until(body):
                    return body
            await asyncio.sleep(0.2)
        raise AssertionError(f"case {case_id} never reached the expected state: {body}")


@pytest.fixture
async def tracker(stack: Stack, services: Any, fresh_db: Any) -> Any:
    group = f"tracker-test-{uuid.uuid4().hex[:8]}"
    await prime_group(stack.kafka_bootstrap, group, TOPICS)
    db = await fresh_db("tracker")
    svc = await services("tracker", {"TRACKER_DATABASE_URL": db, "TRACKER_CONSUMER_GROUP": group})
    t = Tracker(svc, db)
    yield t
    await t.client.aclose()


def statuses(view: dict[str, Any]) -> list[str]:
    return [h["status"] for h in view["history"]]


async def test_the_full_life_of_a_case(stack: Stack, tracker: Tracker) -> None:
    created = new_case()
    zdm = {"X-API-Key": await tracker.key("unit", "zdm")}
    base = f"/v1/units/zdm/cases/{created.case_id}"
    async with watch(stack.kafka_bootstrap, "case.status_changed") as changes:
        await publish(stack.kafka_bootstrap, created, routed(created))
        await tracker.view(created.case_id, lambda v: v["status"] == "routed")
        for path, body, status in [
            ("accept", {"note": "Przyjęto"}, "in_progress"),
            ("close", {"note": "Naprawiono sygnalizator"}, "closed"),
        ]:
            response = await tracker.client.post(f"{base}/{path}", json=body, headers=zdm)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == status
        dispute = await tracker.client.post(
            "/v1/public/disputes",
            json={"case_number": created.case.case_number, "secret": SECRET, "reason": "Nadal nie działa"},
        )
        assert dispute.status_code == 200, dispute.text
        wrong = await tracker.client.post(
            "/v1/public/disputes",
            json={"case_number": created.case.case_number, "secret": "nie-ten-sekret", "reason": "x"},
        )
        assert wrong.status_code == 403
        assert (
            await tracker.client.post(f"{base}/close", json={"note": "Wymieniono sterownik"}, headers=zdm)
        ).status_code == 200
        again = await tracker.client.post(f"{base}/close", json={"note": "x"}, headers=zdm)
        assert again.status_code == 409
        assert "cannot become closed" in again.json()["detail"]
        await changes.collect(lambda rs: sum(str(created.case_id).encode() in r.value for r in rs) >= 5)
        await changes.collect(lambda rs: False, timeout=1.5)
    view = await tracker.view(created.case_id, lambda v: len(v["history"]) == 6)
    assert statuses(view) == ["new", "routed", "in_progress", "closed", "reopened", "closed"]
    assert view["history"][4]["status_label"]["pl"] == "Reklamowane - W trakcie"
    assert view["history"][3]["note"] == "Naprawiono sygnalizator"
    assert view["unit"]["names"]["pl"] == "Zarząd Dróg Miejskich"
    assert "x@example.org" not in str(view)
    by_number = await tracker.client.get(f"/v1/public/cases/by-number/{created.case.case_number}")
    assert by_number.json()["case_id"] == str(created.case_id)
    dashed = created.case.case_number.replace("/", "-")
    assert (await tracker.client.get(f"/v1/public/cases/by-number/{dashed}")).status_code == 200
    mine = [decode(r.topic, r.value) for r in changes.records if str(created.case_id).encode() in r.value]
    assert [(e.from_status, e.to_status) for e in mine] == [
        ("new", "routed"),
        ("routed", "in_progress"),
        ("in_progress", "closed"),
        ("closed", "reopened"),
        ("reopened", "closed"),
    ]
    assert [e.sequence for e in mine] == [2, 3, 4, 5, 6]
    assert all(isinstance(e, CaseStatusChanged) and e.correlation_id == created.correlation_id for e in mine)
    # they say who published them, and the tracker passes over its own when they come back to it
    assert all(
        ("producer", b"tracker") in r.headers
        for r in changes.records
        if str(created.case_id).encode() in r.value
    )
    own = 'cc_consumer_messages_total{outcome="own",service="tracker",topic="case.status_changed"} '
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        metrics = (await tracker.client.get("/metrics")).text
        passed_over = float(metrics.split(own, 1)[1].split()[0]) if own in metrics else 0.0
        if passed_over >= 5 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert passed_over >= 5
    assert statuses(await tracker.view(created.case_id)) == statuses(view)  # nothing applied twice


async def test_a_unit_key_sees_and_changes_only_its_cases(stack: Stack, tracker: Tracker) -> None:
    created = new_case()
    await publish(stack.kafka_bootstrap, created, routed(created, "zdm"))
    await tracker.view(created.case_id, lambda v: v["status"] == "routed")
    ztm = {"X-API-Key": await tracker.key("unit", "ztm")}
    zdm = {"X-API-Key": await tracker.key("unit", "zdm")}
    consultant = {"X-API-Key": await tracker.key("consultant", "k-1")}
    c = tracker.client
    assert (await c.get("/v1/units/zdm/cases", headers=ztm)).status_code == 403
    assert (
        await c.post(f"/v1/units/ztm/cases/{created.case_id}/accept", json={}, headers=ztm)
    ).status_code == 403
    assert (
        await c.post(f"/v1/units/zdm/cases/{created.case_id}/accept", json={}, headers=ztm)
    ).status_code == 403
    assert (await c.get("/v1/units/zdm/cases")).status_code == 401
    assert (await c.get("/v1/units/zdm/cases", headers={"X-API-Key": "made-up"})).status_code == 401
    assert (await c.get("/v1/units/zdm/cases", headers=consultant)).status_code == 403
    assert (await c.get("/v1/consultant/triage", headers=zdm)).status_code == 403
    listing = await c.get("/v1/units/zdm/cases", headers=zdm)
    assert listing.status_code == 200
    assert str(created.case_id) in {item["case_id"] for item in listing.json()["items"]}
    ztm_list = (await c.get("/v1/units/ztm/cases", headers=ztm)).json()
    assert str(created.case_id) not in {item["case_id"] for item in ztm_list["items"]}


async def test_redelivery_changes_nothing_and_out_of_order_is_handled(stack: Stack, tracker: Tracker) -> None:
    early = new_case()
    route = routed(early)
    await publish(stack.kafka_bootstrap, route)  # routed before created
    await asyncio.sleep(1.0)
    await publish(stack.kafka_bootstrap, early, early, route, route)  # and everything twice
    view = await tracker.view(early.case_id, lambda v: v["status"] == "routed")
    await asyncio.sleep(1.5)
    view = await tracker.view(early.case_id)
    assert statuses(view) == ["new", "routed"]
    metrics = (await tracker.client.get("/metrics")).text
    assert 'cc_tracker_out_of_order_events_total{topic="case.routed"} 1.0' in metrics


async def test_triage_assignment_by_a_consultant_is_published_as_routing(
    stack: Stack, tracker: Tracker
) -> None:
    created = new_case()
    consultant = {"X-API-Key": await tracker.key("consultant", "k-7")}
    await publish(stack.kafka_bootstrap, created, routed(created, "triage"))
    await tracker.view(created.case_id, lambda v: v["status"] == "triage")
    queue = (await tracker.client.get("/v1/consultant/triage", headers=consultant)).json()
    assert str(created.case_id) in {i["case_id"] for i in queue["items"]}
    async with watch(stack.kafka_bootstrap, "case.routed") as watcher:
        response = await tracker.client.post(
            f"/v1/consultant/cases/{created.case_id}/assign", json={"unit_id": "zdm"}, headers=consultant
        )
        assert response.status_code == 200, response.text
        await watcher.collect(lambda rs: any(str(created.case_id).encode() in r.value for r in rs))
    event = next(
        decode(r.topic, r.value) for r in watcher.records if str(created.case_id).encode() in r.value
    )
    assert isinstance(event, CaseRouted)
    assert (event.unit_id, event.routed_by.kind, event.routed_by.id) == ("zdm", "consultant", "k-7")
    view = await tracker.view(created.case_id)
    assert statuses(view) == ["new", "triage", "routed"]
    dup_target = new_case()
    await publish(stack.kafka_bootstrap, dup_target)
    await tracker.view(dup_target.case_id)
    merged = await tracker.client.post(
        f"/v1/consultant/cases/{dup_target.case_id}/duplicate",
        json={"duplicate_of": str(created.case_id)},
        headers=consultant,
    )
    assert merged.status_code == 200, merged.text
    assert (await tracker.view(dup_target.case_id))["duplicate_of"] == str(created.case_id)


async def test_replay_rebuilds_identical_state(stack: Stack, tracker: Tracker, fresh_db: Any) -> None:
    created = new_case()
    zdm = {"X-API-Key": await tracker.key("unit", "zdm")}
    await publish(stack.kafka_bootstrap, created, routed(created))
    await tracker.view(created.case_id, lambda v: v["status"] == "routed")
    await tracker.client.post(
        f"/v1/units/zdm/cases/{created.case_id}/accept", json={"note": "OK"}, headers=zdm
    )
    await tracker.client.post(
        f"/v1/units/zdm/cases/{created.case_id}/close", json={"note": "Zrobione"}, headers=zdm
    )
    live = await tracker.view(created.case_id, lambda v: v["status"] == "closed")
    await asyncio.sleep(2)  # the outbox has published the last change
    target = await fresh_db("replay")
    env = {**tracker.svc.env, "TRACKER_DATABASE_URL": target}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tracker", "replay", "--database-url", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replayed" in result.stdout

    async def state(db: str) -> tuple[Any, Any]:
        conn = await asyncpg.connect(db)
        try:
            row = await conn.fetchrow(
                "SELECT case_number, status, unit_id, district, created_at, updated_at, sla_due_at, closed_at, "
                "first_response_at, version, secret_hash, description FROM cases WHERE case_id = $1",
                created.case_id,
            )
            hist = await conn.fetch(
                "SELECT sequence, status, from_status, actor_kind, actor_id, unit_id, public_note, "
                "occurred_at, event_id FROM history WHERE case_id = $1 ORDER BY sequence",
                created.case_id,
            )
            return dict(row), [dict(h) for h in hist]
        finally:
            await conn.close()

    assert await state(target) == await state(tracker.db)
    assert statuses(live) == ["new", "routed", "in_progress", "closed"]


async def test_overdue_cases_are_marked_once_and_stay_marked_across_restarts(
    stack: Stack, services: Any, fresh_db: Any
) -> None:
    group = f"tracker-sla-{uuid.uuid4().hex[:8]}"
    await prime_group(stack.kafka_bootstrap, group, TOPICS)
    db = await fresh_db("tracker")
    env = {
        "TRACKER_DATABASE_URL": db,
        "TRACKER_CONSUMER_GROUP": group,
        "TRACKER_SLA_CHECK_INTERVAL_S": "0.5",
        "TRACKER_METRICS_REFRESH_S": "0.5",
    }
    svc: RunningService = await services("tracker", env)
    t = Tracker(svc, db)
    late, on_time = new_case(), new_case()
    late_route = routed(late).model_copy(update={"sla_due_at": datetime.now(UTC) - timedelta(minutes=5)})
    await publish(stack.kafka_bootstrap, late, late_route, on_time, routed(on_time))
    view = await t.view(late.case_id, lambda v: v["overdue"] is True)
    assert (await t.view(on_time.case_id, lambda v: v["status"] == "routed"))["overdue"] is False

    async def marked_at() -> Any:
        conn = await asyncpg.connect(db)
        try:
            return await conn.fetchval("SELECT overdue_at FROM cases WHERE case_id = $1", late.case_id)
        finally:
            await conn.close()

    first = await marked_at()
    await asyncio.sleep(1.5)
    metrics = (await t.client.get("/metrics")).text
    assert 'cc_tracker_cases_marked_overdue_total{unit="zdm"} 1.0' in metrics
    assert 'cc_tracker_overdue_cases{unit="zdm"} 1.0' in metrics
    assert 'cc_tracker_overdue_cases{unit="ztm"} 0.0' in metrics
    await t.client.aclose()
    svc.stop()
    svc.start()
    await svc.wait_ready()
    t = Tracker(svc, db)
    await asyncio.sleep(2)  # several checks after the restart
    after = (await t.client.get("/metrics")).text
    assert 'cc_tracker_cases_marked_overdue_total{unit="zdm"}' not in after  # nothing newly marked
    assert 'cc_tracker_overdue_cases{unit="zdm"} 1.0' in after
    assert await marked_at() == first
    assert view["sla_due_at"] is not None
    await t.client.aclose()


async def test_unit_keys_rotate_without_downtime(stack: Stack, tracker: Tracker) -> None:
    old = await tracker.key("unit", "zdm")
    new = await tracker.key("unit", "zdm")  # issued while the old one still works
    for key in (old, new):
        assert (
            await tracker.client.get("/v1/units/zdm/cases", headers={"X-API-Key": key})
        ).status_code == 200
    env = {**tracker.svc.env, "TRACKER_DATABASE_URL": tracker.db}
    import os

    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "tracker",
            "keys",
            "revoke",
            "--role",
            "unit",
            "--subject",
            "zdm",
            "--keep-newest",
            "1",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "revoked 1 key(s)" in result.stdout, result.stderr[-1000:]
    assert (await tracker.client.get("/v1/units/zdm/cases", headers={"X-API-Key": old})).status_code == 401
    assert (await tracker.client.get("/v1/units/zdm/cases", headers={"X-API-Key": new})).status_code == 200
    conn = await asyncpg.connect(tracker.db)
    try:
        stored = await conn.fetch("SELECT key_hash FROM api_keys")
    finally:
        await conn.close()
    assert all(
        new not in r["key_hash"] and len(r["key_hash"]) == 64 for r in stored
    )  # only hashes are stored
