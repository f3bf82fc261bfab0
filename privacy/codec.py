"""AES-256-GCM payload codec with a key id in every payload, for key rotation.

Every payload Temporal stores or shows — workflow and activity inputs and results, signals,
updates, queries, memos, summaries and current details — passes through it, so the Temporal
database and its UI hold ciphertext only (decrypted for authorized people by the codec server).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from privacy.keys import KeyRing

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class UnknownKeyError(ValueError):
    """A payload encrypted with a key that is not in the key ring."""


class PayloadTamperedError(ValueError):
    """A payload whose ciphertext or key id was changed: it fails authentication."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    @property
    def current_key_id(self) -> str:
        return self._ring.current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._ring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours (e.g. written before encryption was turned on)
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(f"payload key {key_id!r} is not in the key ring")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadTamperedError("payload failed authentication (tampered?)") from None
        return Payload.FromString(plain)
