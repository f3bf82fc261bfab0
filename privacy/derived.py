"""What survey links and sealed fields share: a key derived per purpose, and unpadded base64url."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def derived_cipher(key: bytes, purpose: bytes) -> AESGCM:
    """AES-256-GCM under HMAC-SHA256(key, purpose): a payload key is never used as-is twice."""
    return AESGCM(hmac.new(key, purpose, hashlib.sha256).digest())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Raises ``binascii.Error`` (a ValueError) for text that is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
