"""Rate limits and problem details, on a tiny app built inline."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from servicekit import problems
from servicekit.ratelimit import RateLimiter, RateLimitMiddleware


def test_token_bucket() -> None:
    limiter = RateLimiter(per_second=2, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", now=0.0) == 0.5
    assert limiter.take("b", now=0.0) == 0.0  # per client
    assert limiter.take("a", now=0.6) == 0.0  # refilled


class Body(BaseModel):
    name: str
    count: int


def app() -> FastAPI:
    application = FastAPI()
    problems.install(application)
    application.add_middleware(
        RateLimitMiddleware, service="t", limiter=RateLimiter(1, 2), prefixes=("/limited",)
    )
    application.add_middleware(problems.BodyLimitMiddleware, max_bytes=100)

    @application.post("/limited")
    async def limited(body: Body) -> dict[str, str]:
        return {"ok": body.name}

    @application.post("/open")
    async def open_(body: Body) -> dict[str, str]:
        return {"ok": body.name}

    return application


async def test_429_with_retry_after_only_on_limited_paths() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        codes = [
            (await client.post("/limited", json={"name": "x", "count": 1})).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        refused = await client.post("/limited", json={"name": "x", "count": 1})
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        for _ in range(5):
            assert (await client.post("/open", json={"name": "x", "count": 1})).status_code == 200


async def test_problem_details_name_every_invalid_field_and_limit_bodies() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        invalid = await client.post("/open", json={"count": "many"})
        assert invalid.status_code == 422
        assert {e["field"] for e in invalid.json()["errors"]} == {"name", "count"}
        malformed = await client.post("/open", content=b"{nope", headers={"content-type": "application/json"})
        assert malformed.status_code == 400
        big = await client.post("/open", json={"name": "x" * 200, "count": 1})
        assert big.status_code == 413
