from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    port: int = Field(default=8001, ge=1, le=65535)
    database_url: str = "postgresql://postgres@127.0.0.1:55432/intake"
    tracker_url: str = Field(default="http://127.0.0.1:8003", description="Tracker API (Open311 reads)")
    own_base_url: str = Field(
        default="http://127.0.0.1:8001", description="This service's public URL (photo links)"
    )
    public_base_url: str = Field(default="http://127.0.0.1:8003", description="Base of the status URLs")
    max_body_bytes: int = Field(default=262_144, ge=1024)
    mail_host: str = Field(default="127.0.0.1", description="E-mail channel: SMTP listener address")
    mail_port: int = Field(default=0, ge=0, le=65535, description="E-mail channel: SMTP port (0 = off)")
