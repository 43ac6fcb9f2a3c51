"""Wiring: settings -> city, database, consumer, dispatcher (SMTP, push), HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityconfig import load_city
from contracts import CASE_CREATED, CASE_STATUS_CHANGED
from notifier.adapters.senders import Mailer, PushGateway
from notifier.dispatcher import Dispatcher
from notifier.entrypoints import http
from notifier.handler import NotifierHandler
from notifier.service import NotifierContext
from notifier.settings import NotifierSettings
from servicekit.kafka import ConsumerSpec
from servicekit.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: NotifierSettings) -> FastAPI:
    city = load_city(settings.city_config_dir)
    runtime = ServiceRuntime("notifier", settings, MIGRATIONS)
    mailer = Mailer(settings)
    push = PushGateway(settings)
    dispatcher = Dispatcher(runtime.db, settings, mailer, push)
    handler = NotifierHandler(city, runtime.db, settings, on_queued=dispatcher.notify)
    runtime.add_consumer(
        ConsumerSpec(
            service="notifier",
            group_id=settings.consumer_group,
            topics=[CASE_CREATED.name, CASE_STATUS_CHANGED.name],
            handler=handler.handle,
            max_records=settings.max_batch,
        )
    )

    async def dispatch(_: ServiceRuntime) -> None:
        try:
            await dispatcher.run()
        finally:
            await mailer.close()

    runtime.add_task(dispatch)
    app = create_app(
        runtime,
        rate_limited=("/v1/subscriptions", "/v1/unsubscribe"),
        title="Notifier",
        version="1.0.0",
        description="Tells residents what happened to their cases; delivers city alerts.",
    )
    hashes = [h.strip().lower() for h in settings.operator_key_hashes.split(",") if h.strip()]
    app.state.notifier = NotifierContext(
        city=city,
        pool=runtime.db,
        dispatcher=dispatcher,
        base_url=settings.notifier_base_url,
        operator_key_hashes=hashes,
    )
    app.include_router(http.router)
    return app
