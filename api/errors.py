"""Error answers in plain words: rejections by status, validation errors without the input.

Every error body is JSON with a `detail` in plain words. A domain rejection adds its `code`; a
malformed request adds `errors` (where, and what is wrong), never the values sent, which may
hold health data.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import PydanticKnownError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from domain import Rejection, RejectionCode

# Resolved at each use, so that it follows `configure_logging` (JSON, PHI dropped).
log = structlog.stdlib.get_logger("carepath.api")

STATUS_BY_CODE: dict[RejectionCode, int] = {
    RejectionCode.FORBIDDEN_ROLE: 403,
    RejectionCode.NOT_ASSIGNED: 403,
    RejectionCode.INVALID: 422,
    RejectionCode.NOT_STARTED: 404,
    RejectionCode.NOT_ALLOWED_NOW: 409,
    RejectionCode.CLOSED: 409,
    RejectionCode.ALREADY_STARTED: 409,
    RejectionCode.DECISION_ID_REUSED: 409,
    RejectionCode.NOT_RECORDED: 500,
}

UNAVAILABLE = "the workflow service is unavailable: try again shortly"


class ApiError(Exception):
    """An answer other than success, with its status and plain-words detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors
        self.headers = dict(headers or {})

    @classmethod
    def from_rejection(cls, rejection: Rejection) -> ApiError:
        return cls(STATUS_BY_CODE[rejection.code], rejection.reason, code=rejection.code.value)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.code is not None:
            body["code"] = self.code
        if self.errors is not None:
            body["errors"] = self.errors
        return body


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,60}")


def looks_like_field(name: object) -> bool:
    """A key that reads like a field name may be repeated in an answer; others may be data."""
    return isinstance(name, str) and _FIELD_NAME.fullmatch(name) is not None


def _location(loc: Sequence[Any]) -> str:
    """Where the error is; a key that does not look like a field name is not repeated."""
    parts = [
        str(part) if isinstance(part, int) or looks_like_field(part) else "(a key)" for part in loc
    ]
    return ".".join(parts) or "body"


# The context values pydantic fills its messages with that name limits and allowed values, never
# what was sent (`tag` of a union, `tz_actual`, ... are left out: they are the caller's input).
_LIMITS = frozenset(
    {
        "expected",
        "expected_tags",
        "discriminator",
        "pattern",
        "min_length",
        "max_length",
        "gt",
        "ge",
        "lt",
        "le",
        "multiple_of",
        "field_type",
        "max_digits",
        "decimal_places",
        "whole_digits",
    }
)
# Types whose `error` is our own validators' words (value_error), or a fixed description of
# what is wrong (dates, JSON), never a piece of the input (unlike uuid_parsing's, say).
_OWN_WORDS = frozenset({"value_error", "assertion_error"})
_DESCRIBED = frozenset(
    {
        "date_parsing",
        "date_from_datetime_parsing",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "time_parsing",
        "time_delta_parsing",
        "json_invalid",
    }
)


def _plain_message(error: Mapping[str, Any]) -> str:
    """What is wrong, from pydantic's error type and its limits (`ctx`): never from the input,
    so allowed values are quoted intact and nothing sent is repeated."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc = tuple(error.get("loc") or ())
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "the documented ones")
        return f"not a known value; expected one of {expected}"
    if kind == "union_tag_not_found":
        return f"the field {ctx.get('discriminator', 'type')} is required"
    if kind == "extra_forbidden" and loc and loc[-1] == "actor":
        return "the actor is the clinician of the bearer token: do not send it"
    if kind == "extra_forbidden":
        return "this field is not part of the request"
    if kind == "missing":
        return "this field is required"
    if kind in _OWN_WORDS and ctx.get("error") is not None:
        return str(ctx["error"])
    limits = {key: value for key, value in ctx.items() if key in _LIMITS}
    if kind in _DESCRIBED and "error" in ctx:
        limits["error"] = str(ctx["error"])
    try:
        return PydanticKnownError(kind, limits or None).message()  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):  # a custom type, or one that needs the input
        return f"not valid ({kind.replace('_', ' ') or 'unknown error'})"


def plain_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Where and what is wrong, in words that never repeat the values sent."""
    return [
        {"loc": _location(error.get("loc") or ()), "msg": _plain_message(error)} for error in errors
    ]


def invalid_request(errors: Iterable[Mapping[str, Any]]) -> ApiError:
    listed = plain_errors(errors)
    summary = "; ".join(f"{e['loc']}: {e['msg']}" for e in listed[:5]) or "the request"
    return ApiError(422, f"the request is not valid ({summary})", errors=listed)


def from_validation_error(error: ValidationError) -> ApiError:
    return invalid_request(error.errors(include_input=False, include_url=False))


def _json(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return _json(error)


def _request_validation(
    body_tags: frozenset[str],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = [_strip_body_tag(e, body_tags) for e in error.errors()]
        return _json(invalid_request(errors))

    return handle


def _strip_body_tag(error: Mapping[str, Any], body_tags: frozenset[str]) -> Mapping[str, Any]:
    """`body.record_screening.answers` reads better as `body.answers`."""
    loc = tuple(error.get("loc") or ())
    if len(loc) >= 2 and loc[0] == "body" and loc[1] in body_tags:
        return {**error, "loc": ("body", *loc[2:])}
    return error


# What the framework answers by itself (routing, reading the body), in plain words.
_FRAMEWORK_WORDS = {
    400: "the body could not be read as JSON: it must be UTF-8 text, its numbers at most "
    "4300 digits long, its nesting not too deep",
    404: "there is nothing at this address",
    405: "this address does not take this method",
}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    status = error.status_code
    try:
        phrase = HTTPStatus(status).phrase.lower()
    except ValueError:
        phrase = "the request was refused"
    detail = _FRAMEWORK_WORDS.get(status, phrase)
    headers = dict(error.headers or {})
    if status == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return _json(ApiError(status, detail, headers=headers))


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this address (Starlette names only the first route's),
    asked of each route through `BaseRoute.matches`, which included routers answer too."""
    allowed = {
        method
        for route in request.app.router.routes
        for method in _METHODS
        if route.matches({**request.scope, "method": method})[0] is Match.FULL
    }
    return ", ".join(sorted(allowed))


async def _temporal_unavailable(_: Request, error: Exception) -> JSONResponse:
    if isinstance(error, RPCError):
        log.warning("temporal call failed", rpc_status=error.status.name)
    else:
        log.warning("temporal call timed out", error=type(error).__name__)
    return _json(ApiError(HTTPStatus.SERVICE_UNAVAILABLE, UNAVAILABLE))


async def _runtime_error(request: Request, error: Exception) -> JSONResponse:
    """The Temporal client reports a lost connection as a RuntimeError ("Failed client connect")."""
    if "client connect" in str(error):
        return await _temporal_unavailable(request, error)
    log.error("request failed", error=type(error).__name__)
    return _json(ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, "the request could not be served"))


def install(app: FastAPI, body_tags: frozenset[str] = frozenset()) -> None:
    """Answer every error in plain words; `body_tags` are the discriminator tags of tagged-union
    bodies (the decisions), left out of an error's location."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation(body_tags))
    app.add_exception_handler(RPCError, _temporal_unavailable)
    app.add_exception_handler(RPCTimeoutOrCancelledError, _temporal_unavailable)
    app.add_exception_handler(RuntimeError, _runtime_error)
