"""Loses nothing: a steady load of cases runs while something breaks for real, then a ledger is checked.

Scenarios: each service killed with SIGKILL and restarted, one at a time; all four at once; the Kafka
broker stopped and restarted; PostgreSQL stopped and restarted; the SMTP server taken away. After each,
once the system settles: every case that got a 201 is in the tracker exactly once, routed, with its full
history (new → routed, nothing applied twice); each reporter got exactly one confirmation (one
Message-ID); consumer lag is back to zero. Recovery time: from the repair until every case accepted before
it is tracked and confirmed.

`make test` runs the short version (8 cases/s, 10-second outages); `make chaos` the full one
(CHAOS_FULL=1: 20 cases/s, the SMTP server away for a minute) and writes the table to bench/results."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devstack import kafka, postgres
from devstack.testing import RunningService, Stack, System

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FULL = os.environ.get("CHAOS_FULL") == "1"
RATE = 20.0 if FULL else 8.0  # cases per second
OUTAGE_S = 20.0 if FULL else 8.0  # broker / database away
SMTP_OUTAGE_S = 60.0 if FULL else 10.0
WARMUP_S = 5.0
AFTER_S = 5.0  # load goes on this long after the repair
SETTLE_TIMEOUT_S = 240.0


class Mailbox:
    """Reads each stored message's headers once: the SMTP server runs in this process, and re-parsing
    thousands of messages every half second would slow the server under test."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str, str]] = {}

    def read(self, directory: Path) -> list[tuple[str, str, str]]:
        if directory.exists():
            for path in directory.glob("*.eml"):
                if path.name not in self.seen:
                    head = BytesHeaderParser(policy=policy.default).parsebytes(path.read_bytes())
                    self.seen[path.name] = (
                        str(head["X-Mailbox-Rcpt-To"] or ""),
                        str(head["Subject"] or ""),
                        str(head["Message-ID"] or ""),
                    )
        return list(self.seen.values())


@dataclass
class Ledger:
    tag: str
    accepted: dict[str, str] = field(default_factory=dict)  # case_id -> reporter e-mail
    refused: int = 0
    accepted_at: dict[str, float] = field(default_factory=dict)
    mailbox: Mailbox = field(default_factory=Mailbox)


async def load(system: System, ledger: Ledger, rate: float, stop: asyncio.Event) -> None:
    """A channel adapter at a steady rate: only a 201 enters the ledger; anything else is retried with the
    same Idempotency-Key, as a channel does."""
    async with httpx.AsyncClient(timeout=10) as client:
        i = 0
        while not stop.is_set():
            email = f"c{i}-{ledger.tag}@example.org"
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
                    headers={"Idempotency-Key": f"{ledger.tag}-{i}"},
                )
                if r.status_code == 201:
                    case_id = r.json()["case_id"]
                    ledger.accepted[case_id] = email
                    ledger.accepted_at[case_id] = time.monotonic()
                    i += 1
                else:
                    ledger.refused += 1
            except httpx.HTTPError:
                ledger.refused += 1
            await asyncio.sleep(1 / rate)


async def observe(system: System, ledger: Ledger) -> dict[str, Any]:
    """What the system shows for the ledger's cases right now."""
    tracked: dict[str, str] = {}
    try:
        conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"], timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT case_id::text, status FROM cases WHERE case_id = ANY($1::uuid[])",
                list(ledger.accepted),
            )
        finally:
            await conn.close()
        tracked = {r["case_id"]: r["status"] for r in rows}
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        pass  # the database is away right now
    ids: dict[str, set[str]] = defaultdict(set)
    copies: dict[str, int] = defaultdict(int)
    for to, subject, message_id in ledger.mailbox.read(system.smtp.directory):
        if ledger.tag in to and "przyjęte" in subject:
            ids[to].add(message_id)
            copies[to] += 1
    return {"tracked": tracked, "ids": ids, "copies": copies}


def caught_up(seen: dict[str, Any], cases: dict[str, str]) -> bool:
    return all(
        seen["tracked"].get(c) in ("routed", "triage") and email in seen["ids"] for c, email in cases.items()
    )


async def recovery_time(system: System, ledger: Ledger, since: float) -> float:
    """Seconds from the repair until every case accepted before it is tracked and confirmed."""
    before = {c: e for c, e in list(ledger.accepted.items()) if ledger.accepted_at[c] <= since}
    while time.monotonic() - since < SETTLE_TIMEOUT_S:
        if caught_up(await observe(system, ledger), before):
            return round(time.monotonic() - since, 1)
        await asyncio.sleep(0.5)
    return float("inf")


async def lag_is_zero(system: System) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        for svc in (system.router, system.tracker, system.notifier):
            text = (await client.get(f"{svc.url}/metrics")).text
            lines = [ln for ln in text.splitlines() if ln.startswith("cc_consumer_lag_messages{")]
            if not lines or not all(ln.endswith(" 0.0") for ln in lines):
                return False
    return True


# ---- the faults: each breaks something for real and returns once it is repaired ------------------------
async def crash(svc: RunningService, downtime: float = 1.0) -> None:
    svc.kill()
    await asyncio.sleep(downtime)
    svc.start()
    await svc.wait_ready(timeout=90)


async def kill_each(system: System, stack: Stack) -> None:
    for svc in (system.router, system.tracker, system.notifier, system.intake):
        await crash(svc)
        await asyncio.sleep(3)


async def kill_all(system: System, stack: Stack) -> None:
    everyone = (system.intake, system.router, system.tracker, system.notifier)
    for svc in everyone:
        svc.kill()
    await asyncio.sleep(1)
    for svc in everyone:
        svc.start()
    await asyncio.gather(*(svc.wait_ready(timeout=90) for svc in everyone))


async def kafka_restart(system: System, stack: Stack) -> None:
    await asyncio.to_thread(kafka.stop, stack.cfg)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(kafka.start, stack.cfg)


async def postgres_restart(system: System, stack: Stack) -> None:
    await asyncio.to_thread(postgres.stop, stack.cfg)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(postgres.start, stack.cfg)


async def smtp_outage(system: System, stack: Stack) -> None:
    system.smtp.stop()
    await asyncio.sleep(SMTP_OUTAGE_S)
    system.smtp.start()


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[System, Stack], Awaitable[None]]
    native_stack: bool = False  # restarts the stack's own processes


SCENARIOS = [
    Scenario("SIGKILL each service, one at a time", kill_each),
    Scenario("SIGKILL all four at once", kill_all),
    Scenario(f"Kafka broker stopped {OUTAGE_S:.0f} s", kafka_restart, native_stack=True),
    Scenario(f"PostgreSQL stopped {OUTAGE_S:.0f} s", postgres_restart, native_stack=True),
    Scenario(f"SMTP server away {SMTP_OUTAGE_S:.0f} s", smtp_outage),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.fault.__name__)
async def test_fault_under_load_loses_nothing(
    scenario: Scenario, system: System, stack: Stack, chaos_table: list[dict[str, Any]]
) -> None:
    if scenario.native_stack and not stack.native:
        pytest.skip(
            "restarts the broker or database process: needs the native stack (make test / make chaos)"
        )
    ledger = Ledger(f"chaos{uuid.uuid4().hex[:8]}")
    stop = asyncio.Event()
    loading = asyncio.create_task(load(system, ledger, RATE, stop))
    await asyncio.sleep(WARMUP_S)
    await scenario.fault(system, stack)
    repaired = time.monotonic()
    recovering = asyncio.create_task(recovery_time(system, ledger, repaired))
    await asyncio.sleep(AFTER_S)
    stop.set()
    await loading
    assert len(ledger.accepted) > RATE * WARMUP_S / 2

    settle_start = time.monotonic()
    seen = await observe(system, ledger)
    while time.monotonic() - settle_start < SETTLE_TIMEOUT_S:
        if caught_up(seen, ledger.accepted) and await lag_is_zero(system):
            break
        await asyncio.sleep(1)
        seen = await observe(system, ledger)
    settle_s = round(time.monotonic() - settle_start, 1)
    recovery_s = await recovering

    conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
    try:
        histories = await conn.fetch(
            "SELECT case_id::text, array_agg(status ORDER BY sequence) AS statuses FROM history "
            "WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
            list(ledger.accepted),
        )
    finally:
        await conn.close()
    untracked = {c for c in ledger.accepted if seen["tracked"].get(c) not in ("routed", "triage")}
    unconfirmed = set(ledger.accepted.values()) - set(seen["ids"])
    applied_twice = [h["case_id"] for h in histories if tuple(h["statuses"]) != ("new", "routed")]
    doubled = {rcpt: ids for rcpt, ids in seen["ids"].items() if len(ids) != 1}
    chaos_table.append(
        {
            "scenario": scenario.name,
            "accepted": len(ledger.accepted),
            "refused": ledger.refused,
            "lost": len(untracked | {c for c, e in ledger.accepted.items() if e in unconfirmed}),
            "duplicated": len(applied_twice) + len(doubled),
            "copies": sum(seen["copies"].values()) - sum(len(ids) for ids in seen["ids"].values()),
            "recovery_s": recovery_s,
            "settle_s": settle_s,
        }
    )
    assert untracked == set(), f"{len(untracked)} accepted cases never tracked"
    assert len(histories) == len(ledger.accepted)
    assert applied_twice == [], "history applied twice"
    assert unconfirmed == set(), f"{len(unconfirmed)} reporters without a confirmation"
    assert doubled == {}, "a reporter got two different confirmations"
    assert await lag_is_zero(system), "consumer lag did not return to zero"
