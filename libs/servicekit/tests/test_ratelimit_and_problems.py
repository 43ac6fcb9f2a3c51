"""Rate limits and problem details, on a tiny app built inline."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from servicekit import problems
from servicekit.openapi import document_problems
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


def guarded() -> FastAPI:
    application = FastAPI()
    problems.install(application)
    document_problems(application, rate_limited=("/items",))
    application.add_middleware(problems.InputGuardMiddleware, own_media=("/upload",))

    @application.get("/items")
    async def list_items(q: str = "") -> dict[str, str]:
        return {"q": q}

    @application.post("/items", responses={409: {"description": "Taken"}})
    async def add_item(body: Body) -> dict[str, str]:
        if body.name == "db-value":
            raise asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range")
        if body.name == "db-down":
            raise ConnectionRefusedError("connect call failed")
        return {"name": body.name}

    @application.post("/upload")
    async def upload() -> dict[str, str]:
        return {"ok": "handler decides"}

    return application


async def test_input_guard_nul_media_type_and_allow() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded()), base_url="http://t") as client:
        assert (await client.get("/items?q=a%00b")).status_code == 400
        nul = await client.post(
            "/items",
            content=b'{"name": "a\\u0000", "count": 1}',
            headers={"Content-Type": "application/json"},
        )
        assert nul.status_code == 400
        assert nul.json()["type"].endswith("nul-character")
        # an escaped backslash followed by "u0000" is ordinary text
        text = await client.post(
            "/items",
            content=b'{"name": "a\\\\u0000", "count": 1}',
            headers={"Content-Type": "application/json"},
        )
        assert text.status_code == 200
        assert text.json() == {"name": "a\\u0000"}
        plain = await client.post("/items", content=b"name=x", headers={"Content-Type": "text/plain"})
        assert plain.status_code == 415
        assert (
            await client.post("/upload", content=b"x", headers={"Content-Type": "text/plain"})
        ).status_code == 200
        wrong_method = await client.delete("/items")
        assert wrong_method.status_code == 405
        assert wrong_method.headers["Allow"] == "GET, POST"  # both routes of the path, not only the first


async def test_database_value_errors_are_422_and_outages_503() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded()), base_url="http://t") as client:
        value = await client.post("/items", json={"name": "db-value", "count": 1})
        assert value.status_code == 422
        assert value.headers["content-type"] == "application/problem+json"
        down = await client.post("/items", json={"name": "db-down", "count": 1})
        assert down.status_code == 503
        assert down.headers["Retry-After"] == "2"


def test_openapi_documents_every_error_as_a_problem() -> None:
    doc = guarded().openapi()
    post = doc["paths"]["/items"]["post"]["responses"]
    assert {"400", "409", "413", "415", "422", "429", "500", "503"} <= set(post)
    assert post["409"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert post["422"] == {"$ref": "#/components/responses/Problem422"}
    assert "Retry-After" in doc["components"]["responses"]["Problem429"]["headers"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "429" not in doc["paths"]["/upload"]["post"]["responses"]
