"""API keys: issued once, stored as SHA-256, compared in constant time, several per subject (rotation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    role: str  # unit | consultant | operator
    subject: str


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_key(conn: Any, role: str, subject: str, label: str | None = None) -> str:
    key = f"{role[:4]}_{secrets.token_urlsafe(32)}"
    await conn.execute(
        "INSERT INTO api_keys(key_hash, role, subject, label) VALUES ($1, $2, $3, $4)",
        key_hash(key),
        role,
        subject,
        label,
    )
    return key


async def revoke_keys(conn: Any, role: str, subject: str, keep_newest: int = 0) -> int:
    """Revoke a subject's keys, keeping the newest N (issue a new key, then revoke the rest: no downtime)."""
    result: str = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE role = $1 AND subject = $2 AND revoked_at IS NULL "
        "AND key_hash NOT IN (SELECT key_hash FROM api_keys WHERE role = $1 AND subject = $2 "
        " AND revoked_at IS NULL ORDER BY created_at DESC LIMIT $3)",
        role,
        subject,
        keep_newest,
    )
    return int(result.split()[-1])


async def authenticate(conn: Any, key: str | None) -> Principal | None:
    if not key or len(key) > 200:
        return None
    digest = key_hash(key)
    row = await conn.fetchrow(
        "SELECT key_hash, role, subject FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    return Principal(role=row["role"], subject=row["subject"])
