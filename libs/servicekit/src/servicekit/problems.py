"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://errors.contact-centre.example/"


class ProblemError(Exception):
    """Raise anywhere in a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers
        self.extensions = extensions


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_ if type_ else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


# A lost or refused connection to PostgreSQL (restart, failover, pool closed): the request changed nothing
# (its transaction did not commit) and the caller should retry.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # ConnectionRefusedError, "Multiple exceptions: Connect call failed", ...
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.type, exc.headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                where = e.get("loc", ("body", "?"))[-1]
                return problem_response(
                    400,
                    "Malformed JSON",
                    f"The body is not valid JSON (at position {where}).",
                    "malformed-json",
                    errors=[{"field": "body", "message": "malformed JSON", "type": "json_invalid"}],
                )
        errors = [
            {
                "field": _field(e.get("loc", ())),
                "message": str(e.get("msg", "invalid")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors})) or "request"
        return problem_response(
            422, "Invalid request", f"Invalid fields: {fields}", "validation", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not only those of the first route matched
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(asyncpg.exceptions.DataError)
    async def _data(_: Request, exc: asyncpg.exceptions.DataError) -> JSONResponse:
        # A value the request carried that PostgreSQL cannot hold (out of range, bad encoding): the
        # request is at fault, and the transaction it was in has been rolled back.
        log.warning("request value refused by the database", extra={"error": type(exc).__name__})
        return problem_response(
            422, "Invalid value", "A value in the request is out of range or cannot be stored.", "validation"
        )

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", extra={"error": repr(exc)[:200]})
        return problem_response(
            503,
            "Service unavailable",
            "The database or the broker cannot be reached right now; nothing was changed. Retry shortly.",
            "unavailable",
            headers={"Retry-After": "2"},
        )

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        log.warning("request value out of range", extra={"error": str(exc)[:200]})
        return problem_response(
            422, "Invalid value", "A number in the request is out of range.", "validation"
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error", "The error was logged; please retry later.")


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def send_problem(
    scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str, type_: str
) -> None:
    """Answer with a problem document from ASGI middleware (before any route is involved)."""
    await problem_response(status, title, detail, type_)(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies larger than `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(
            (n for prefix, n in self.per_path.items() if scope["path"].startswith(prefix)), self.max_bytes
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await send_problem(
            scope,
            receive,
            send,
            413,
            "Request body too large",
            f"The body may have at most {limit} bytes.",
            "body-too-large",
        )


class _TooLarge(Exception):
    pass


_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


class InputGuardMiddleware:
    """Refuse what no service can store: the NUL character in a path, query or JSON text (PostgreSQL text
    cannot hold it). Checked once here so that no handler meets it and nothing half-stored follows."""

    def __init__(self, app: ASGIApp, own_media: tuple[str, ...] = ()) -> None:
        self.app = app
        self.own_media = (
            own_media  # path prefixes whose handlers check the media type themselves (forms, files)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"%00" in raw_path or b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await self._refuse(scope, receive, send, "the path or query")
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if b"json" not in content_type:
            if (
                content_type
                and scope["method"] in ("POST", "PUT", "PATCH")
                and not scope["path"].startswith(self.own_media)
            ):
                await send_problem(
                    scope,
                    receive,
                    send,
                    415,
                    "Unsupported content type",
                    f"Send application/json, not {content_type.decode(errors='replace')[:80]}.",
                    "unsupported-media-type",
                )
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away; let the app see it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _NUL_ESCAPE.search(body):
            await self._refuse(scope, receive, send, "the JSON body")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        await send_problem(
            scope,
            receive,
            send,
            400,
            "NUL character not accepted",
            f"{where.capitalize()} contains the NUL character (U+0000), which no text field may hold.",
            "nul-character",
        )
