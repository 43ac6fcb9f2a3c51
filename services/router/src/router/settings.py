from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore")

    tracker_url: str = Field(default="http://127.0.0.1:8003", description="Tracker API (retention)")
    port: int = Field(default=8002, ge=1, le=65535)
    database_url: str = "postgresql://postgres@127.0.0.1:55432/router"
    consumer_group: str = "router"
    max_batch: int = Field(default=500, ge=1, le=5000)
