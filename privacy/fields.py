"""Sealed text fields: contact details and note texts, encrypted at rest in PostgreSQL.

A sealed value is ``f1.<key id>.<base64url(nonce + AES-256-GCM(text))>``. The field key is
derived from a payload key for this purpose only (HMAC-SHA256), never the payload key itself.
The associated data binds a value to its key id, its column (``table.column``) and its row, so
a value copied into another row or column does not open. The newest key seals; every key in
the ring opens what it sealed, so ``carepath keys reseal`` can move old rows to the newest key.

Pure: no I/O. Errors name the column and the key id, never a key or a text.
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag

from privacy.derived import NONCE_BYTES, SEALED_FIELD, b64url, derived_cipher, unb64url
from privacy.keys import KEY_ID, KeyRing

_VERSION = "f1"


class SealedFieldError(ValueError):
    """A sealed value that cannot be opened. The message never shows a key or a text."""


class UnknownFieldKeyError(SealedFieldError):
    """Sealed with a key that is not in the key ring (or no key ring is configured)."""


class TamperedFieldError(SealedFieldError):
    """Altered, moved from another row or column, or not a sealed value at all."""


def _associated(key_id: str, column: str, row: str) -> bytes:
    return json.dumps([_VERSION, key_id, column, row]).encode()


def seal_field(ring: KeyRing, text: str, *, column: str, row: str) -> str:
    """``text`` sealed with the newest key, for ``column`` (``table.column``) of ``row``."""
    key_id = ring.current
    nonce = os.urandom(NONCE_BYTES)
    sealed = derived_cipher(ring.keys[key_id], SEALED_FIELD).encrypt(
        nonce, text.encode(), _associated(key_id, column, row)
    )
    return f"{_VERSION}.{key_id}.{b64url(nonce + sealed)}"


def key_id_of(sealed: str) -> str:
    """The id of the key that sealed ``sealed``. Raises ``TamperedFieldError``."""
    parts = sealed.split(".")
    if len(parts) != 3 or parts[0] != _VERSION or not KEY_ID.fullmatch(parts[1]) or not parts[2]:
        raise TamperedFieldError("not a sealed value")
    return parts[1]


def bound_row(*ids: str) -> str:
    """The row a value is bound to, from ids of the row that never change (its key first):
    a value moved to a row differing in any of them does not open."""
    return ids[0] if len(ids) == 1 else json.dumps(list(ids))


def open_field(ring: KeyRing | None, sealed: str, *, column: str, row: str) -> str:
    """The text sealed for ``column`` of ``row``. Raises ``SealedFieldError``."""
    key_id = key_id_of(sealed)
    key = ring.keys.get(key_id) if ring is not None else None
    if key is None:
        raise UnknownFieldKeyError(
            f"{column} was sealed with key {key_id!r}, which is not in the payload key ring"
        )
    try:
        raw = unb64url(sealed.rpartition(".")[2])
        opened = derived_cipher(key, SEALED_FIELD).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(key_id, column, row)
        )
        return opened.decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeError):
        raise TamperedFieldError(
            f"a sealed {column} failed authentication (altered, or from another row or column)"
        ) from None


def _looks_sealed(value: str) -> bool:
    """Shaped as a sealed value, with room for a nonce and a tag: no plain name or address is."""
    try:
        key_id_of(value)
        return len(unb64url(value.rpartition(".")[2])) >= NONCE_BYTES + 16
    except (TamperedFieldError, ValueError):
        return False


def seal_row(
    ring: KeyRing | None, values: Mapping[str, str | None], *, table: str, row: str
) -> tuple[str | None, dict[str, str | None]]:
    """A row's text columns sealed, and the key id that sealed them (None: nothing sealed).

    Without a key ring the values stay plaintext, as they were before sealing existed.
    """
    if ring is None or all(value is None for value in values.values()):
        return None, dict(values)
    sealed = {
        name: None if value is None else seal_field(ring, value, column=f"{table}.{name}", row=row)
        for name, value in values.items()
    }
    return ring.current, sealed


def open_row(
    ring: KeyRing | None,
    values: Mapping[str, str | None],
    *,
    sealed_with: str | None,
    table: str,
    row: str,
) -> dict[str, str | None]:
    """A row's text columns opened; ``sealed_with`` None means legacy plaintext, kept as is.

    Every value must name the row's key (``sealed_with``), so the marker that
    ``carepath keys reseal`` selects rows by tells the truth.
    """
    if sealed_with is None:
        if any(value is not None and _looks_sealed(value) for value in values.values()):
            raise TamperedFieldError(f"a sealed {table} value has lost its key marker")
        return dict(values)
    opened: dict[str, str | None] = {}
    for name, value in values.items():
        column = f"{table}.{name}"
        if value is not None and key_id_of(value) != sealed_with:
            raise TamperedFieldError(f"a sealed {column} names another key than its row")
        opened[name] = None if value is None else open_field(ring, value, column=column, row=row)
    return opened
