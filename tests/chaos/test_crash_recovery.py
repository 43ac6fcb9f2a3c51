"""Loses nothing: under a steady load, each service is killed with SIGKILL and restarted (one at a time, then
all at once); afterwards every case that got a 201 is tracked exactly once with its routing, every reporter has
exactly one confirmation (one Message-ID), and consumer lag is back to zero."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.mailbox import read_messages
from devstack.testing import RunningService, System

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def load(system: System, seconds: float, rate: float, ledger: dict[str, str], tag: str) -> None:
    """Submit at a steady rate; only a 201 enters the ledger (a refused or failed call is the channel's retry)."""
    async with httpx.AsyncClient(timeout=10) as client:
        start, i = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            email = f"c{i}-{tag}@example.org"
            try:
                r = await client.post(
                    f"{system.intake.url}/v1/cases",
                    json={
                        "kind": "intervention",
                        "category": "smieci.gabaryty",
                        "description": f"Gabaryty {i}",
                        "location": {"lat": 52.2297, "lon": 21.0122},
                        "channel": "portal",
                        "reporter": {"email": email},
                    },
                    headers={"Idempotency-Key": f"{tag}-{i}"},
                )
                if r.status_code == 201:
                    ledger[r.json()["case_id"]] = email
                    i += 1
            except httpx.HTTPError:
                pass  # intake is down right now; the same submission is tried again (same key)
            await asyncio.sleep(1 / rate)


async def crash(svc: RunningService, downtime: float) -> None:
    svc.kill()
    await asyncio.sleep(downtime)
    svc.start()
    await svc.wait_ready(timeout=90)


async def settle_and_check(
    system: System, ledger: dict[str, str], tag: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    missing: set[str] = set(ledger)
    confirmations: dict[str, set[str]] = defaultdict(set)
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
        try:
            rows = await conn.fetch(
                "SELECT case_id::text, status FROM cases WHERE case_id = ANY($1::uuid[])", list(ledger)
            )
        finally:
            await conn.close()
        tracked = {r["case_id"] for r in rows if r["status"] in ("routed", "triage")}
        missing = set(ledger) - tracked
        confirmations = defaultdict(set)
        for m in read_messages(system.smtp.directory):
            if tag in m["to"] and "przyjęte" in m["subject"]:
                confirmations[m["to"]].add(str(m["message"]["Message-ID"]))
        if not missing and len(confirmations) == len(ledger):
            break
        await asyncio.sleep(1)
    return {"missing": missing, "confirmations": confirmations}


async def test_services_killed_one_by_one_and_all_at_once_lose_nothing(system: System) -> None:
    ledger: dict[str, str] = {}
    tag = f"chaos{int(time.time())}"
    loading = asyncio.create_task(load(system, 40, 8, ledger, tag))
    for svc in (system.router, system.tracker, system.notifier, system.intake):
        await asyncio.sleep(3)
        await crash(svc, 1.0)
    await asyncio.sleep(2)
    everyone = (system.intake, system.router, system.tracker, system.notifier)
    for svc in everyone:
        svc.kill()
    await asyncio.sleep(1)
    for svc in everyone:
        svc.start()
    await asyncio.gather(*(svc.wait_ready(timeout=90) for svc in everyone))
    await loading
    assert len(ledger) > 100
    result = await settle_and_check(system, ledger, tag)
    assert result["missing"] == set(), f"{len(result['missing'])} accepted cases never tracked"
    conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
    try:
        histories = await conn.fetch(
            "SELECT case_id::text, array_agg(status ORDER BY sequence) AS statuses FROM history "
            "WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
            list(ledger),
        )
    finally:
        await conn.close()
    assert {tuple(h["statuses"]) for h in histories} == {("new", "routed")}  # nothing applied twice
    doubled = {rcpt: ids for rcpt, ids in result["confirmations"].items() if len(ids) != 1}
    assert doubled == {}
    assert set(result["confirmations"]) == set(ledger.values())
    async with httpx.AsyncClient() as client:
        for svc in (system.router, system.tracker, system.notifier):
            lag_lines = [
                line
                for line in (await client.get(f"{svc.url}/metrics")).text.splitlines()
                if line.startswith("cc_consumer_lag_messages{")
            ]
            assert all(line.endswith(" 0.0") for line in lag_lines), (svc.name, lag_lines)
