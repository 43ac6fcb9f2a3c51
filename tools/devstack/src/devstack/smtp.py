"""The mailbox SMTP server as a background process of the stack."""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.config import StackConfig
from devstack.proc import read_pid, spawn, stop_pidfile, wait_port


def _pidfile(cfg: StackConfig) -> Path:
    return cfg.run_dir / "mailbox.pid"


def is_running(cfg: StackConfig) -> bool:
    return read_pid(_pidfile(cfg)) is not None


def start(cfg: StackConfig) -> None:
    if is_running(cfg):
        return
    log = cfg.log_dir / "mailbox.log"
    print(f"devstack: starting SMTP mailbox on 127.0.0.1:{cfg.smtp_port} → {cfg.mailbox_dir}", flush=True)
    spawn(
        "mailbox",
        [
            sys.executable,
            "-m",
            "devstack.mailbox",
            "--dir",
            str(cfg.mailbox_dir),
            "--port",
            str(cfg.smtp_port),
        ],
        _pidfile(cfg),
        log,
    )
    wait_port(cfg.smtp_port, 30, "SMTP mailbox", alive=_pidfile(cfg), log=log)


def stop(cfg: StackConfig) -> bool:
    return stop_pidfile(_pidfile(cfg))
