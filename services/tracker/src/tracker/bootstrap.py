"""Wiring: settings -> city, database, consumer, outbox relay, periodic jobs, HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityconfig import load_city
from contracts import CASE_CREATED, CASE_ROUTED, CASE_STATUS_CHANGED
from servicekit.kafka import ConsumerSpec
from servicekit.outbox import OutboxRelay
from servicekit.service import ServiceRuntime, create_app
from tracker.adapters.sla import run_periodic
from tracker.entrypoints import public, staff
from tracker.entrypoints.deps import TrackerContext
from tracker.service import TrackerService
from tracker.settings import TrackerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
TOPICS = [CASE_CREATED.name, CASE_ROUTED.name, CASE_STATUS_CHANGED.name]


def build_app(settings: TrackerSettings) -> FastAPI:
    city = load_city(settings.city_config_dir)
    runtime = ServiceRuntime("tracker", settings, MIGRATIONS)
    runtime.declare_publishes(CASE_STATUS_CHANGED.name, CASE_ROUTED.name)
    service = TrackerService(city, runtime.db)
    relay = OutboxRelay("tracker", runtime.db, runtime.publisher)
    runtime.add_consumer(
        ConsumerSpec(
            service="tracker",
            group_id=settings.consumer_group,
            topics=TOPICS,
            handler=service.handle,
            max_records=settings.max_batch,
            skip_own=True,  # its own status changes are in its history from the moment they were written
        )
    )

    async def relay_task(_: ServiceRuntime) -> None:
        await relay.run()

    async def periodic(_: ServiceRuntime) -> None:
        await run_periodic(
            runtime.db,
            settings.sla_check_interval_s,
            settings.metrics_refresh_s,
            [u.id for u in city.config.units],
        )

    runtime.add_task(relay_task)
    runtime.add_task(periodic)
    app = create_app(
        runtime,
        rate_limited=("/v1/public/",),
        title="Tracker",
        version="1.0.0",
        description="Every case's state and public history; where units and consultants work.",
    )
    app.state.tracker = TrackerContext(city=city, pool=runtime.db, service=service)
    app.include_router(public.router)
    app.include_router(staff.units)
    app.include_router(staff.consultants)
    return app
