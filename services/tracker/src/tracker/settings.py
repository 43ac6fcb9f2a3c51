from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class TrackerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore")

    port: int = Field(default=8003, ge=1, le=65535)
    database_url: str = "postgresql://postgres@127.0.0.1:55432/tracker"
    consumer_group: str = "tracker"
    max_batch: int = Field(default=500, ge=1, le=5000)
    sla_check_interval_s: float = Field(default=30.0, gt=0)
    metrics_refresh_s: float = Field(default=5.0, gt=0)
