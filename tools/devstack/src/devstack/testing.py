"""pytest plugin: the real Kafka, PostgreSQL and SMTP for tests.

Where they come from: KAFKA_BOOTSTRAP_SERVERS + PG_ADMIN_URL when set; else testcontainers when a Docker
engine answers; else the native stack of this checkout (started here, stopped at the end if we started it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack import cli, kafka
from devstack.config import StackConfig, load
from devstack.proc import read_pid, spawn, stop_pid, stop_pidfile, wait_ready
from servicekit.kafka import topic_partitions


@dataclass
class Stack:
    kafka_bootstrap: str
    pg_admin_url: str
    source: str  # env | testcontainers | native
    cfg: StackConfig
    _dbs: list[str] = field(default_factory=list)

    @property
    def native(self) -> bool:
        return self.source == "native" or (
            self.source == "env" and self.kafka_bootstrap == self.cfg.kafka_bootstrap
        )

    def database_url(self, name: str) -> str:
        base = self.pg_admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    cfg = load()
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("PG_ADMIN_URL"):
        s = Stack(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["PG_ADMIN_URL"], "env", cfg)
        asyncio.run(kafka.ensure_topics(s.kafka_bootstrap))
        yield s
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer("apache/kafka:4.1.1") as k, PostgresContainer("postgres:16") as pg:
            url = pg.get_connection_url().replace("postgresql+psycopg2", "postgresql")
            s = Stack(k.get_bootstrap_server(), url, "testcontainers", cfg)
            asyncio.run(kafka.ensure_topics(s.kafka_bootstrap))
            yield s
        return
    was_running = kafka.is_running(cfg)
    cli.up(cfg)
    s = Stack(cfg.kafka_bootstrap, cfg.database_url("postgres"), "native", cfg)
    yield s
    if not was_running:
        cli.down(cfg)


async def create_database(stack: Stack, prefix: str) -> str:
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(stack.pg_admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    stack._dbs.append(name)
    return name


async def drop_database(stack: Stack, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(stack.pg_admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def fresh_db(stack: Stack) -> AsyncIterator[Callable[[str], Any]]:
    """Factory: a new empty database for this test (dropped afterwards); returns its URL."""
    made: list[str] = []

    async def make(prefix: str = "t") -> str:
        name = await create_database(stack, prefix)
        made.append(name)
        return stack.database_url(name)

    yield make
    for name in made:
        await drop_database(stack, name)


async def prime_group(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the current end offsets for a new consumer group, so it starts from now (tests share topics)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topics)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        from aiokafka.structs import OffsetAndMetadata

        await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in ends.items()})
    finally:
        await consumer.stop()


async def publish(bootstrap: str, *events: Any, raw: list[tuple[str, bytes]] | None = None) -> None:
    """Publish events as the services do (key, value, headers from the contracts); `raw` records
    (topic, value) go first, keyed b"poison"."""
    from aiokafka import AIOKafkaProducer

    from contracts import encode

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, value in raw or []:
            await producer.send_and_wait(topic, value=value, key=b"poison")
        for event in events:
            key, value, headers = encode(event)
            await producer.send_and_wait(event.event_type, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


class TopicWatcher:
    """Reads a topic from the offsets it had when the watcher was made."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: list[Any] = []
        self._consumer: Any = None

    async def start(self) -> TopicWatcher:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()
        parts = await topic_partitions(self.bootstrap, [self.topic])
        self._consumer.assign(parts)
        await self._consumer.seek_to_end(*parts)
        for tp in parts:  # resolve positions now, before anything is produced
            await self._consumer.position(tp)
        return self

    async def collect(self, predicate: Callable[[list[Any]], bool], timeout: float = 30.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.records.extend(records)
            if predicate(self.records):
                return self.records
        return self.records

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


@asynccontextmanager
async def watch(bootstrap: str, topic: str) -> AsyncIterator[TopicWatcher]:
    watcher = await TopicWatcher(bootstrap, topic).start()
    try:
        yield watcher
    finally:
        await watcher.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    name: str
    port: int
    pidfile: Path
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return read_pid(self.pidfile) is not None

    def kill(self) -> None:
        pid = read_pid(self.pidfile)
        if pid is not None:
            import signal

            stop_pid(pid, timeout=5, sig=signal.SIGKILL)

    def stop(self) -> None:
        stop_pidfile(self.pidfile, timeout=15)

    def start(self) -> None:
        spawn(self.name, [sys.executable, "-m", self.name.split(":")[0]], self.pidfile, self.log, self.env)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        await wait_ready(self.port, self.pidfile, self.log, self.name, timeout)


@pytest.fixture
async def services(stack: Stack, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: start a service as a real process against the stack; stopped after the test."""
    started: list[RunningService] = []

    async def start(
        name: str, env: dict[str, str], wait: bool = True, label: str | None = None
    ) -> RunningService:
        port = free_port()
        prefix = name.upper()
        full_env = {
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            f"{prefix}_PORT": str(port),
            "LOG_LEVEL": "INFO",
            **env,
        }
        tag = label or f"{name}-{len(started)}"
        svc = RunningService(name, port, tmp_path / f"{tag}.pid", tmp_path / f"{tag}.log", full_env)
        svc.start()
        started.append(svc)
        if wait:
            await svc.wait_ready()
        return svc

    yield start
    for svc in started:
        svc.stop()


class SmtpServer:
    """A real SMTP server (aiosmtpd) storing what it receives in a folder; can be taken away and brought back."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self._controller: Any = None

    def start(self) -> None:
        from devstack.mailbox import start_in_thread

        if self._controller is None:
            self._controller = start_in_thread(self.directory, self.port)

    def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "mailbox")
    server.start()
    yield server
    server.stop()


# ---- the whole system ------------------------------------------------------------------------
@dataclass
class System:
    intake: RunningService
    router: RunningService
    tracker: RunningService
    notifier: RunningService
    smtp: SmtpServer
    env: dict[str, dict[str, str]]


@pytest.fixture
async def system(stack: Stack, services: Any, fresh_db: Any, smtp_server: SmtpServer) -> System:
    tag = uuid.uuid4().hex[:6]
    groups = {
        "router": f"router-e2e-{tag}",
        "tracker": f"tracker-e2e-{tag}",
        "notifier": f"notifier-e2e-{tag}",
    }
    await prime_group(stack.kafka_bootstrap, groups["router"], ["case.created", "case.status_changed"])
    await prime_group(
        stack.kafka_bootstrap, groups["tracker"], ["case.created", "case.routed", "case.status_changed"]
    )
    await prime_group(stack.kafka_bootstrap, groups["notifier"], ["case.created", "case.status_changed"])
    common = {
        "CITY_BOUNDARIES_FILE": str(stack.cfg.root.parent / "shared" / "data" / "warsaw-districts.geojson")
    }
    env = {
        "tracker": {
            **common,
            "TRACKER_DATABASE_URL": await fresh_db("tracker"),
            "TRACKER_CONSUMER_GROUP": groups["tracker"],
            "TRACKER_METRICS_REFRESH_S": "1",
        },
        "router": {
            **common,
            "ROUTER_DATABASE_URL": await fresh_db("router"),
            "ROUTER_CONSUMER_GROUP": groups["router"],
        },
    }
    tracker = await services("tracker", env["tracker"])
    env["intake"] = {
        **common,
        "INTAKE_DATABASE_URL": await fresh_db("intake"),
        "INTAKE_TRACKER_URL": tracker.url,
        "INTAKE_PUBLIC_BASE_URL": tracker.url,
    }
    env["notifier"] = {
        **common,
        "NOTIFIER_DATABASE_URL": await fresh_db("notifier"),
        "NOTIFIER_CONSUMER_GROUP": groups["notifier"],
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "NOTIFIER_PUBLIC_BASE_URL": tracker.url,
    }
    intake = await services("intake", env["intake"])
    router = await services("router", env["router"])
    notifier = await services("notifier", env["notifier"])
    return System(intake, router, tracker, notifier, smtp_server, env)


def case_body(**fields: Any) -> dict[str, Any]:
    """A valid Warsaw case for intake's POST /v1/cases (a broken traffic light in Śródmieście); `fields`
    replace or add to it."""
    return {
        "kind": "intervention",
        "category": "drogi.sygnalizacja",
        "description": "Nie działa sygnalizacja",
        "location": {"lat": 52.2297, "lon": 21.0122},
        "channel": "portal",
        **fields,
    }


async def submit_case(
    system: System, body: dict[str, Any], until: str = "routed", timeout: float = 30.0
) -> dict[str, Any]:
    """POST the case to intake (201 expected) and wait until the tracker shows it with status `until`;
    returns intake's answer."""
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        created = await client.post(f"{system.intake.url}/v1/cases", json=body)
        assert created.status_code == 201, created.text
        answer: dict[str, Any] = created.json()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = await client.get(f"{system.tracker.url}/v1/public/cases/{answer['case_id']}")
            if view.status_code == 200 and view.json()["status"] == until:
                return answer
            await asyncio.sleep(0.2)
    raise AssertionError(f"case {answer['case_id']} never reached {until}")
