"""Who may see and do what: every protected endpoint against every kind of caller, and no personal data in
public views or in any service's log."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.testing import RunningService, System, case_body
from intake.adapters.clients import issue_client_key
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PERSONAL = {
    "email": "tajny.mieszkaniec@example.org",
    "name": "Zofia Tajemnicza",
    "phone": "+48 601 234 567",
    "device_token": "fcm:device-secret-token",
}
OPERATOR_KEY = "operator-" + uuid.uuid4().hex


async def keys(system: System) -> dict[str, str]:
    out = {}
    conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
    try:
        out["zdm"] = await issue_key(conn, "unit", "zdm")
        out["ztm"] = await issue_key(conn, "unit", "ztm")
        out["consultant"] = await issue_key(conn, "consultant", "k-1")
    finally:
        await conn.close()
    conn = await asyncpg.connect(system.env["intake"]["INTAKE_DATABASE_URL"])
    try:
        out["open311"] = await issue_client_key(conn, "app")
    finally:
        await conn.close()
    out["operator"] = OPERATOR_KEY
    return out


@pytest.fixture
async def operator_notifier(system: System, services: Any) -> RunningService:
    env = {
        **system.env["notifier"],
        "NOTIFIER_OPERATOR_KEY_HASHES": hashlib.sha256(OPERATOR_KEY.encode()).hexdigest(),
        "NOTIFIER_CONSUMER_GROUP": f"auth-{uuid.uuid4().hex[:6]}",
    }
    svc: RunningService = await services("notifier", env)
    return svc


async def test_authorisation_matrix_and_no_personal_data(
    system: System, operator_notifier: RunningService
) -> None:
    k = await keys(system)
    async with httpx.AsyncClient(timeout=30) as c:
        created = await c.post(
            f"{system.intake.url}/v1/cases",
            json=case_body(channel="mobile", reporter=PERSONAL, consent={"share_contact_with_unit": False}),
        )
        assert created.status_code == 201
        case = created.json()
        view_url = f"{system.tracker.url}/v1/public/cases/{case['case_id']}"
        for _ in range(150):
            view = await c.get(view_url)
            if view.status_code == 200 and view.json()["status"] == "routed":
                break
            await asyncio.sleep(0.2)
        tracker, unit_zdm = system.tracker.url, f"{system.tracker.url}/v1/units/zdm"

        def h(who: str | None) -> dict[str, str]:
            return {"X-API-Key": k[who]} if who else {}

        matrix: list[tuple[str, str, dict[str, Any] | None, dict[str | None, int]]] = [
            (
                "GET",
                f"{unit_zdm}/cases",
                None,
                {None: 401, "ztm": 403, "consultant": 403, "open311": 401, "zdm": 200},
            ),
            (
                "POST",
                f"{unit_zdm}/cases/{case['case_id']}/progress",
                {"note": "x"},
                {None: 401, "ztm": 403, "consultant": 403, "operator": 401},
            ),
            (
                "POST",
                f"{system.tracker.url}/v1/units/ztm/cases/{case['case_id']}/accept",
                {},
                {"ztm": 403, "zdm": 403},
            ),  # ztm may act only on its own cases; zdm's key is not ztm's
            ("POST", f"{unit_zdm}/cases/{case['case_id']}/accept", {}, {"zdm": 200}),
            ("GET", f"{tracker}/v1/consultant/triage", None, {None: 401, "zdm": 403, "consultant": 200}),
            (
                "POST",
                f"{tracker}/v1/consultant/cases/{case['case_id']}/notes",
                {"note": "Sprawdzamy"},
                {None: 401, "zdm": 403, "consultant": 200},
            ),
            (
                "POST",
                f"{operator_notifier.url}/v1/alerts",
                {"title": "t", "body": "b", "expires_at": "2099-01-01T00:00:00+00:00"},
                {None: 401, "zdm": 403, "consultant": 403, "operator": 201},
            ),
        ]
        for method, url, body, expected in matrix:
            for who, status in expected.items():
                r = await c.request(method, url, json=body, headers=h(who))
                assert r.status_code == status, (method, url, who, r.status_code, r.text[:200])
        o311 = f"{system.intake.url}/open311/v2/requests.json"
        form = {
            "service_code": "drogi.parkowanie",
            "lat": "52.23",
            "long": "21.01",
            "description": "Auto na chodniku",
        }
        assert (await c.post(o311, data=form)).status_code == 403
        assert (await c.post(o311, data={**form, "api_key": k["zdm"]})).status_code == 403
        assert (await c.post(o311, data={**form, "api_key": k["open311"]})).status_code == 201
        dispute = f"{tracker}/v1/public/disputes"
        assert (
            await c.post(
                dispute, json={"case_number": case["case_number"], "secret": "wrong-secret", "reason": "x"}
            )
        ).status_code == 403
        assert (
            await c.post(
                dispute, json={"case_number": case["case_number"], "secret": case["secret"], "reason": "x"}
            )
        ).status_code == 409  # not closed: nothing to dispute
        public = [
            (await c.get(view_url)).text,
            (await c.get(f"{tracker}/v1/public/cases", params={"with_history": "true"})).text,
            (
                await c.get(
                    f"{system.intake.url}/open311/v2/requests/{case['case_number']}.json",
                    params={"extensions": "true"},
                )
            ).text,
            (await c.get(f"{unit_zdm}/cases", headers=h("zdm"))).text,
        ]  # no consent: the unit sees none either
    for text in public:
        for value in (*PERSONAL.values(), case["secret"]):
            assert value not in text
    await asyncio.sleep(1)
    for svc in (system.intake, system.router, system.tracker, system.notifier, operator_notifier):
        log = svc.log.read_text()
        for value in (*PERSONAL.values(), case["secret"], k["zdm"], k["consultant"], OPERATOR_KEY):
            assert value not in log, f"{svc.name} logged {value[:12]}…"
