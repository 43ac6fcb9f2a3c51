"""What the tracker's routes share: the context, authentication, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request

from cityconfig import CityIndex
from servicekit.problems import ProblemError
from tracker.auth import Principal, authenticate
from tracker.domain.lifecycle import StatusTransitionError
from tracker.service import ForbiddenError, NotFoundError, TrackerService


@dataclass
class TrackerContext:
    city: CityIndex
    pool: Any
    service: TrackerService


def ctx(request: Request) -> TrackerContext:
    context: TrackerContext = request.app.state.tracker
    return context


@asynccontextmanager
async def domain_errors() -> AsyncIterator[None]:
    """Map the service's exceptions to problem details."""
    try:
        yield
    except NotFoundError as exc:
        raise ProblemError(404, "Case not found", str(exc), "not-found") from exc
    except ForbiddenError as exc:
        raise ProblemError(403, "Forbidden", str(exc), "forbidden") from exc
    except StatusTransitionError as exc:
        raise ProblemError(409, "Transition not allowed", str(exc), "illegal-transition") from exc


async def principal(
    request: Request, x_api_key: Annotated[str | None, Header(alias="X-API-Key", max_length=200)] = None
) -> Principal:
    async with ctx(request).pool.acquire() as conn:
        found = await authenticate(conn, x_api_key)
    if found is None:
        raise ProblemError(
            401,
            "Unauthorized",
            "Send a valid X-API-Key header.",
            "unauthorized",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return found


def require_role(who: Principal, *roles: str) -> None:
    if who.role not in roles:
        raise ProblemError(403, "Forbidden", f"this API is for {' or '.join(roles)} keys", "forbidden")
