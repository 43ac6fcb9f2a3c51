"""Parameter types shared by the services' HTTP APIs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


def iso_only(value: Any) -> Any:
    """A date-time must be written as ISO 8601; pydantic would otherwise read "0.5" as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-12-03T10:00:00Z")
    return value.strip()


IsoDateTime = Annotated[
    datetime,
    BeforeValidator(iso_only),
    Field(json_schema_extra={"format": "date-time"}),
]
