"""The e-mail channel: an SMTP listener on the service's own event loop (aiosmtpd). Each message becomes a
case once (its Message-ID is the idempotency key); an emergency is refused with a bounce that says 112."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import Counter

from intake.domain.email_channel import read_mail, to_submission

log = logging.getLogger(__name__)

MAILS = Counter("cc_intake_emails_total", "E-mails received on the contact address, by outcome", ["outcome"])
for _outcome in ("case", "duplicate", "emergency", "invalid", "error"):
    MAILS.labels(_outcome)

# (submission fields, idempotency key) -> ("case", number) | ("duplicate", number) | ("emergency"|"invalid", reason)
Acceptor = Callable[[dict[str, Any], str], Awaitable[tuple[str, str]]]


class MailHandler:
    def __init__(self, acceptor: Acceptor) -> None:
        self.acceptor = acceptor

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        try:
            message = BytesParser(policy=policy.default).parsebytes(raw)
            assert isinstance(message, EmailMessage)
            mail = read_mail(message, raw)
            outcome, detail = await self.acceptor(to_submission(mail), f"email:{mail.message_id}")
        except Exception:
            MAILS.labels("error").inc()
            log.exception("e-mail could not be turned into a case; the sender's server will retry")
            return "451 4.3.0 Temporary failure, please retry"
        MAILS.labels(outcome).inc()
        if outcome == "emergency":
            return "550 5.7.1 " + detail
        if outcome == "invalid":
            return "550 5.6.0 " + detail
        return f"250 OK case {detail}"


async def serve(host: str, port: int, acceptor: Acceptor, hostname: str = "intake.19115") -> None:
    loop = asyncio.get_running_loop()
    handler = MailHandler(acceptor)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname, data_size_limit=1_048_576), host=host, port=port
    )
    log.info("e-mail channel listening", extra={"host": host, "port": port})
    async with server:
        await server.serve_forever()
