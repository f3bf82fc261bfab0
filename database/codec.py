"""JSON as the event store writes it, and the jsonb codecs its connections need."""

from __future__ import annotations

import json
import math
from typing import Any

import asyncpg


def check_json(value: object) -> None:
    """Raise ValueError unless ``value`` survives a trip through PostgreSQL jsonb.

    Stricter than ``json.dumps``: dict keys must be strings (json.dumps would silently
    turn 1 into "1"), floats must be finite, and strings must not hold NUL characters
    or lone surrogates (jsonb and UTF-8 reject them). The message names the problem,
    never the offending value.
    """
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("holds a NaN or infinite number")
        return
    if isinstance(value, str):
        _check_text(value)
        return
    if isinstance(value, list | tuple):
        for item in value:
            check_json(item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"holds a mapping key of type {type(key).__name__}, not str")
            _check_text(key)
            check_json(item)
        return
    raise ValueError(f"holds a value of type {type(value).__name__}, which is not JSON")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("holds a string with a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds a string that is not valid Unicode") from None


def encode_json(value: object) -> str:
    """Compact JSON text; call ``check_json`` first for values from outside."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


async def init_connection(conn: asyncpg.Connection[Any]) -> None:
    """Pool ``init=`` hook: json and jsonb columns read as Python values, not text."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=encode_json, decoder=json.loads
        )
