"""A PostgreSQL cluster owned by the project (the machine's Debian package; never as root)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from devstack.config import DATABASES, StackConfig
from devstack.proc import StackError, port_open, run, tail

_SYSTEM_USER = "postgres"


def _bin_dir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    if os.geteuid() == 0:
        print("devstack: PostgreSQL is missing; installing the Debian package …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env)
        return _bin_dir()
    raise StackError("PostgreSQL is not installed: apt-get install postgresql (or set PG_ADMIN_URL)")


def _as_owner() -> list[str]:
    """Prefix that runs a command as the cluster's owner: 'postgres' when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError as exc:
        raise StackError(
            "running as root needs the 'postgres' system user (apt-get install postgresql)"
        ) from exc
    return ["runuser", "-u", _SYSTEM_USER, "--"]


def _owner_can_use(path: Path) -> bool:
    if os.geteuid() != 0:
        return True
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run([*_as_owner(), "test", "-x", str(path)], check=False)
    return probe.returncode == 0


def data_root(cfg: StackConfig) -> Path:
    """`.local/pg`, or a stable folder in /var/tmp when the postgres user cannot reach the checkout."""
    preferred = cfg.local / "pg"
    if _owner_can_use(cfg.local):
        return preferred
    digest = hashlib.sha256(str(cfg.root).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"cc-pg-{digest}"  # noqa: S108 - a stable, named folder for the cluster


def _paths(cfg: StackConfig) -> tuple[Path, Path, Path]:
    root = data_root(cfg)
    return root / "data", root / "run", cfg.log_dir / "postgres.log"


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, _SYSTEM_USER, _SYSTEM_USER)


def is_running(cfg: StackConfig) -> bool:
    data, _, _ = _paths(cfg)
    return (data / "postmaster.pid").exists() and port_open(cfg.pg_port)


def start(cfg: StackConfig) -> None:
    bindir = _bin_dir()
    data, sock, log = _paths(cfg)
    log.parent.mkdir(parents=True, exist_ok=True)
    for d in (data.parent, sock):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        _chown(data)
        print(f"devstack: initdb {data}", flush=True)
        run(
            [
                *_as_owner(),
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
    if not is_running(cfg):
        pg_log = data.parent / "postgres.log"
        print(f"devstack: starting PostgreSQL on 127.0.0.1:{cfg.pg_port} (log {pg_log})", flush=True)
        opts = (
            f"-p {cfg.pg_port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=on -c shared_buffers=128MB"
        )
        result = subprocess.run(
            [
                *_as_owner(),
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(pg_log),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\n{tail(pg_log)}")
        if log.is_symlink() or log.exists():
            log.unlink()
        log.symlink_to(pg_log)
    asyncio.run(ensure_databases(cfg.database_url("postgres")))


def stop(cfg: StackConfig) -> bool:
    data, _, _ = _paths(cfg)
    if not (data / "postmaster.pid").exists():
        return False
    bindir = _bin_dir()
    subprocess.run(
        [*_as_owner(), str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
        capture_output=True,
        check=False,
    )
    return True


async def ensure_databases(admin_url: str, names: tuple[str, ...] = DATABASES) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
