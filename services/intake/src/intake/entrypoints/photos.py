"""Photo uploads: POST /v1/photos (multipart), GET /v1/photos/{id}; the URL goes into the case's photos."""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from intake.service import context
from servicekit.problems import ProblemError

router = APIRouter(prefix="/v1/photos", tags=["photos"])
MAX_PHOTO_BYTES = 5 * 1024 * 1024
SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class PhotoStored(BaseModel):
    photo_id: UUID
    url: str
    content_type: str
    size_bytes: int


def sniff(data: bytes) -> str | None:
    """The real type from the first bytes (the declared content type is not trusted)."""
    for magic, kind in SIGNATURES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@router.post(
    "",
    status_code=201,
    response_model=PhotoStored,
    summary="Upload a photo (JPEG, PNG or WebP, ≤ 5 MB)",
    responses={413: {"description": "Too large"}, 415: {"description": "Not a JPEG, PNG or WebP image"}},
)
async def upload(request: Request, photo: UploadFile) -> PhotoStored:
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise ProblemError(
            413, "Photo too large", f"A photo may have at most {MAX_PHOTO_BYTES} bytes.", "body-too-large"
        )
    kind = sniff(data)
    if kind is None:
        raise ProblemError(
            415, "Unsupported photo", "Send a JPEG, PNG or WebP image.", "unsupported-media-type"
        )
    ctx = context(request)
    photo_id = uuid4()
    async with ctx.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO photos(photo_id, content_type, sha256, size_bytes, data) "
            "VALUES ($1, $2, $3, $4, $5)",
            photo_id,
            kind,
            hashlib.sha256(data).hexdigest(),
            len(data),
            data,
        )
    return PhotoStored(
        photo_id=photo_id,
        url=f"{ctx.own_base_url.rstrip('/')}/v1/photos/{photo_id}",
        content_type=kind,
        size_bytes=len(data),
    )


@router.get(
    "/{photo_id}",
    summary="A stored photo",
    response_class=Response,
    responses={404: {"description": "No such photo"}},
)
async def download(request: Request, photo_id: UUID) -> Response:
    async with context(request).pool.acquire() as conn:
        row = await conn.fetchrow("SELECT content_type, data FROM photos WHERE photo_id = $1", photo_id)
    if row is None:
        raise ProblemError(404, "Photo not found", type_="not-found")
    return Response(
        bytes(row["data"]),
        media_type=row["content_type"],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
