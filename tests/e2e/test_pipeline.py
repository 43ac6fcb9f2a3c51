"""From the channel to the resident's inbox: a submission is numbered, routed, tracked and confirmed."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.mailbox import read_messages
from devstack.testing import System
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def wait_for(fetch: Any, predicate: Any, timeout: float = 45) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await fetch()
        if predicate(value):
            return value
        await asyncio.sleep(0.25)
    raise AssertionError(f"condition not met in {timeout}s; last value: {value}")


async def test_a_pothole_from_the_app_reaches_its_district_office_and_the_resident_hears_each_step(
    system: System,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        submitted = await client.post(
            f"{system.intake.url}/v1/cases",
            headers={"X-Correlation-ID": "e2e-pothole"},
            json={
                "kind": "intervention",
                "category": "drogi.nawierzchnia",
                "description": "Głęboka dziura w jezdni przed szkołą",
                "location": {"lat": 52.2394, "lon": 21.0846},
                "channel": "mobile",
                "reporter": {"email": "mieszkanka@example.org"},
                "language": "pl",
            },
        )
        assert submitted.status_code == 201, submitted.text
        case = submitted.json()
        view_url = f"{system.tracker.url}/v1/public/cases/{case['case_id']}"

        async def view() -> dict[str, Any]:
            r = await client.get(view_url)
            return r.json() if r.status_code == 200 else {}

        routed = await wait_for(view, lambda v: v.get("status") == "routed")
        assert routed["unit"]["code"] == "ud-praga-poludnie"
        assert routed["district"] == "Praga-Południe"
        assert routed["case_number"] == case["case_number"]
        assert routed["sla_due_at"]

        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
        try:
            key = await issue_key(conn, "unit", "ud-praga-poludnie")
        finally:
            await conn.close()
        unit = f"{system.tracker.url}/v1/units/ud-praga-poludnie/cases/{case['case_id']}"
        assert (await client.post(f"{unit}/accept", json={}, headers={"X-API-Key": key})).status_code == 200
        assert (
            await client.post(f"{unit}/close", json={"note": "Ubytek załatany"}, headers={"X-API-Key": key})
        ).status_code == 200
        closed = await wait_for(view, lambda v: v.get("status") == "closed")
        assert [h["status"] for h in closed["history"]] == ["new", "routed", "in_progress", "closed"]

    def mails() -> list[dict[str, Any]]:
        return [m for m in read_messages(system.smtp.directory) if "mieszkanka@example.org" in m["to"]]

    async def fetch_mails() -> list[dict[str, Any]]:
        return mails()

    got = await wait_for(fetch_mails, lambda ms: len(ms) >= 4)
    number = case["case_number"]
    assert [m["subject"] for m in got] == [
        f"Zgłoszenie {number} zostało przyjęte",
        f"Zgłoszenie {number} przekazane do: Urząd Dzielnicy Praga-Południe",
        f"Zgłoszenie {number}: w trakcie realizacji",
        f"Zgłoszenie {number} zostało zamknięte",
    ]
    assert case["status_url"] in got[0]["message"].get_body(("plain",)).get_content()
    await asyncio.sleep(2)
    assert len(mails()) == 4
    for svc in (system.intake, system.router, system.tracker, system.notifier):
        assert svc.alive()
        log = svc.log.read_text()
        assert "e2e-pothole" in log, f"{svc.name} logged nothing with the case's correlation id"
        assert "mieszkanka@example.org" not in log, f"{svc.name} logged the reporter's e-mail"
