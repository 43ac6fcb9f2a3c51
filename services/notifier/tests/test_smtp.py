"""The notifier's SMTP sending against real SMTP servers (aiosmtpd in this process, and a hand-made one for
replies no real server should give): pipelined and not, refusals, lost connections, STARTTLS, TLS, AUTH."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import AuthResult

from devstack.mailbox import MailboxHandler, start_in_thread
from devstack.testing import free_port
from notifier.adapters.senders import SMTP_CONNECTIONS, Mailer, PermanentFailure
from notifier.adapters.smtp import MailRefused
from notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


class PickyHandler(MailboxHandler):
    """Refuses some recipients for good (550), some for now (450), and some content (554)."""

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 No such user"
        if address.startswith("busy"):
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if b"X-Spam: yes" in (envelope.original_content or b""):
            return "554 5.7.1 Looks like spam"
        return await super().handle_DATA(server, session, envelope)


def stored(directory: Path) -> list[tuple[str, bytes]]:
    """(recipient, content as sent) of every message the server kept, oldest first."""
    out = []
    for path in sorted(directory.glob("*.eml")):
        raw = path.read_bytes()
        head, _, content = raw.partition(b"X-Mailbox-Mail-From: ")
        rcpt = head.split(b": ", 1)[1].strip().decode()
        out.append((rcpt, content.split(b"\r\n", 1)[1]))
    return out


def settings(port: int, **extra: Any) -> NotifierSettings:
    return NotifierSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_connections=1, **extra)


def message(to: str, body: str, *headers: str) -> bytes:
    lines = [f"To: {to}", "From: no-reply@19115.localhost", "Subject: test", *headers, "", body]
    return "\r\n".join(lines).encode()


def opened() -> float:
    return SMTP_CONNECTIONS._value.get()


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def picky(request: Any, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    controller = start_in_thread(
        tmp_path / "box", port, handler=PickyHandler(tmp_path / "box", pipelining=request.param)
    )
    yield port, tmp_path / "box"
    controller.stop()


async def test_messages_arrive_as_sent_over_one_connection(picky: tuple[int, Path]) -> None:
    port, box = picky
    mailer = Mailer(settings(port))
    before = opened()
    # a line starting with a dot, and one that is only a dot, must arrive as they were (dot-stuffing)
    bodies = [f"Message {i}\r\n.hidden line\r\n.\r\nend" for i in range(5)]
    for i, body in enumerate(bodies):
        await mailer.send(f"r{i}@example.org", message(f"r{i}@example.org", body))
    await mailer.close()
    got = stored(box)
    assert [r for r, _ in got] == [f"r{i}@example.org" for i in range(5)]
    for (_, content), body in zip(got, bodies, strict=True):
        assert message_from_bytes(content).get_payload() == body + "\r\n"
    assert opened() - before == 1  # one connection for all of them


async def test_refusals_say_whether_to_try_again_and_the_connection_stays_in_use(
    picky: tuple[int, Path],
) -> None:
    port, box = picky
    mailer = Mailer(settings(port))
    before = opened()
    with pytest.raises(PermanentFailure, match="550"):
        await mailer.send("nobody@example.org", message("nobody@example.org", "x"))
    with pytest.raises(MailRefused, match="450") as busy:
        await mailer.send("busy@example.org", message("busy@example.org", "x"))
    assert not busy.value.permanent  # the dispatcher retries it with backoff
    with pytest.raises(PermanentFailure, match="554"):
        await mailer.send("ok@example.org", message("ok@example.org", "x", "X-Spam: yes"))
    await mailer.send("fine@example.org", message("fine@example.org", "hello"))
    await mailer.close()
    assert [r for r, _ in stored(box)] == ["fine@example.org"]
    assert opened() - before == 1


async def test_an_address_that_cannot_go_on_a_command_line_is_refused_before_sending(
    picky: tuple[int, Path],
) -> None:
    port, box = picky
    mailer = Mailer(settings(port))
    with pytest.raises(PermanentFailure, match="not a mailbox"):
        await mailer.send("a@example.org> NOTIFY=NEVER", message("x@example.org", "x"))
    with pytest.raises(PermanentFailure, match="not a mailbox"):
        await mailer.send("a@example.org\r\nRCPT TO:<b@example.org>", message("x@example.org", "x"))
    await mailer.send("fine@example.org", message("fine@example.org", "hello"))
    await mailer.close()
    assert [r for r, _ in stored(box)] == ["fine@example.org"]


async def test_a_lost_server_raises_a_connection_error_and_the_next_send_reconnects(tmp_path: Path) -> None:
    port = free_port()
    controller = start_in_thread(tmp_path / "box", port)
    mailer = Mailer(settings(port))
    await mailer.send("a@example.org", message("a@example.org", "one"))
    controller.stop()
    with pytest.raises((ConnectionError, OSError)):
        await mailer.send("b@example.org", message("b@example.org", "two"))
    controller = start_in_thread(tmp_path / "box", port)
    try:
        await mailer.send("c@example.org", message("c@example.org", "three"))
        await mailer.close()
    finally:
        controller.stop()
    assert [r for r, _ in stored(tmp_path / "box")] == ["a@example.org", "c@example.org"]


async def test_a_reply_that_makes_no_sense_closes_the_connection() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 odd ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-odd\r\n250 PIPELINING\r\n")
        await reader.readline()
        writer.write(b"hello there\r\n")  # not a reply
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mailer = Mailer(settings(port, smtp_timeout_s=5))
    with pytest.raises(ConnectionAbortedError, match="malformed"):
        await mailer.send("a@example.org", message("a@example.org", "x"))
    await mailer.close()
    server.close()
    await server.wait_closed()


async def test_a_silent_server_times_out_and_the_connection_is_closed() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 slow ESMTP\r\n")
        await reader.readline()
        writer.write(b"250 slow\r\n")
        await reader.read()  # never answers MAIL
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mailer = Mailer(settings(port, smtp_timeout_s=0.5))
    with pytest.raises(TimeoutError):
        await mailer.send("a@example.org", message("a@example.org", "x"))
    assert mailer._idle.empty()
    assert mailer._open == 0
    server.close()
    await server.wait_closed()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = auth_data.login == b"notifier" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_and_login_then_pipelined_messages(
    mode: str, certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tls_and_login(mode, certificate, tmp_path, monkeypatch)


@pytest.mark.parametrize("mode", ["plain", "starttls", "tls"])
def test_the_same_on_uvloop_the_services_event_loop(
    mode: str, certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn runs the services on uvloop, whose transports are not asyncio's: taking one over must work
    there too, with and without TLS."""
    import uvloop

    async def plain() -> None:
        port = free_port()
        controller = start_in_thread(tmp_path / "box", port)
        try:
            mailer = Mailer(settings(port))
            for i in range(3):
                await mailer.send(f"r{i}@example.org", message(f"r{i}@example.org", f"hello {i}"))
            with pytest.raises(PermanentFailure):
                await mailer.send("a@example.org> X", message("x@example.org", "x"))
            await mailer.close()
        finally:
            controller.stop()
        assert [r for r, _ in stored(tmp_path / "box")] == [f"r{i}@example.org" for i in range(3)]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert "uvloop" in type(runner.get_loop()).__module__
        if mode == "plain":
            runner.run(plain())
        else:
            runner.run(tls_and_login(mode, certificate, tmp_path, monkeypatch))


async def tls_and_login(
    mode: str, certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's own authority
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    if mode == "starttls":  # AUTH offered only after STARTTLS
        tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    else:  # the whole connection is TLS (aiosmtpd's auth_require_tls knows only STARTTLS)
        tls = {"ssl_context": context, "auth_require_tls": False}
    controller = start_in_thread(tmp_path / "box", port, authenticator=authenticator, **tls)
    try:
        mailer = Mailer(
            settings(
                port,
                smtp_starttls=mode == "starttls",
                smtp_tls=mode == "tls",
                smtp_username="notifier",
                smtp_password="s3cret",
            )
        )
        for i in range(3):
            await mailer.send(f"r{i}@example.org", message(f"r{i}@example.org", f"secret {i}"))
        link = mailer._idle.get_nowait()
        assert link.pipelining
        assert link.transport.get_extra_info("sslcontext") is not None
        mailer._idle.put_nowait(link)
        await mailer.close()

        wrong = Mailer(settings(port, smtp_starttls=mode == "starttls", smtp_tls=mode == "tls",
                                smtp_username="notifier", smtp_password="wrong"))  # fmt: skip
        with pytest.raises(aiosmtplib.SMTPAuthenticationError, match="535"):
            await wrong.send("x@example.org", message("x@example.org", "never"))
    finally:
        controller.stop()
    assert [r for r, _ in stored(tmp_path / "box")] == [f"r{i}@example.org" for i in range(3)]
