"""Where the stack lives and which ports it uses (each overridable by an environment variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("CC_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Makefile").exists() and (candidate / "deploy").is_dir():
            return candidate
    return Path(__file__).resolve().parents[4]


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class StackConfig:
    root: Path
    kafka_port: int
    kafka_controller_port: int
    pg_port: int
    smtp_port: int
    prometheus_port: int

    @property
    def local(self) -> Path:
        return self.root / ".local"

    @property
    def run_dir(self) -> Path:
        return self.local / "run"

    @property
    def log_dir(self) -> Path:
        return self.local / "log"

    @property
    def mailbox_dir(self) -> Path:
        return self.local / "smtp" / "mailbox"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"

    def env(self) -> dict[str, str]:
        """Environment variables that point services and tests at this stack."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "PG_ADMIN_URL": self.database_url("postgres"),
            "INTAKE_DATABASE_URL": self.database_url("intake"),
            "ROUTER_DATABASE_URL": self.database_url("router"),
            "TRACKER_DATABASE_URL": self.database_url("tracker"),
            "NOTIFIER_DATABASE_URL": self.database_url("notifier"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "MAILBOX_DIR": str(self.mailbox_dir),
        }


def load() -> StackConfig:
    return StackConfig(
        root=_find_root(),
        kafka_port=_port("CC_KAFKA_PORT", 19092),
        kafka_controller_port=_port("CC_KAFKA_CONTROLLER_PORT", 19093),
        pg_port=_port("CC_PG_PORT", 55432),
        smtp_port=_port("CC_SMTP_PORT", 2525),
        prometheus_port=_port("CC_PROMETHEUS_PORT", 9090),
    )


DATABASES = ("intake", "router", "tracker", "notifier")
