"""Notifier against the real Kafka, PostgreSQL and a real SMTP server; push to a local HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import Actor, ActorKind, Case, CaseCreated, CaseStatus, CaseStatusChanged
from devstack.mailbox import read_messages
from devstack.testing import RunningService, SmtpServer, Stack, free_port, prime_group, publish

pytestmark = pytest.mark.integration

OPERATOR_KEY = "operator-key-for-tests"
S = CaseStatus


class PushReceiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"auth": self.headers.get("Authorization"), **json.loads(body)})
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push() -> Iterator[PushReceiver]:
    receiver = PushReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
async def notifier_env(
    stack: Stack, fresh_db: Any, smtp_server: SmtpServer, push: PushReceiver
) -> dict[str, str]:
    group = f"notifier-test-{uuid.uuid4().hex[:8]}"
    await prime_group(stack.kafka_bootstrap, group, ["case.created", "case.status_changed"])
    return {
        "NOTIFIER_DATABASE_URL": await fresh_db("notifier"),
        "NOTIFIER_CONSUMER_GROUP": group,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "NOTIFIER_PUSH_GATEWAY_URL": push.url,
        "NOTIFIER_PUSH_GATEWAY_TOKEN": "push-secret",
        "NOTIFIER_RETRY_BASE_S": "0.2",
        "NOTIFIER_RETRY_MAX_S": "1",
        "NOTIFIER_MAX_ATTEMPTS": "100",
        "NOTIFIER_OPERATOR_KEY_HASHES": hashlib.sha256(OPERATOR_KEY.encode()).hexdigest(),
    }


def created(email: str | None, language: str = "en", token: str | None = None) -> CaseCreated:
    reporter = {"email": email, "device_token": token} if (email or token) else None
    case = Case.model_validate(
        {
            "case_number": f"{uuid.uuid4().int % 9_000_000 + 1_000_000}/26",
            "kind": "intervention",
            "category": {"category": "interwencja", "subcategory": "drogi", "event": "drogi.sygnalizacja"},
            "description": "Traffic light broken",
            "location": {"lat": 52.23, "lon": 21.01},
            "channel": "mobile",
            "received_at": datetime.now(UTC),
            "reporter": reporter,
            "language": language,
        }
    )
    return CaseCreated(case_id=uuid.uuid4(), correlation_id="c-n", case=case)


def changes(
    c: CaseCreated, steps: list[tuple[CaseStatus | None, CaseStatus, str | None]]
) -> list[CaseStatusChanged]:
    return [
        CaseStatusChanged(
            case_id=c.case_id,
            correlation_id=c.correlation_id,
            case_number=c.case.case_number,
            from_status=before,
            to_status=after,
            public_note=note,
            unit_id="zdm",
            sequence=i + 2,
            actor=Actor(kind=ActorKind.UNIT, id="zdm"),
        )
        for i, (before, after, note) in enumerate(steps)
    ]


async def mails_for(directory: Path, address: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        mine = [m for m in read_messages(directory) if address in m["to"]]
        if len(mine) >= count or asyncio.get_running_loop().time() > deadline:
            return mine
        await asyncio.sleep(0.2)


LIFE: list[tuple[CaseStatus | None, CaseStatus, str | None]] = [
    (S.NEW, S.ROUTED, None),
    (S.ROUTED, S.REJECTED, "Not ours"),
    (S.REJECTED, S.ROUTED, None),
    (S.ROUTED, S.IN_PROGRESS, None),
    (S.IN_PROGRESS, S.CLOSED, "Controller replaced"),
    (S.CLOSED, S.REOPENED, "Still broken"),
    (S.REOPENED, S.CLOSED, "Fixed for good"),
]


async def test_a_case_life_gives_exactly_the_expected_messages_once(
    stack: Stack,
    services: Any,
    notifier_env: dict[str, str],
    smtp_server: SmtpServer,
    push: PushReceiver,
) -> None:
    notifier: RunningService = await services("notifier", notifier_env)
    address = f"{uuid.uuid4().hex[:8]}@example.org"
    case = created(address, "en", token="device-1")
    anonymous = created(None)
    events = [case, *changes(case, LIFE), anonymous, *changes(anonymous, LIFE[:1])]
    await publish(stack.kafka_bootstrap, *events)
    mails = await mails_for(smtp_server.directory, address, 7)
    await publish(stack.kafka_bootstrap, *events)  # Kafka redelivers everything
    await asyncio.sleep(3)
    mails = await mails_for(smtp_server.directory, address, 99, timeout=0.5)
    subjects = [m["subject"] for m in mails]
    number = case.case.case_number
    assert subjects == [
        f"Your case {number} has been received",
        f"Case {number} forwarded to City Roads Authority",
        f"Case {number} passed on to City Roads Authority",
        f"Case {number} is in progress",
        f"Case {number} has been closed",
        f"Case {number}: your dispute was accepted",
        f"Case {number} has been closed",
    ]
    closed = mails[4]["message"]
    assert "Controller replaced" in closed.get_body(("plain",)).get_content()
    assert closed["Message-ID"]
    assert closed["Date"]
    assert closed["List-Unsubscribe"]
    assert [p["token"] for p in push.received] == ["device-1"] * 7
    assert push.received[0]["auth"] == "Bearer push-secret"
    assert len(read_messages(smtp_server.directory)) == 7  # the anonymous reporter got nothing
    conn = await asyncpg.connect(notifier_env["NOTIFIER_DATABASE_URL"])
    try:  # the delivery log knows each message went out (marks are written in groups, none is left behind)
        log = await conn.fetch("SELECT channel, status, sent_at FROM deliveries")
    finally:
        await conn.close()
    assert (
        sorted((r["channel"], r["status"]) for r in log) == [("email", "sent")] * 7 + [("push", "sent")] * 7
    )
    assert all(r["sent_at"] is not None for r in log)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{notifier.url}/metrics")).text
    assert 'cc_notifier_sent_total{channel="email",template="confirmation"} 1.0' in metrics
    assert "cc_notifier_smtp_connections_total 1.0" in metrics  # one connection for every mail
    assert not [
        line
        for line in metrics.splitlines()
        if line.startswith("cc_notifier_failed_total{") and not line.endswith(" 0.0")
    ]


async def test_mail_waits_while_smtp_is_down_and_all_arrives_when_it_is_back(
    stack: Stack, services: Any, notifier_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    notifier = await services("notifier", {**notifier_env, "NOTIFIER_MAX_ATTEMPTS": "3"})
    first = created(f"{uuid.uuid4().hex[:8]}@example.org", "pl")
    await publish(stack.kafka_bootstrap, first)
    assert len(await mails_for(smtp_server.directory, first.case.reporter.email or "", 1)) == 1  # type: ignore[union-attr]
    smtp_server.stop()  # take the SMTP server away
    addresses = [f"{uuid.uuid4().hex[:8]}@example.org" for _ in range(5)]
    await publish(stack.kafka_bootstrap, *[created(a, "uk") for a in addresses])
    await metric_shows(notifier, 'cc_notifier_channel_unreachable{channel="email"} 1.0')
    async with httpx.AsyncClient() as client:
        await asyncio.sleep(4)  # several probes, each refused
        metrics = (await client.get(f"{notifier.url}/metrics")).text
        # an outage does not spend the messages' retry budget (NOTIFIER_MAX_ATTEMPTS is 3 here)
        assert 'cc_notifier_retries_total{channel="email"} 0.0' in metrics
    smtp_server.start()
    back = time.monotonic()
    for address in addresses:
        got = await mails_for(smtp_server.directory, address, 1, timeout=30)
        assert len(got) == 1, address
        assert "звернення" in got[0]["subject"]
    # the backlog flowed as soon as a probe found the server back, not after a grown backoff
    assert time.monotonic() - back < 10


async def test_alerts_reach_only_the_subscribers_of_their_districts(
    services: Any, notifier_env: dict[str, str], smtp_server: SmtpServer, push: PushReceiver
) -> None:
    notifier = await services("notifier", notifier_env)
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=notifier.url) as client:
        subs = {
            "mokotow": {"email": f"mok-{tag}@example.org", "districts": ["Mokotów"]},
            "wola": {"email": f"wola-{tag}@example.org", "districts": ["Wola"]},
            "city": {"email": f"all-{tag}@example.org", "districts": [], "language": "en"},
            "device": {"device_token": f"dev-{tag}", "districts": ["mokotow"]},
        }
        for body in subs.values():
            assert (await client.post("/v1/subscriptions", json=body)).status_code == 201
        bad = await client.post(
            "/v1/subscriptions", json={"email": "x@example.org", "districts": ["Atlantis"]}
        )
        assert bad.status_code == 422
        alert = {
            "title": "Awaria wodociągu",
            "body": "Utrudnienia na Puławskiej",
            "severity": "warning",
            "districts": ["Mokotów"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        }
        assert (await client.post("/v1/alerts", json=alert)).status_code == 401
        assert (
            await client.post("/v1/alerts", json=alert, headers={"X-API-Key": "wrong"})
        ).status_code == 403
        posted = await client.post("/v1/alerts", json=alert, headers={"X-API-Key": OPERATOR_KEY})
        assert posted.status_code == 201, posted.text
        assert posted.json()["recipients"] == 3
        assert len(await mails_for(smtp_server.directory, f"mok-{tag}@", 1)) == 1
        assert len(await mails_for(smtp_server.directory, f"all-{tag}@", 1)) == 1
        for _ in range(50):
            if any(p["token"] == f"dev-{tag}" for p in push.received):
                break
            await asyncio.sleep(0.2)
        assert [p["title"] for p in push.received if p["token"] == f"dev-{tag}"] == ["Awaria wodociągu"]
        await asyncio.sleep(1)
        assert await mails_for(smtp_server.directory, f"wola-{tag}@", 1, timeout=0.1) == []
        # unsubscribe from the link in the message
        mail = (await mails_for(smtp_server.directory, f"mok-{tag}@", 1))[0]["message"]
        link = str(mail["List-Unsubscribe"]).strip().strip("<>")
        unsubscribed = await client.get(link.replace("http://127.0.0.1:8004", notifier.url))
        assert unsubscribed.status_code == 200, (link, unsubscribed.text)
        again = await client.post("/v1/alerts", json=alert, headers={"X-API-Key": OPERATOR_KEY})
        assert again.json()["recipients"] == 2


async def test_two_instances_send_each_confirmation_exactly_once(
    stack: Stack, services: Any, notifier_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    await asyncio.gather(
        services("notifier", {**notifier_env, "NOTIFIER_INSTANCE_ID": "a"}),
        services("notifier", {**notifier_env, "NOTIFIER_INSTANCE_ID": "b"}),
    )
    tag = uuid.uuid4().hex[:6]
    cases = [created(f"{tag}-{i}@example.org", "pl") for i in range(40)]
    await asyncio.sleep(2)  # both members in the group
    await publish(stack.kafka_bootstrap, *cases)
    await publish(stack.kafka_bootstrap, *cases)  # and redelivered
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        if len([m for m in read_messages(smtp_server.directory) if tag in m["to"]]) >= 40:
            break
        await asyncio.sleep(0.3)
    await asyncio.sleep(2)
    per_address: dict[str, int] = {}
    for m in read_messages(smtp_server.directory):
        if tag in m["to"]:
            per_address[m["to"]] = per_address.get(m["to"], 0) + 1
    assert per_address == {c.case.reporter.email: 1 for c in cases if c.case.reporter}


async def metric_shows(svc: RunningService, line: str, timeout: float = 20.0) -> str:
    """Wait until the service's /metrics holds the line; returns the metrics text."""
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + timeout
        while True:
            metrics = (await client.get(f"{svc.url}/metrics")).text
            if line in metrics or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert line in metrics
    return metrics


class RefusingHandler:
    """An SMTP server that is up but refuses every message for now (451), as a full or greylisting relay."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "451 4.3.0 Try again later"


@pytest.fixture
def refusing_smtp() -> Any:
    from aiosmtpd.controller import Controller

    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


async def test_after_the_retry_budget_a_delivery_is_marked_failed(
    stack: Stack, services: Any, notifier_env: dict[str, str], refusing_smtp: Any
) -> None:
    notifier: RunningService = await services(
        "notifier",
        {
            **notifier_env,
            "SMTP_PORT": str(refusing_smtp.port),
            "NOTIFIER_MAX_ATTEMPTS": "3",
            "NOTIFIER_RETRY_BASE_S": "0.1",
            "NOTIFIER_RETRY_MAX_S": "0.2",
        },
    )
    await publish(stack.kafka_bootstrap, created(f"{uuid.uuid4().hex[:8]}@example.org"))
    metrics = await metric_shows(
        notifier, 'cc_notifier_failed_total{channel="email",template="confirmation"} 1.0'
    )
    assert 'cc_notifier_retries_total{channel="email"} 2.0' in metrics
    assert '"msg": "delivery failed"' in notifier.log.read_text()
