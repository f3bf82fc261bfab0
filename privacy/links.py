"""Survey links for clients: a check-in's id, encrypted with a key derived from the payload keys.

A link is the only credential a client has for their check-in, so it must not be forged,
altered or read: ``<key id>.<base64url(nonce + AES-256-GCM(check-in id))>``. The link key is
derived from a payload key (never used as-is for two purposes); links made with a key stay
valid while that key is in the ring. A link answers only while its check-in is open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.keys import KeyRing

_PURPOSE = b"carepath survey link v2"
_NONCE_BYTES = 12
_CHECK_IN_ID = re.compile(r"followup-[A-Za-z0-9_.:-]{1,400}")
TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]{1,1000}$"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cipher(key: bytes) -> AESGCM:
    return AESGCM(hmac.new(key, _PURPOSE, hashlib.sha256).digest())


def survey_token(ring: KeyRing, check_in_id: str) -> str:
    """A link token for check-in ``check_in_id`` (its workflow id), made with the newest key."""
    if _CHECK_IN_ID.fullmatch(check_in_id) is None:
        raise ValueError("not a check-in id")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(ring.keys[ring.current]).encrypt(
        nonce, check_in_id.encode(), ring.current.encode()
    )
    return f"{ring.current}.{_b64(nonce + sealed)}"


def check_in_of(ring: KeyRing, token: str) -> str | None:
    """The check-in a token names, or None for anything not made by ``survey_token``."""
    key_id, dot, body = token.rpartition(".")
    key = ring.keys.get(key_id) if dot else None
    if key is None:
        return None
    try:
        raw = _unb64(body)
        opened = _cipher(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], key_id.encode())
        check_in_id = opened.decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeError):
        return None
    return check_in_id if _CHECK_IN_ID.fullmatch(check_in_id) else None
