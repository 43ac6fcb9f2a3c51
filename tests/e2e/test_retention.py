"""Retention: reporter data of cases closed longer ago than the period is anonymised in every service that
kept it; open cases keep theirs; the statistics (the tracker's cases and history) stay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.testing import System, case_body
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def submit(client: httpx.AsyncClient, system: System, email: str) -> dict[str, Any]:
    r = await client.post(
        f"{system.intake.url}/v1/cases",
        json=case_body(
            channel="mobile",
            consent={"share_contact_with_unit": True},
            reporter={"email": email, "name": "Jan Kowalski", "device_token": "fcm:tok"},
        ),
    )
    assert r.status_code == 201
    body: dict[str, Any] = r.json()
    for _ in range(150):
        view = await client.get(f"{system.tracker.url}/v1/public/cases/{body['case_id']}")
        if view.status_code == 200 and view.json()["status"] == "routed":
            return body
        await asyncio.sleep(0.2)
    raise AssertionError("case was not routed")


async def retention(system: System, service: str) -> str:
    env = {**system.env[service], "KAFKA_BOOTSTRAP_SERVERS": system.intake.env["KAFKA_BOOTSTRAP_SERVERS"]}
    import os

    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            service,
            "retention",
            "--older-than-days",
            "0",
            "--tracker-url",
            system.tracker.url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


async def fetch(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_closed_cases_lose_reporter_data_and_keep_their_statistics(system: System) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        closed = await submit(client, system, "stary.mieszkaniec@example.org")
        still_open = await submit(client, system, "nowy.mieszkaniec@example.org")
        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
        try:
            key = await issue_key(conn, "unit", "zdm")
        finally:
            await conn.close()
        unit = f"{system.tracker.url}/v1/units/zdm/cases/{closed['case_id']}"
        assert (
            await client.post(f"{unit}/close", json={"note": "Naprawione"}, headers={"X-API-Key": key})
        ).status_code == 200
        await asyncio.sleep(3)  # the notifier has sent the closure mail
        for service in ("intake", "router", "notifier"):
            assert "anonymised reporter data of 1 case(s)" in await retention(system, service)
            assert "anonymised reporter data of 0 case(s)" in await retention(system, service)
        view = (await client.get(f"{system.tracker.url}/v1/public/cases/{closed['case_id']}")).json()
    assert view["status"] == "closed"
    assert [h["status"] for h in view["history"]] == ["new", "routed", "closed"]
    intake_db, router_db = (
        system.env["intake"]["INTAKE_DATABASE_URL"],
        system.env["router"]["ROUTER_DATABASE_URL"],
    )
    notifier_db = system.env["notifier"]["NOTIFIER_DATABASE_URL"]
    sql = "SELECT payload::text FROM cases WHERE case_id = $1::uuid"
    assert "stary.mieszkaniec" not in await fetch(intake_db, sql, closed["case_id"])
    assert "nowy.mieszkaniec" in await fetch(intake_db, sql, still_open["case_id"])
    assert (
        await fetch(router_db, "SELECT reporter FROM cases WHERE case_id = $1::uuid", closed["case_id"])
        is None
    )
    assert await fetch(
        router_db, "SELECT reporter FROM cases WHERE case_id = $1::uuid", still_open["case_id"]
    )
    assert (
        await fetch(notifier_db, "SELECT email FROM recipients WHERE case_id = $1::uuid", closed["case_id"])
        is None
    )
    assert await fetch(notifier_db, "SELECT count(*) FROM deliveries WHERE recipient LIKE 'stary%'") == 0
    assert (
        await fetch(
            notifier_db, "SELECT count(*) FROM deliveries WHERE case_id = $1::uuid", closed["case_id"]
        )
        >= 3
    )  # the deliveries are still counted
