"""Open311 GeoReport v2: an existing 311 app files a case and reads it back, in JSON and XML."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import asyncpg
import httpx
import pytest

from devstack.testing import System
from intake.adapters.clients import issue_client_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FORM = {
    "service_code": "drogi.sygnalizacja",
    "lat": "52.2297",
    "long": "21.0122",
    "description": "Sygnalizator nie działa od rana",
    "email": "open311@example.org",
    "first_name": "Jan",
    "last_name": "Nowak",
    "device_id": "fcm-token-1",
    "account_id": "acct-9",
}


async def client_key(system: System) -> str:
    conn = await asyncpg.connect(system.env["intake"]["INTAKE_DATABASE_URL"])
    try:
        return await issue_client_key(conn, "fixmystreet-app")
    finally:
        await conn.close()


async def test_open311_file_and_read_back(system: System) -> None:
    key = await client_key(system)
    base = f"{system.intake.url}/open311/v2"
    async with httpx.AsyncClient(timeout=30) as client:
        discovery = (await client.get(f"{base}/discovery.json")).json()
        assert discovery["endpoints"][0]["formats"] == ["application/json", "text/xml"]
        services = (await client.get(f"{base}/services.json", params={"locale": "en"})).json()
        lights = next(s for s in services if s["service_code"] == "drogi.sygnalizacja")
        assert lights["service_name"] == "Broken traffic light"
        assert lights["metadata"] is False
        xml = ET.fromstring((await client.get(f"{base}/services.xml")).content)
        assert xml.tag == "services"
        assert any(s.findtext("service_code") == "drogi.sygnalizacja" for s in xml.findall("service"))
        definition = (await client.get(f"{base}/services/drogi.sygnalizacja.json")).json()
        assert definition == {"service_code": "drogi.sygnalizacja", "attributes": []}
        assert (await client.get(f"{base}/services/nie.ma.json")).status_code == 404

        no_key = await client.post(f"{base}/requests.json", data=FORM)
        assert no_key.status_code == 403
        assert no_key.json()[0]["code"] == 403
        bad_key = await client.post(f"{base}/requests.xml", data={**FORM, "api_key": "nope"})
        assert bad_key.status_code == 403
        assert ET.fromstring(bad_key.content).tag == "errors"
        unknown = await client.post(
            f"{base}/requests.json", data={**FORM, "api_key": key, "service_code": "x.y"}
        )
        assert unknown.status_code == 404
        emergency = await client.post(
            f"{base}/requests.json",
            data={**FORM, "api_key": key, "description": "Pożar! Ktoś jest ranny na skrzyżowaniu"},
        )
        assert emergency.status_code == 400
        assert "112" in emergency.json()[0]["description"]
        outside = await client.post(
            f"{base}/requests.json", data={**FORM, "api_key": key, "lat": "50.06", "long": "19.94"}
        )
        assert outside.status_code == 400
        assert "location" in outside.json()[0]["description"]

        created = await client.post(f"{base}/requests.json", data={**FORM, "api_key": key})
        assert created.status_code == 201, created.text
        [answer] = created.json()
        number = answer["service_request_id"]
        assert answer["account_id"] == "acct-9"

        async def one() -> Any:
            r = await client.get(f"{base}/requests/{number}.json", params={"extensions": "true"})
            return r.json() if r.status_code == 200 else None

        for _ in range(150):
            found = await one()
            if found and found[0]["agency_responsible"]:
                break
            await asyncio.sleep(0.2)
        [request] = found
        assert request["service_request_id"] == number
        assert request["status"] == "open"
        assert request["service_code"] == "drogi.sygnalizacja"
        assert request["agency_responsible"] == "Zarząd Dróg Miejskich"
        assert request["lat"] == 52.2297
        assert request["requested_datetime"]
        assert request["extended_attributes"]["channel"] == "open311"
        assert [n["status"] for n in request["notes"]][:2] == ["new", "routed"]
        assert "open311@example.org" not in str(request)
        xml_one = ET.fromstring((await client.get(f"{base}/requests/{number.replace('/', '-')}.xml")).content)
        assert xml_one.find("request/service_request_id").text == number  # type: ignore[union-attr]
        token = (await client.get(f"{base}/tokens/{answer['token']}.json")).json()
        assert token[0]["service_request_id"] == number

        listed = await client.get(f"{base}/requests.json", params={"service_request_id": number})
        assert [r["service_request_id"] for r in listed.json()] == [number]
        by_code = await client.get(
            f"{base}/requests.json",
            params={"service_code": "drogi.sygnalizacja", "status": "open", "page_size": 100},
        )
        assert number in {r["service_request_id"] for r in by_code.json()}
        closed = await client.get(f"{base}/requests.json", params={"status": "closed"})
        assert number not in {r["service_request_id"] for r in closed.json()}
        now = datetime.now(UTC)
        too_long = await client.get(
            f"{base}/requests.json",
            params={"start_date": (now - timedelta(days=120)).isoformat(), "end_date": now.isoformat()},
        )
        assert too_long.status_code == 400
        assert (await client.get(f"{base}/requests/1/99.json")).status_code == 404
