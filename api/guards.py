"""The API's HTTP-level protections, ahead of every route (`install(app, settings)`).

`Guards`, one ASGI middleware:

- every response carries `Cache-Control: no-store` and `X-Content-Type-Options: nosniff` (journeys,
  notes, outcomes and even errors may carry health data: no cache keeps them, no browser guesses
  their type) and no `Server` header; also a 500 for an exception no handler took;
- a request larger than `CAREPATH_MAX_REQUEST_BYTES` is answered 413 before its body is read:
  at once when its Content-Length says so, else (a chunked body) as soon as the bytes received
  pass the limit;
- a JSON body that repeats a key (`{"type": "resume", ..., "type": "withdraw"}`) is answered 400:
  which one counts would be a guess. The body is read once, here, and the same bytes are handed
  on to the route, whose own parsing sees exactly what was checked.

`FailureThrottle` counts failed sign-ins per client address; `api.auth` asks it before it looks
a token up, and answers 429 with Retry-After while an address is throttled.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, looks_like_field
from config.settings import Settings

# Resolved at each use, so that it follows `configure_logging` (JSON, PHI dropped).
log = structlog.stdlib.get_logger("carepath.api")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
_REPLACED = frozenset({b"server", *(name for name, _ in SECURITY_HEADERS)})


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request is too large: at most {limit} bytes are accepted")


def repeated_key(key: str) -> ApiError:
    which = f'the key "{key}"' if looks_like_field(key) else "a key"
    return ApiError(400, f"the body repeats {which}: send each key of an object once")


class _Refused(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.detail)
        self.error = error


class _Gone(Exception):
    """The client disconnected before its body arrived: there is no one to answer."""


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        super().__init__("repeated key")
        self.key = key


def _secured(headers: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    kept = [(bytes(k), bytes(v)) for k, v in headers if bytes(k).lower() not in _REPLACED]
    return [*kept, *SECURITY_HEADERS]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this body as JSON: no content type, or a JSON one."""
    content_type = _header(scope, b"content-type")
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)
    return dict(pairs)


def first_repeated_key(body: bytes) -> str | None:
    """The first key that an object of this JSON repeats; None also when it is not JSON (the
    route then says what is wrong with it)."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _Repeated as repeated:
        return repeated.key
    except (ValueError, RecursionError):  # not JSON, not UTF-8, numbers too long, too deep
        return None
    return None


async def _answer(send: Send, error: ApiError) -> None:
    response = JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)
    await send(
        {"type": "http.response.start", "status": error.status, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


class Guards:
    """Security headers on every response, the body size limit, no repeated JSON keys."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": _secured(message.get("headers") or ())}
            await send(message)

        try:
            body = await self._body(scope, receive)
            if body and _is_json(scope):
                key = first_repeated_key(body)
                if key is not None:
                    raise _Refused(repeated_key(key))
        except _Refused as refused:
            await _answer(send_secured, refused.error)
            return
        except _Gone:
            return
        try:
            await self.app(scope, _replay(body, receive), send_secured)
        except Exception as error:
            if not started:  # the error is still logged by the server (raised again)
                log.error("request failed", error=type(error).__name__)
                await _answer(send_secured, ApiError(500, "the request could not be served"))
            raise

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused as soon as it is known to be too large."""
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise _Refused(ApiError(400, "the Content-Length header is not a number"))
            if int(declared) > self.max_body_bytes:
                raise _Refused(too_large(self.max_body_bytes))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refused(too_large(self.max_body_bytes))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once; then the client's own messages (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class FailureThrottle:
    """Failed sign-ins per source (a client address), in this process's memory.

    A source with `limit` failures within the last `window` seconds is refused until the oldest
    of them is `window` old. At most `max_sources` sources are tracked (the least recently
    failing are forgotten first), so many addresses cannot exhaust memory.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_sources = max_sources
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, source: str) -> int | None:
        """Whole seconds until `source` may try again; None when it may now."""
        failures = self._failures.get(source)
        if failures is None:
            return None
        now = self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[source]
            return None
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, source: str) -> None:
        failures = self._failures.pop(source, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures[source] = failures
        while len(self._failures) > self.max_sources:
            self._failures.popitem(last=False)


def install(app: FastAPI, settings: Settings) -> None:
    """The guards around every route, and the app's sign-in throttle (`api.auth`)."""
    app.state.auth_throttle = FailureThrottle(
        settings.auth_failure_limit, settings.auth_failure_window
    )
    app.add_middleware(Guards, max_body_bytes=settings.max_request_bytes)
