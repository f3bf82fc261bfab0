"""Where messages go: email through SMTP and SMS through an HTTP gateway, each behind `Channel`."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import quote

import httpx

from domain.notifications import Recipient


class ChannelError(Exception):
    """A send that may succeed if tried again (the server is down, a timeout)."""


class RejectedMessage(Exception):
    """A send the server refused for good (bad address, bad request): do not retry."""


class Channel(Protocol):
    name: str

    async def send(self, to: str, subject: str, body: str, key: str) -> None: ...


def channel_for(
    channels: Mapping[str, Channel],
    *,
    email: str | None,
    phone: str | None,
    recipient: Recipient,
    urgent: bool,
) -> tuple[Channel, str] | None:
    """The channel and address a message goes out on: SMS first for a client or an urgent
    message, else email first; the other when the first has no channel or no address."""
    options = [(channels.get("sms"), phone), (channels.get("email"), email)]
    if not (recipient is Recipient.CLIENT or urgent):
        options.reverse()
    for channel, address in options:
        if channel is not None and address:
            return channel, address
    return None


def message_id(key: str) -> str:
    """The Message-ID for the message with idempotency key `key`: the same key, the same id.

    Keys hold ':' (`<event id>:<role>:<template>:<recipient id>`), which RFC 5322 does not allow
    in a msg-id; Python's email package then cuts the header at the first ':', so every message
    caused by one event went out with the same broken id. Percent-encoding everything but
    letters, digits, '-' and '_' gives a valid id that maps back to exactly one key.
    """
    return f"<{quote(key, safe='-_')}@carepath>"


def _permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpChannel:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    def _send_blocking(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            # 4xx (greylisting, mailbox busy) is temporary: only a 5xx refusal is for good.
            if all(_permanent(code) for code, _ in error.recipients.values()):
                raise RejectedMessage("the mail server refused the recipient") from error
            raise ChannelError("the mail server deferred the recipient") from error
        except smtplib.SMTPDataError as error:
            if _permanent(error.smtp_code):
                raise RejectedMessage("the mail server refused the message") from error
            raise ChannelError("the mail server deferred the message") from error
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelError(f"mail server unavailable: {type(error).__name__}") from error

    async def send(self, to: str, subject: str, body: str, key: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        try:
            # Refuses a line break in an address (header injection) with ValueError.
            message["To"] = to
        except ValueError:
            raise RejectedMessage("the address is not a valid header value") from None
        message["Subject"] = subject
        # Derived from the idempotency key, it lets receivers drop a duplicate after a crash.
        message["Message-ID"] = message_id(key)
        message.set_content(body)
        await asyncio.to_thread(self._send_blocking, message)


class SmsGatewayChannel:
    name = "sms"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self._url, self._token, self._timeout = url, token, timeout

    async def send(self, to: str, subject: str, body: str, key: str) -> None:
        headers = {"Idempotency-Key": key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    self._url, json={"to": to, "body": body}, headers=headers
                )
        except httpx.HTTPError as error:
            raise ChannelError(f"SMS gateway unavailable: {type(error).__name__}") from error
        status = response.status_code
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in (408, 429):
            raise RejectedMessage(f"SMS gateway refused the message ({status})")
        # 5xx, 408, 429, and 3xx (a redirect is not a send; httpx does not follow it): retry.
        raise ChannelError(f"SMS gateway answered {status}")
