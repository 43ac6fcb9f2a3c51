"""Wiring: settings -> city, database, Kafka, outbox relay, HTTP app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cityconfig import load_city
from contracts import CASE_CREATED
from intake.adapters import mail_listener
from intake.adapters.clients import TrackerClient
from intake.entrypoints import http, open311, photos
from intake.service import IntakeContext
from intake.settings import IntakeSettings
from servicekit.outbox import OutboxRelay
from servicekit.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: IntakeSettings) -> FastAPI:
    city = load_city(settings.city_config_dir)
    runtime = ServiceRuntime("intake", settings, MIGRATIONS)
    runtime.declare_publishes(CASE_CREATED.name)
    pool = runtime.db
    relay = OutboxRelay("intake", pool, runtime.publisher)

    async def run_relay(_: ServiceRuntime) -> None:
        await relay.run()

    runtime.add_task(run_relay)
    context: dict[str, IntakeContext] = {}

    async def run_mail_channel(_: ServiceRuntime) -> None:
        async def acceptor(fields: dict[str, Any], key: str) -> tuple[str, str]:
            return await http.accept_mail(context["intake"], fields, key)

        await mail_listener.serve(settings.mail_host, settings.mail_port, acceptor)

    if settings.mail_port:
        runtime.add_task(run_mail_channel)
    app = create_app(
        runtime,
        rate_limited=("/v1/cases", "/v1/photos", "/open311/"),
        own_media=("/v1/cases", "/v1/photos", "/open311/"),
        title="Intake",
        version="1.0.0",
        max_body_bytes=settings.max_body_bytes,
        body_limits={"/v1/photos": photos.MAX_PHOTO_BYTES + 64 * 1024},
        description="The only door into the city contact centre: every channel submits cases here.",
    )
    tracker = TrackerClient(settings.tracker_url)
    app.state.intake = IntakeContext(
        city=city,
        pool=pool,
        relay=relay,
        public_base_url=settings.public_base_url,
        tracker=tracker,
        own_base_url=settings.own_base_url,
    )
    context["intake"] = app.state.intake
    app.include_router(http.router)
    app.include_router(open311.router)
    app.include_router(photos.router)
    return app
