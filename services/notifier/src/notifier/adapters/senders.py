"""Channels out: a few reused SMTP connections (opened by aiosmtplib, messages sent by `smtp.SmtpLink`) and
the push gateway (HTTP)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import aiosmtplib
import httpx
from prometheus_client import Counter

from notifier.adapters.smtp import MailRefused, SmtpLink
from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

SMTP_CONNECTIONS = Counter("cc_notifier_smtp_connections_total", "SMTP connections opened (one is reused)")


class PermanentFailure(Exception):
    """The message can never be delivered (e.g. the address is refused); no retry."""


class Mailer:
    """A small pool of SMTP connections, each reused for message after message (opened on first need)."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self._from_header = _header_address(settings.mail_from)
        self._envelope_from = parseaddr(settings.mail_from)[1]
        self._idle: asyncio.Queue[SmtpLink] = asyncio.Queue()
        self._open = 0
        self._changed = asyncio.Condition()

    async def _connect(self) -> SmtpLink:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_s,
        )
        await smtp.connect()
        try:
            if s.smtp_username and s.smtp_password:
                await smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            link = await SmtpLink.take_over(smtp, s.smtp_timeout_s)
        except BaseException:
            smtp.close()
            raise
        SMTP_CONNECTIONS.inc()
        return link

    async def _take(self) -> SmtpLink:
        while True:
            while not self._idle.empty():
                link = self._idle.get_nowait()
                if link.is_connected:
                    return link
                self._open -= 1
            if self._open < self.settings.smtp_connections:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    raise
            async with self._changed:
                await self._changed.wait()

    async def _give_back(self, link: SmtpLink | None) -> None:
        if link is not None:
            self._idle.put_nowait(link)
        else:
            self._open -= 1
        async with self._changed:
            self._changed.notify()

    def build(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        message_id: str,
        unsubscribe_url: str | None,
    ) -> bytes:
        """The message as bytes (multipart/alternative, UTF-8 in base64, RFC 2047 subject). Built directly:
        the email package's header registry costs more CPU than everything else in the notifier."""
        boundary = "=_cc_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
        headers = [
            f"From: {self._from_header}",
            f"To: {to}",
            f"Subject: {encoded_words(subject)}",
            f"Date: {format_datetime(datetime.now(UTC))}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
        ]
        if unsubscribe_url:
            headers.append(f"List-Unsubscribe: <{unsubscribe_url}>")
        if not html:
            headers += ['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: base64"]
            body = _b64(text)
        else:
            headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            body = (
                "".join(
                    f'--{boundary}\r\nContent-Type: {kind}; charset="utf-8"\r\n'
                    f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(content)}"
                    for kind, content in (("text/plain", text), ("text/html", html))
                )
                + f"--{boundary}--\r\n"
            )
        return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")

    async def send(self, to: str, message: bytes) -> None:
        """One message to one address. PermanentFailure when the server refuses the address or the message
        for good (5xx); other refusals (4xx, the sender refused) raise MailRefused to be retried; a lost
        connection raises ConnectionError or TimeoutError."""
        link = await self._take()
        try:
            await link.send(self._envelope_from, to, message)
        except MailRefused as exc:
            await self._give_back(link)
            if exc.permanent and exc.stage != "MAIL FROM":
                raise PermanentFailure(f"refused: {exc}") from exc
            raise
        except BaseException:
            await self._give_back(None)
            raise
        await self._give_back(link)

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().quit()
        self._open = 0


def _b64(text: str) -> str:
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")


def encoded_words(text: str) -> str:
    """An RFC 2047 header value: ASCII as it is, anything else as base64 UTF-8 encoded-words of at most 75
    characters each, split on character boundaries, folded onto continuation lines."""
    if text.isascii() and len(text) <= 900:
        return text
    words, chunk = [], b""
    for char in text:
        piece = char.encode("utf-8")
        if len(chunk) + len(piece) > 45:  # 45 bytes -> 60 base64 characters + 12 of wrapping = 72
            words.append(chunk)
            chunk = b""
        chunk += piece
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _header_address(value: str) -> str:
    name, address = parseaddr(value)
    if name and not name.isascii():
        return formataddr((Header(name, "utf-8").encode(), address))
    return formataddr((name, address))


class PushGateway:
    def __init__(self, settings: NotifierSettings) -> None:
        self.url = settings.push_gateway_url
        token = settings.push_gateway_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self._client = httpx.AsyncClient(timeout=10.0, headers=headers)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    async def send(self, token: str, title: str, body: str, data: dict[str, Any]) -> None:
        if not self.url:
            raise PermanentFailure("no push gateway configured")
        response = await self._client.post(
            self.url, json={"token": token, "title": title, "body": body, "data": data}
        )
        if response.status_code in (400, 404, 410):
            raise PermanentFailure(f"push gateway refused the token ({response.status_code})")
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()
