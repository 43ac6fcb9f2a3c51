"""Hostile input against every write endpoint, on the running services: oversized bodies, wrong content
types, deeply nested JSON, invalid UTF-8, huge numbers, the NUL character, SQL-looking strings. Each gets a
clear 4xx problem document (or, for SQL-looking free text, is stored verbatim as the text it is) and
changes nothing: the same rows in every service's tables afterwards, no unhandled error in any log."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.testing import System, case_body, submit_case
from intake.adapters.clients import issue_client_key
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CASE = case_body(reporter={"email": "wrogi@example.org"})
SQL = "'; DROP TABLE cases; --"
TABLES = {
    "intake": ["cases", "outbox", "idempotency_keys", "photos"],
    "router": ["cases", "processed_events"],
    "tracker": ["cases", "history", "processed_events", "outbox"],
    "notifier": ["subscriptions", "deliveries", "alerts", "processed_events"],
}


def nested(depth: int) -> bytes:
    return b'{"kind": "intervention", "description": ' + b"[" * depth + b"]" * depth + b"}"


def bodies() -> list[tuple[str, bytes, str]]:
    """(what, raw body, content type) that no write endpoint may accept."""
    return [
        ("oversized body", b'{"description": "' + b"x" * 3_000_000 + b'"}', "application/json"),
        ("wrong content type", b"kind=intervention&description=x", "text/plain"),
        ("XML instead of JSON", b"<case><kind>intervention</kind></case>", "application/xml"),
        ("deeply nested JSON", nested(100_000), "application/json"),
        ("invalid UTF-8", b'{"kind": "intervention", "description": "\xff\xfe\xc3("}', "application/json"),
        ("NUL character", b'{"kind": "intervention", "description": "a\\u0000b"}', "application/json"),
        (
            "huge number",
            b'{"kind": "intervention", "location": {"lat": 1e400, "lon": 1' + b"0" * 5000 + b"}}",
            "application/json",
        ),
        ("not an object", b"[1, 2, 3]", "application/json"),
        ("truncated JSON", b'{"kind": "interv', "application/json"),
        ("empty body", b"", "application/json"),
    ]


async def counts(system: System) -> dict[str, int]:
    out = {}
    for service, tables in TABLES.items():
        conn = await asyncpg.connect(system.env[service][f"{service.upper()}_DATABASE_URL"])
        try:
            for table in tables:
                out[f"{service}.{table}"] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        finally:
            await conn.close()
    return out


async def settled(system: System) -> dict[str, int]:
    """Row counts once the pipeline is idle (two equal readings a second apart)."""
    last = await counts(system)
    for _ in range(30):
        await asyncio.sleep(1)
        now = await counts(system)
        if now == last:
            return now
        last = now
    raise AssertionError("the pipeline never went idle")


async def test_hostile_input_gets_4xx_and_changes_nothing(system: System) -> None:
    async with httpx.AsyncClient(timeout=30) as c:
        # one real case, so the unit and dispute endpoints have something to aim at
        case_id = (await submit_case(system, CASE))["case_id"]
        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
        try:
            unit_key = await issue_key(conn, "unit", "zdm")
        finally:
            await conn.close()
        conn = await asyncpg.connect(system.env["intake"]["INTAKE_DATABASE_URL"])
        try:
            client_key = await issue_client_key(conn, "hostile")
        finally:
            await conn.close()
        before = await settled(system)

        unit = f"{system.tracker.url}/v1/units/zdm/cases/{case_id}"
        targets: list[tuple[str, dict[str, str]]] = [
            (f"{system.intake.url}/v1/cases", {}),
            (f"{system.tracker.url}/v1/public/disputes", {}),
            (f"{unit}/accept", {"X-API-Key": unit_key}),
            (f"{unit}/progress", {"X-API-Key": unit_key}),
            (f"{unit}/reject", {"X-API-Key": unit_key}),
            (f"{unit}/close", {"X-API-Key": unit_key}),
            (f"{system.notifier.url}/v1/subscriptions", {}),
        ]
        answers: list[tuple[str, str, int, str]] = []
        for url, headers in targets:
            for what, body, content_type in bodies():
                r = await c.post(url, content=body, headers={**headers, "Content-Type": content_type})
                answers.append((url, what, r.status_code, r.headers.get("content-type", "")))
        # Open311 takes a form: hostile fields there too
        open311 = f"{system.intake.url}/open311/v2/requests.json"
        for what, form in [
            (
                "SQL-looking service_code",
                {"api_key": client_key, "service_code": SQL, "lat": "52.2", "long": "21.0"},
            ),
            (
                "huge coordinates",
                {
                    "api_key": client_key,
                    "service_code": "drogi.sygnalizacja",
                    "lat": "1e400",
                    "long": "9" * 400,
                    "description": "x",
                },
            ),
            (
                "NUL in description",
                {
                    "api_key": client_key,
                    "service_code": "drogi.sygnalizacja",
                    "lat": "52.2",
                    "long": "21.0",
                    "description": "a\x00b",
                },
            ),
            ("SQL-looking api_key", {"api_key": SQL, "service_code": "drogi.sygnalizacja"}),
        ]:
            r = await c.post(open311, data=form)
            answers.append((open311, what, r.status_code, r.headers.get("content-type", "")))
        # SQL-looking strings and huge numbers where identifiers and numbers are expected
        for url in [
            f"{system.tracker.url}/v1/public/cases/by-number/{SQL}",
            f"{system.tracker.url}/v1/public/cases?category={SQL}&page=" + "9" * 40,
            f"{system.tracker.url}/v1/public/cases?case_number={SQL}&page_size=-1",
            f"{system.tracker.url}/v1/units/{SQL}/cases",
            f"{system.intake.url}/open311/v2/requests.json?service_request_id={SQL}&page=" + "9" * 40,
            f"{system.intake.url}/v1/photos/{SQL}",
            f"{system.notifier.url}/v1/unsubscribe/{SQL}",
        ]:
            r = await c.get(url, headers={"X-API-Key": unit_key} if "/v1/units/" in url else {})
            answers.append(
                (
                    url,
                    "SQL-looking identifier / huge number",
                    r.status_code,
                    r.headers.get("content-type", ""),
                )
            )

        expected = {"oversized body": 413, "wrong content type": 415, "XML instead of JSON": 415}
        for url, what, status, _ in answers:
            if what in expected:
                assert status == expected[what], (url, what, status)
        wrong = [a for a in answers if not 400 <= a[2] < 500]
        assert wrong == [], wrong
        not_problem = [
            a for a in answers if not a[3].startswith(("application/problem+json", "application/json"))
        ]
        assert not_problem == [], not_problem
        assert await settled(system) == before

        # SQL-looking free text is just text: stored verbatim, every table still there
        verbatim = await submit_case(system, {**CASE, "description": SQL})
        view = await c.get(f"{system.tracker.url}/v1/public/cases/{verbatim['case_id']}")
        assert view.json()["description"] == SQL
        after: dict[str, Any] = await settled(system)
        assert after["intake.cases"] == before["intake.cases"] + 1
    for svc in (system.intake, system.router, system.tracker, system.notifier):
        assert "unhandled error" not in svc.log.read_text(), svc.name
