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


class CountingSink(asyncio.Protocol):
    """The benchmark's SMTP server: a small but real ESMTP server (RFC 5321 commands, pipelined input
    welcome) that appends `time recipient message-id` per received message to a file. aiosmtpd cost about
    1.3 ms of CPU per message, on the cores the measured system shares with it; this costs a fraction."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.buffer = b""
        self.data = False
        self.rcpts: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reply(b"220 bench-sink ESMTP")

    def reply(self, line: bytes) -> None:
        assert self.transport is not None
        self.transport.write(line + b"\r\n")

    def data_received(self, chunk: bytes) -> None:
        self.buffer += chunk
        while True:
            if self.data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.message(self.buffer[:end])
                self.buffer = self.buffer[end + 5 :]
                self.data = False
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            self.command(line)

    def command(self, line: bytes) -> None:
        verb = line[:4].upper()
        if verb == b"EHLO":
            self.reply(
                b"250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 33554432"
            )
        elif verb in (b"HELO", b"NOOP"):
            self.reply(b"250 OK")
        elif verb in (b"MAIL", b"RSET"):
            self.rcpts = []
            self.reply(b"250 OK")
        elif verb == b"RCPT":
            found = re.search(rb"<([^>]*)>", line)
            if not found:
                self.reply(b"501 Syntax: RCPT TO:<address>")
                return
            self.rcpts.append(found.group(1).decode(errors="replace"))
            self.reply(b"250 OK")
        elif verb == b"DATA":
            if not self.rcpts:
                self.reply(b"503 Error: need RCPT command")
                return
            self.data = True
            self.buffer = b"\r\n" + self.buffer  # the terminator may follow at once
            self.reply(b"354 End data with <CR><LF>.<CR><LF>")
        elif verb == b"QUIT":
            self.reply(b"221 Bye")
            assert self.transport is not None
            self.transport.close()
        else:
            self.reply(b"502 Command not implemented")

    def message(self, content: bytes) -> None:
        now = time.time()
        head = content.split(b"\r\n\r\n", 1)[0]
        found = re.search(rb"(?im)^message-id:\s*(\S+)", head)
        message_id = found.group(1).decode(errors="replace") if found else "-"
        for rcpt in self.rcpts:
            self.out.write(f"{now:.6f} {rcpt} {message_id}\n")
        self.rcpts = []
        self.reply(b"250 OK")


class MailboxHandler:
    def __init__(self, directory: Path, pipelining: bool = True) -> None:
        self.directory = directory
        self.pipelining = pipelining
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_EHLO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd reads pipelined commands in order (RFC 2920) but does not say so; this says so, as a
        mail relay such as Postfix does."""
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [responses[0], "250-PIPELINING", *responses[1:]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        content = envelope.original_content or b""
        rcpts = ", ".join(envelope.rcpt_tos)
        header = f"X-Mailbox-Rcpt-To: {rcpts}\r\nX-Mailbox-Mail-From: {envelope.mail_from}\r\n".encode()
        tmp.write_bytes(header + content)
        tmp.rename(self.directory / name)  # atomic: readers never see half a message
        return "250 Message accepted for delivery"


def start_in_thread(
    directory: Path,
    port: int,
    host: str = "127.0.0.1",
    pipelining: bool = True,
    handler: MailboxHandler | None = None,
    **options: Any,
) -> Controller:
    """Start the mailbox in a background thread of this process (tests); `handler` replaces the plain one
    (a test's own refusals), `options` go to aiosmtpd's SMTP (ssl_context, tls_context, authenticator, ...)."""
    controller = Controller(
        handler or MailboxHandler(directory, pipelining),
        hostname=host,
        port=port,
        decode_data=False,
        **options,
    )
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
        asyncio.run(_count(args.host, args.port, args.count_to))
        return
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


async def _count(host: str, port: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", buffering=1) as out:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: CountingSink(out), host, port)
        print(f"mailbox: SMTP on {host}:{port}, counting into {path}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()


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
