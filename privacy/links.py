"""Survey links for clients: a check-in's id, encrypted with a key derived from the payload keys.

A link is the only credential a client has for their check-in, so it must not be forged,
altered or read: ``<key id>.<base64url(nonce + AES-256-GCM(check-in id))>``. The link key is
derived from a payload key (never used as-is for two purposes); links made with a key stay
valid while that key is in the ring. A link answers only while its check-in is open.
"""

from __future__ import annotations

import binascii
import os
import re

from cryptography.exceptions import InvalidTag

from privacy.derived import NONCE_BYTES, SURVEY_LINK, b64url, derived_cipher, unb64url
from privacy.keys import KeyRing

# `followup-<journey id>-<check-in>`; another clinic's than "default": `followup-<clinic>~...`.
_CHECK_IN_ID = re.compile(r"followup-[A-Za-z0-9_.:~-]{1,400}")
TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]{1,1000}$"


def survey_token(ring: KeyRing, check_in_id: str) -> str:
    """A link token for check-in ``check_in_id`` (its workflow id), made with the newest key."""
    if _CHECK_IN_ID.fullmatch(check_in_id) is None:
        raise ValueError("not a check-in id")
    nonce = os.urandom(NONCE_BYTES)
    sealed = derived_cipher(ring.keys[ring.current], SURVEY_LINK).encrypt(
        nonce, check_in_id.encode(), ring.current.encode()
    )
    return f"{ring.current}.{b64url(nonce + sealed)}"


def check_in_of(ring: KeyRing, token: str) -> str | None:
    """The check-in a token names, or None for anything not made by ``survey_token``."""
    key_id, dot, body = token.rpartition(".")
    key = ring.keys.get(key_id) if dot else None
    if key is None:
        return None
    try:
        raw = unb64url(body)
        opened = derived_cipher(key, SURVEY_LINK).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode()
        )
        check_in_id = opened.decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeError):
        return None
    return check_in_id if _CHECK_IN_ID.fullmatch(check_in_id) else None
