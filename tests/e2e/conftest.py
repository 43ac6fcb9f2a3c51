"""The whole system: the four services as processes against the real stack, with a real SMTP server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.testing import RunningService, SmtpServer, Stack, prime_group

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


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
    common = {"CITY_BOUNDARIES_FILE": str(SHARED / "warsaw-districts.geojson")}
    env = {
        "tracker": {
            **common,
            "TRACKER_DATABASE_URL": await fresh_db("tracker"),
            "TRACKER_CONSUMER_GROUP": groups["tracker"],
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
