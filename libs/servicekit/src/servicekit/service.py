"""The runtime every service shares: database pool and migrations, Kafka publisher and consumers
(started in the background, retried until the broker answers), background tasks, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from servicekit import db, metrics, problems
from servicekit.kafka import ConsumerSpec, Publisher, register_consumer
from servicekit.openapi import document_problems
from servicekit.ratelimit import RateLimiter, RateLimitMiddleware
from servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

_prometheus_middleware: Any = None


def _faststream_metrics() -> Any:
    """FastStream's own consumer metrics, registered once per process."""
    global _prometheus_middleware
    if _prometheus_middleware is None:
        from faststream.kafka.prometheus import KafkaPrometheusMiddleware

        _prometheus_middleware = KafkaPrometheusMiddleware(registry=metrics.registry)
    return _prometheus_middleware


Task = Callable[["ServiceRuntime"], Awaitable[None]]


class LazyPool:
    """Hands out connections of the runtime's pool, which exists only once the runtime started."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        if self._runtime.pool is None:
            raise ConnectionError("database pool not started")
        return self._runtime.pool.acquire(*args, **kwargs)


class ServiceRuntime:
    def __init__(self, name: str, settings: ServiceSettings, migrations: Path | None) -> None:
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"{name}-{settings.instance_id}",
            middlewares=[_faststream_metrics()],
            logger=logging.getLogger(f"{name}.faststream"),
            log_level=logging.DEBUG,  # per-message "Received/Processed" lines only at debug
        )
        self.publisher = Publisher(
            settings.kafka_bootstrap_servers, name, f"{name}-{settings.instance_id}-pub"
        )
        self.pool: Any = None
        self.consumers: list[ConsumerSpec] = []
        self.publishes: list[str] = []
        self._tasks: list[Task] = []
        self._running: list[asyncio.Task[None]] = []
        self.kafka_started = asyncio.Event()
        self.db = LazyPool(self)

    def add_consumer(self, spec: ConsumerSpec) -> None:
        self.consumers.append(spec)
        register_consumer(self.broker, spec, self.publisher)

    def declare_publishes(self, *topics: str) -> None:
        """Topics this service publishes to (documentation: the AsyncAPI operations)."""
        self.publishes.extend(topics)

    def add_task(self, task: Task) -> None:
        """A long-running coroutine started once the database is ready (cancelled at stop)."""
        self._tasks.append(task)

    async def start(self) -> None:
        self.pool = await db.create_pool(self.settings.database_url, self.settings.db_pool_size)
        if self.migrations is not None:
            await db.migrate(self.pool, self.migrations, self.name)
        self._running.append(asyncio.create_task(self._start_kafka(), name=f"{self.name}-kafka"))
        for task in self._tasks:
            self._running.append(asyncio.create_task(self._guard(task), name=f"{self.name}-task"))

    async def _start_kafka(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.publisher.start()
                await self.broker.start()
                self.kafka_started.set()
                log.info("kafka connected", extra={"consumers": len(self.consumers)})
                return
            except Exception as exc:
                log.warning(
                    "kafka not available yet, retrying", extra={"error": repr(exc)[:200], "retry_in_s": delay}
                )
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _guard(self, task: Task) -> None:
        """Keep a background task alive: log and restart it when it fails."""
        while True:
            try:
                await task(self)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed; restarting in 1s")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        for task in self._running:
            task.cancel()
        for task in self._running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._running.clear()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        with contextlib.suppress(Exception):
            await self.publisher.stop()
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def readiness(self) -> dict[str, bool]:
        checks = {"postgres": self.pool is not None and await db.ping(self.pool)}
        kafka_ok = False
        if self.kafka_started.is_set():
            try:
                kafka_ok = bool(await self.broker.ping(timeout=2.0))
            except Exception:
                kafka_ok = False
        checks["kafka"] = kafka_ok
        return checks


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    version: str = "1.0.0",
    max_body_bytes: int = 1_048_576,
    body_limits: dict[str, int] | None = None,
    rate_limited: tuple[str, ...] = (),
    own_media: tuple[str, ...] = (),
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        # Prometheus is the services' telemetry; FastAPI's OpenTelemetry hooks otherwise look up the
        # global providers (and the environment) on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    problems.install(app)
    document_problems(app, rate_limited)
    settings = runtime.settings
    app.add_middleware(problems.InputGuardMiddleware, own_media=own_media)
    if rate_limited and settings.rate_limit_per_s > 0:
        limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        app.add_middleware(RateLimitMiddleware, service=runtime.name, limiter=limiter, prefixes=rate_limited)
    app.add_middleware(problems.BodyLimitMiddleware, max_bytes=max_body_bytes, per_path=body_limits or {})

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: Kafka and PostgreSQL connections work",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
