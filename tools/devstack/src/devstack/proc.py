"""Starting and stopping the stack's background processes with pid files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


class StackError(RuntimeError):
    """The stack could not be brought to the wanted state; the message says why."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(
    name: str, argv: Sequence[str], pidfile: Path, logfile: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so it can be stopped as a group) and record its pid."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    pidfile.write_text(str(proc.pid))
    return proc


def stop_pid(pid: int, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    """Signal a process group, wait for it, kill it when it does not go."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_pidfile(pidfile: Path, timeout: float = 20.0) -> bool:
    pid = read_pid(pidfile)
    if pid is not None:
        stop_pid(pid, timeout)
    pidfile.unlink(missing_ok=True)
    return pid is not None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_port(
    port: int, timeout: float, what: str, alive: Path | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if alive is not None and read_pid(alive) is None:
            raise StackError(f"{what} exited while starting; see {log}:\n{tail(log)}")
        time.sleep(0.2)
    raise StackError(f"{what} did not open port {port} within {timeout:.0f}s; see {log}:\n{tail(log)}")


def tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise StackError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result  # type: ignore[no-any-return]


async def wait_port_free(port: int, timeout: float = 30.0) -> None:
    """Wait until nothing listens on the port (a previous process may still be closing it)."""
    import asyncio

    deadline = time.monotonic() + timeout
    while port_open(port):
        if time.monotonic() > deadline:
            raise StackError(f"port {port} is in use; stop what runs there (make down) and try again")
        await asyncio.sleep(0.2)


async def wait_ready(port: int, pidfile: Path, log: Path, label: str, timeout: float = 60.0) -> None:
    """Poll a service's /readyz until 200; fail at once (with its log) when its process is gone."""
    import asyncio

    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if read_pid(pidfile) is None:
                raise StackError(f"{label} exited:\n{tail(log, 60)}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise StackError(f"{label} not ready in {timeout:.0f}s:\n{tail(log, 60)}")
