"""Typed settings from environment variables; a bad value stops the service with a clear message."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_CITY_DIR = REPO_ROOT / "deploy" / "config" / "warsaw"


def shared(name: str) -> AliasChoices:
    """A setting shared by all services: read without the service prefix."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set env_prefix (INTAKE_, ROUTER_, …) for their own fields."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    host: str = Field(default="127.0.0.1", description="HTTP bind address")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port")
    database_url: str = Field(description="PostgreSQL DSN of the service's own database")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=shared("KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma separated",
    )
    city_config_dir: Path = Field(
        default=DEFAULT_CITY_DIR,
        validation_alias=shared("CITY_CONFIG_DIR"),
        description="Folder with the city's units, catalogue, routing rules and district data",
    )
    log_level: str = Field(default="INFO", validation_alias=shared("LOG_LEVEL"))
    instance_id: str = Field(default="1", description="Distinguishes instances of one service in logs")
    rate_limit_per_s: float = Field(
        default=20.0, ge=0, description="Public endpoints: requests/s per client (0 = off)"
    )
    rate_limit_burst: int = Field(default=400, ge=1, description="Public endpoints: burst per client")


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Build the settings or exit with one line per invalid variable."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {prefix}{field.upper()}: {err['msg']}")
        print(f"configuration error in {cls.__name__}:\n" + "\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
