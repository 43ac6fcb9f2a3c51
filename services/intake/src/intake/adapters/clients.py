"""Open311 client keys (issued once, stored hashed) and the tracker's read API."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import httpx


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_client_key(conn: Any, name: str) -> str:
    key = f"o311_{secrets.token_urlsafe(32)}"
    await conn.execute("INSERT INTO open311_clients(key_hash, name) VALUES ($1, $2)", _hash(key), name)
    return key


async def revoke_client_keys(conn: Any, name: str, keep_newest: int = 0) -> int:
    result: str = await conn.execute(
        "UPDATE open311_clients SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL AND key_hash NOT IN "
        "(SELECT key_hash FROM open311_clients WHERE name = $1 AND revoked_at IS NULL "
        " ORDER BY created_at DESC LIMIT $2)",
        name,
        keep_newest,
    )
    return int(result.split()[-1])


async def client_for_key(conn: Any, key: str | None) -> str | None:
    if not key or len(key) > 200:
        return None
    digest = _hash(key)
    row = await conn.fetchrow(
        "SELECT key_hash, name FROM open311_clients WHERE key_hash = $1 AND revoked_at IS NULL", digest
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    return str(row["name"])


class TrackerClient:
    """Reads for Open311 come from the tracker (intake keeps no copy of case state)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def case(self, case_id: str) -> dict[str, Any] | None:
        response = await self._client.get(f"/v1/public/cases/{case_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def case_by_number(self, number: str) -> dict[str, Any] | None:
        response = await self._client.get(f"/v1/public/cases/by-number/{number}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def search(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        pairs: list[tuple[str, str | int | float | bool | None]] = list(params)
        response = await self._client.get("/v1/public/cases", params=pairs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self._client.aclose()
