"""Where messages go: email through SMTP and SMS through an HTTP gateway, each behind `Channel`."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol

import httpx


class ChannelError(Exception):
    """A send that may succeed if tried again (the server is down, a timeout)."""


class RejectedMessage(Exception):
    """A send the server refused for good (bad address, bad request): do not retry."""


class Channel(Protocol):
    name: str

    async def send(self, to: str, subject: str, body: str, key: str) -> None: ...


class SmtpChannel:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    def _send_blocking(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise RejectedMessage("the mail server refused the recipient") from error
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelError(f"mail server unavailable: {type(error).__name__}") from error

    async def send(self, to: str, subject: str, body: str, key: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        # The idempotency key as Message-ID lets receivers drop a duplicate after a crash.
        message["Message-ID"] = f"<{key}@carepath>"
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
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelError(f"SMS gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise RejectedMessage(f"SMS gateway refused the message ({response.status_code})")
