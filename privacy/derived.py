"""Keys derived from a payload key, one per purpose, and the unpadded base64url they travel in.

The Temporal payload codec (``privacy.codec``) uses each payload key as-is; everything else uses
HMAC-SHA256(key, purpose) with one of the purposes below, so no two uses share a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12

SURVEY_LINK = b"carepath survey link v2"  # privacy.links
SEALED_FIELD = b"carepath sealed field v1"  # privacy.fields
KEY_CHECK = b"carepath key check v1"  # key_check: tells two keys with one id apart
PURPOSES = (SURVEY_LINK, SEALED_FIELD, KEY_CHECK)


def derived_key(key: bytes, purpose: bytes) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError("an unknown purpose")
    return hmac.new(key, purpose, hashlib.sha256).digest()


def derived_cipher(key: bytes, purpose: bytes) -> AESGCM:
    """AES-256-GCM under the key derived for ``purpose``."""
    return AESGCM(derived_key(key, purpose))


def key_check(key: bytes) -> str:
    """A value that names this key without revealing it: stored beside its id, so a process
    given another key under the same id is refused before it seals anything."""
    return derived_key(key, KEY_CHECK)[:16].hex()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Raises ``binascii.Error`` (a ValueError) for text that is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
