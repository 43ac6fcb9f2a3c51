"""A real Prometheus server (the Debian package) scraping every service."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devstack.config import StackConfig
from devstack.proc import StackError, read_pid, run, spawn, stop_pidfile, wait_port


def binary(name: str = "prometheus") -> str | None:
    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("devstack: installing the Debian prometheus package …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        try:
            run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], env=env)
        except StackError as exc:
            print(f"devstack: prometheus could not be installed: {exc}")
            return None
        # the package starts its own daemon on :9090; the project runs its own instead
        subprocess.run(["systemctl", "stop", "prometheus"], check=False, capture_output=True)
        subprocess.run(["pkill", "-f", "/usr/bin/prometheus"], check=False, capture_output=True)
    return shutil.which(name)


def _pidfile(cfg: StackConfig) -> Path:
    return cfg.run_dir / "prometheus.pid"


def start(cfg: StackConfig) -> str | None:
    exe = binary()
    if exe is None:
        print("devstack: Prometheus is not available; the services still expose /metrics")
        return None
    url = f"http://127.0.0.1:{cfg.prometheus_port}"
    if read_pid(_pidfile(cfg)) is not None:
        return url
    config = cfg.root / "deploy" / "prometheus" / "prometheus.yml"
    data = cfg.local / "prometheus"
    data.mkdir(parents=True, exist_ok=True)
    log = cfg.log_dir / "prometheus.log"
    spawn(
        "prometheus",
        [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{cfg.prometheus_port}",
            "--web.enable-lifecycle",
        ],
        _pidfile(cfg),
        log,
    )
    wait_port(cfg.prometheus_port, 60, "Prometheus", alive=_pidfile(cfg), log=log)
    return url


def stop(cfg: StackConfig) -> None:
    stop_pidfile(_pidfile(cfg))
