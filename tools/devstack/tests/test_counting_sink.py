"""The benchmark's SMTP sink speaks real SMTP: aiosmtplib and the notifier's pipelined sender deliver to it, and it
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


async def test_the_notifiers_pipelined_sending_is_counted_once_each() -> None:
    """The notifier sends MAIL FROM, RCPT TO and DATA in one write when a server offers PIPELINING, as this
    one does; each message is still counted once, in order."""
    from notifier.adapters.senders import Mailer
    from notifier.settings import NotifierSettings

    out = io.StringIO()
    server = await asyncio.get_running_loop().create_server(lambda: CountingSink(out), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mailer = Mailer(NotifierSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_connections=1))
    try:
        for n in range(20):
            await mailer.send(f"r{n}@example.org", f"Message-ID: <p{n}@cc>\r\n\r\n.dot first\r\n".encode())
        link = mailer._idle.get_nowait()
        assert link.pipelining
        await link.quit()
    finally:
        server.close()
        await server.wait_closed()
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [f"r{n}@example.org <p{n}@cc>" for n in range(20)]
