"""Real local servers standing in for the third parties: an SMTP server (aiosmtpd) and a tiny
HTTP/1.1 server (asyncio) for the SMS gateway and the referral partner. Both listen on
127.0.0.1 on an ephemeral port and record what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http import HTTPStatus
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from chaos.stack import EphemeralController
from devstack.ports import free_port


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    return free_port()


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def body(self) -> str:
        content = self.message.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")  # lines end in CRLF on the wire

    @property
    def text(self) -> str:
        """Headers and body as sent, decoded: what a reader of the raw message could see."""
        return self.raw.decode("utf-8", errors="replace")


class MailHandler:
    """Collects delivered mail; answers RCPT or DATA with scripted replies when given some."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.rcpt_replies: list[str | None] = []  # one per RCPT: "451 ..." or None (accept)
        self.data_replies: list[str] = []  # e.g. "554 5.7.1 Refused": one per DATA
        self.refused_addresses: dict[str, str] = {}  # address -> reply, every time

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refused_addresses:
            return self.refused_addresses[address]
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        content = envelope.original_content or b""
        assert isinstance(content, bytes)
        self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.handler = MailHandler()
        self._controller = EphemeralController(self.handler, hostname="127.0.0.1", port=0)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def mails(self) -> list[Mail]:
        return self.handler.mails


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer: hold the connection until the client gives up

    @classmethod
    def json(cls, status: int, payload: Any) -> Reply:
        return cls(status, json.dumps(payload).encode())


class HttpServer:
    """Records every request; answers with the scripted replies in turn, then `default`."""

    def __init__(self, default: Reply | None = None) -> None:
        self.requests: list[Request] = []
        self.replies: list[Reply] = []
        self.default = default or Reply(200, b"{}")
        self._server: asyncio.Server | None = None
        self._port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self._port}{path}"

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read(reader)
            if request is None:
                return
            self.requests.append(request)
            reply = self.replies.pop(0) if self.replies else self.default
            if reply.hang:
                await reader.read()  # returns once the client closes the connection
                return
            phrase = HTTPStatus(reply.status).phrase
            head = [
                f"HTTP/1.1 {reply.status} {phrase}",
                f"Content-Type: {reply.content_type}",
                f"Content-Length: {len(reply.body)}",
                "Connection: close",
                *(f"{name}: {value}" for name, value in reply.headers.items()),
            ]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        start = await reader.readline()
        if not start:
            return None
        method, path, _version = start.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, path, headers, body)
