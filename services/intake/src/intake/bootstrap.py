"""Wiring: settings -> city, database, Kafka, outbox relay, HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityconfig import load_city
from intake.adapters.clients import TrackerClient
from intake.entrypoints import http, open311
from intake.service import IntakeContext
from intake.settings import IntakeSettings
from servicekit.outbox import OutboxRelay
from servicekit.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: IntakeSettings) -> FastAPI:
    city = load_city(settings.city_config_dir)
    runtime = ServiceRuntime("intake", settings, MIGRATIONS)
    pool = runtime.db
    relay = OutboxRelay("intake", pool, runtime.publisher)

    async def run_relay(_: ServiceRuntime) -> None:
        await relay.run()

    runtime.add_task(run_relay)
    app = create_app(
        runtime,
        title="Intake",
        version="1.0.0",
        max_body_bytes=settings.max_body_bytes,
        description="The only door into the city contact centre: every channel submits cases here.",
    )
    tracker = TrackerClient(settings.tracker_url)
    app.state.intake = IntakeContext(
        city=city, pool=pool, relay=relay, public_base_url=settings.public_base_url, tracker=tracker
    )
    app.include_router(http.router)
    app.include_router(open311.router)
    return app
