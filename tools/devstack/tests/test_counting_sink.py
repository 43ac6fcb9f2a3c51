"""The benchmark's SMTP sink speaks real SMTP: the notifier's client (aiosmtplib) delivers to it, and it
records each message's recipients and Message-ID once."""

from __future__ import annotations

import asyncio
import io

import aiosmtplib

from devstack.mailbox import CountingSink


async def test_messages_over_one_connection_are_counted_once_each() -> None:
    out = io.StringIO()
    server = await asyncio.get_running_loop().create_server(lambda: CountingSink(out), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for n in range(3):
            body = f"Message-ID: <m{n}@cc>\r\nSubject: {n}\r\n\r\nline\r\n..stuffed dot\r\n".encode()
            await smtp.sendmail("cc@example.org", [f"r{n}@example.org", "copy@example.org"], body)
        refused = await smtp.execute_command(b"DATA")
        assert refused.code == 503  # no recipient yet
        await smtp.quit()
    finally:
        server.close()
        await server.wait_closed()
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        line for n in range(3) for line in (f"r{n}@example.org <m{n}@cc>", f"copy@example.org <m{n}@cc>")
    ]
