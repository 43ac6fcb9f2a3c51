"""A real SMTP server that keeps every message it receives as a .eml file (tests and people read them)."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingHandler:
    """Appends `time recipient` per received message to a file (cheap enough for a benchmark's storm)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", buffering=1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        now = time.time()
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        found = re.search(rb"(?im)^message-id:\s*(\S+)", head)
        message_id = found.group(1).decode(errors="replace") if found else "-"
        for rcpt in envelope.rcpt_tos:
            self.file.write(f"{now:.6f} {rcpt} {message_id}\n")
        return "250 OK"


class MailboxHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        content = envelope.original_content or b""
        rcpts = ", ".join(envelope.rcpt_tos)
        header = f"X-Mailbox-Rcpt-To: {rcpts}\r\nX-Mailbox-Mail-From: {envelope.mail_from}\r\n".encode()
        tmp.write_bytes(header + content)
        tmp.rename(self.directory / name)  # atomic: readers never see half a message
        return "250 Message accepted for delivery"


def start_in_thread(directory: Path, port: int, host: str = "127.0.0.1") -> Controller:
    """Start the mailbox in a background thread of this process (tests)."""
    controller = Controller(MailboxHandler(directory), hostname=host, port=port, decode_data=False)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--count-to", type=Path, help="only append 'time recipient' lines to this file")
    args = parser.parse_args(argv)
    if args.count_to:
        controller = Controller(CountingHandler(args.count_to), hostname=args.host, port=args.port)
        controller.start()
    else:
        controller = start_in_thread(args.dir, args.port, args.host)
    print(f"mailbox: SMTP on {args.host}:{args.port}, storing into {args.dir}", flush=True)
    stop = asyncio.Event()

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()


def read_messages(directory: Path) -> list[dict[str, Any]]:
    """Every stored message, parsed (oldest first)."""
    from email import policy
    from email.parser import BytesParser

    out: list[dict[str, Any]] = []
    if not directory.exists():
        return out
    for path in sorted(directory.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        out.append(
            {
                "path": path,
                "message": msg,
                "to": str(msg["X-Mailbox-Rcpt-To"] or ""),
                "subject": str(msg["Subject"] or ""),
            }
        )
    return out


if __name__ == "__main__":
    main()
