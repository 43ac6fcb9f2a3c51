"""Per-client rate limits for public endpoints: a token bucket per client (API key, else address);
over the limit the answer is 429 with Retry-After, so one flood cannot starve the city."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.problems import problem_response

LIMITED = Counter("cc_http_rate_limited_total", "Requests refused with 429", ["service"])


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_second: float, burst: int, max_clients: int = 50_000) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = Bucket(float(self.burst), now)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, service: str, limiter: RateLimiter, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.service = service
        self.limiter = limiter
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        key = headers.get(b"x-api-key")
        client = (
            f"key:{key.decode(errors='replace')[:80]}" if key else f"ip:{(scope.get('client') or ('?',))[0]}"
        )
        wait = self.limiter.take(client)
        if wait > 0:
            LIMITED.labels(self.service).inc()
            retry = str(max(1, math.ceil(wait)))
            response = problem_response(
                429,
                "Too many requests",
                f"Slow down; retry in {retry} s.",
                "rate-limited",
                headers={"Retry-After": retry},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
