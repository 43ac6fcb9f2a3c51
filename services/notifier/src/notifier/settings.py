from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    tracker_url: str = Field(default="http://127.0.0.1:8003", description="Tracker API (retention)")
    port: int = Field(default=8004, ge=1, le=65535)
    database_url: str = "postgresql://postgres@127.0.0.1:55432/notifier"
    consumer_group: str = "notifier"
    max_batch: int = Field(default=500, ge=1, le=5000)
    smtp_host: str = Field(default="127.0.0.1", validation_alias="SMTP_HOST")
    smtp_port: int = Field(default=2525, ge=1, le=65535, validation_alias="SMTP_PORT")
    smtp_username: str | None = Field(default=None, validation_alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, validation_alias="SMTP_PASSWORD")
    smtp_tls: bool = Field(default=False, validation_alias="SMTP_TLS", description="Implicit TLS (port 465)")
    smtp_starttls: bool = Field(default=False, validation_alias="SMTP_STARTTLS")
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    smtp_connections: int = Field(
        default=4,
        ge=1,
        le=64,
        validation_alias="SMTP_CONNECTIONS",
        description="Reused SMTP connections (and recipients served at once)",
    )
    mail_from: str = Field(default="Warszawa 19115 <no-reply@19115.localhost>")
    push_gateway_url: str | None = Field(default=None, description="HTTP endpoint of the app's push relay")
    push_gateway_token: SecretStr | None = None
    public_base_url: str = Field(default="http://127.0.0.1:8003", description="Tracker's public base URL")
    notifier_base_url: str = Field(default="http://127.0.0.1:8004", description="This service's public URL")
    operator_key_hashes: str = Field(default="", description="Comma-separated SHA-256 of operator API keys")
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    dispatch_batch: int = Field(default=200, ge=1, le=5000)
    channel_probe_s: float = Field(
        default=2.0, gt=0, description="While a channel is unreachable, try it again this often"
    )
