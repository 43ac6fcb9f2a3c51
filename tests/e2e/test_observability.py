"""A real Prometheus scrapes the running services: the counters show submitted cases, every dashboard
panel's PromQL is accepted and returns data after a short load, and the alert rules load."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.testing import Stack, System, free_port
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


@pytest.fixture
async def prometheus(system: System, tmp_path: Path) -> AsyncIterator[str]:
    exe = shutil.which("prometheus")
    assert exe, "prometheus missing: make test installs it"
    port = free_port()
    jobs = {
        "intake": system.intake,
        "router": system.router,
        "tracker": system.tracker,
        "notifier": system.notifier,
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{svc.port}"]}]}
            for name, svc in jobs.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    proc = await asyncio.create_subprocess_exec(
        exe,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"{url}/-/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)


async def query(client: httpx.AsyncClient, url: str, expr: str) -> dict[str, Any]:
    response = await client.get(f"{url}/api/v1/query", params={"query": expr})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, (expr, body)
    assert body["status"] == "success", (expr, body)
    return body


async def load(system: System, stack: Stack) -> None:
    """A short, varied load: cases, an emergency, a triage case, a closure, a poison record."""
    async with httpx.AsyncClient(timeout=30) as client:
        ids = []
        for i in range(12):
            r = await client.post(
                f"{system.intake.url}/v1/cases",
                json={
                    "kind": "intervention",
                    "category": "smieci.gabaryty" if i % 2 else "drogi.sygnalizacja",
                    "description": f"Zgłoszenie testowe {i}",
                    "location": {"lat": 52.2297, "lon": 21.0122},
                    "channel": ["mobile", "portal", "phone"][i % 3],
                    "reporter": {"email": f"o{i}@example.org"},
                },
            )
            assert r.status_code == 201
            ids.append(r.json()["case_id"])
        assert (
            await client.post(
                f"{system.intake.url}/v1/cases",
                json={
                    "kind": "intervention",
                    "category": "drogi.sygnalizacja",
                    "description": "Pożar samochodu, ktoś jest ranny",
                    "location": {"lat": 52.2297, "lon": 21.0122},
                    "channel": "phone",
                },
            )
        ).status_code == 422
        assert (
            await client.post(
                f"{system.intake.url}/v1/cases",
                json={
                    "kind": "intervention",
                    "category": "inne.zdarzenie",
                    "description": "Coś dziwnego",
                    "location": {"lat": 52.2297, "lon": 21.0122},
                    "channel": "portal",
                },
            )
        ).status_code == 201
        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
        try:
            key = await issue_key(conn, "unit", "zdm")
        finally:
            await conn.close()
        first = ids[0]
        for _ in range(100):
            view = await client.get(f"{system.tracker.url}/v1/public/cases/{first}")
            if view.status_code == 200 and view.json()["status"] == "routed":
                break
            await asyncio.sleep(0.2)
        unit = f"{system.tracker.url}/v1/units/zdm/cases/{first}"
        assert (await client.post(f"{unit}/accept", json={}, headers={"X-API-Key": key})).status_code == 200
        assert (
            await client.post(f"{unit}/close", json={"note": "Naprawione"}, headers={"X-API-Key": key})
        ).status_code == 200
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("case.created", value=b"poison for the dashboards", key=b"poison")
    finally:
        await producer.stop()


async def test_prometheus_sees_the_caseload_and_every_panel_has_data(
    system: System, stack: Stack, prometheus: str
) -> None:
    await load(system, stack)
    async with httpx.AsyncClient(timeout=30) as client:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            accepted = await query(client, prometheus, "sum(cc_intake_cases_accepted_total)")
            routed = await query(client, prometheus, "sum(cc_router_cases_routed_total)")
            dlq = await query(client, prometheus, 'sum(cc_dead_letters_total{service="router"})')
            open_cases = await query(client, prometheus, "sum(cc_tracker_open_cases)")
            values = [
                float(r["data"]["result"][0]["value"][1]) if r["data"]["result"] else 0.0
                for r in (accepted, routed, dlq, open_cases)
            ]
            if values[0] >= 13 and values[1] >= 13 and values[2] >= 1 and values[3] >= 1:
                break
            assert asyncio.get_running_loop().time() < deadline, f"counters stuck at {values}"
            await asyncio.sleep(1)
        await asyncio.sleep(3)  # a few more scrapes for rate() windows
        targets = (await client.get(f"{prometheus}/api/v1/targets")).json()["data"]["activeTargets"]
        assert {t["labels"]["job"]: t["health"] for t in targets} == dict.fromkeys(
            ("intake", "router", "tracker", "notifier"), "up"
        )
        rules = (await client.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} >= {
            "ServiceDown",
            "DeadLetters",
            "EmergencySpike",
        }
        empty = []
        for dashboard in DASHBOARDS:
            for panel in json.loads(dashboard.read_text())["panels"]:
                for target in panel["targets"]:
                    body = await query(client, prometheus, target["expr"])
                    if not body["data"]["result"]:
                        empty.append(f"{dashboard.name}: {panel['title']}: {target['expr']}")
        assert empty == []
