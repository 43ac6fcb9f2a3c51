"""Wiring: settings -> city, locator, database, Kafka consumer, HTTP app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cityconfig import load_city
from contracts import CASE_CREATED, CASE_ROUTED, CASE_STATUS_CHANGED
from router.domain.locate import DistrictLocator
from router.entrypoints.consumers import RouterHandler
from router.settings import RouterSettings
from servicekit.kafka import ConsumerSpec
from servicekit.service import ServiceRuntime, create_app

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: RouterSettings) -> FastAPI:
    city = load_city(settings.city_config_dir)
    locator = DistrictLocator(city)
    log.info(
        "district location mode",
        extra={"mode": locator.mode, "boundaries_file": str(city.boundaries_file or "")},
    )
    runtime = ServiceRuntime("router", settings, MIGRATIONS)
    runtime.declare_publishes(CASE_ROUTED.name)
    handler = RouterHandler(city, locator, runtime.db, runtime.publisher)
    runtime.add_consumer(
        ConsumerSpec(
            service="router",
            group_id=settings.consumer_group,
            topics=[CASE_CREATED.name, CASE_STATUS_CHANGED.name],
            handler=handler.handle,
            max_records=settings.max_batch,
        )
    )
    app = create_app(
        runtime,
        title="Router",
        version="1.0.0",
        description="Decides the responsible unit for every case and publishes case.routed.",
    )

    @app.get("/v1/units", tags=["routing"], summary="The units cases can be routed to")
    async def units() -> list[dict[str, Any]]:
        return [u.model_dump(mode="json") for u in city.config.units]

    return app
