"""AES-256-GCM payload codec with a key id and a clinic in every payload, for key rotation and
for showing each clinic only its own payloads.

Every payload Temporal stores or shows — workflow and activity inputs and results, signals,
updates, queries, memos, summaries and current details — passes through it, so the Temporal
database and its UI hold ciphertext only (decrypted for authorized people by the codec server).

Whose payload it is: the SDK hands the codec the serialization context of each payload (the
workflow it belongs to: `WorkflowSerializationContext`, `ActivitySerializationContext`), and a
journey's or check-in's workflow id names its clinic (`workflows.messages.clinic_of_workflow`).
The codec stamps that clinic into the payload's metadata (`carepath-clinic`) and binds it, with
the key id, as AES-GCM associated data: a stamp that is changed, removed or added fails
authentication. Payloads of no clinic (the deployment's schedules, which span clinics; anything
encoded without a workflow) are stamped `*`. Payloads written before stamping have no stamp and
still decrypt (their associated data is the key id alone).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from domain.ids import clinic_of_workflow
from privacy.keys import KeyRing

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
CLINIC = "carepath-clinic"
NO_CLINIC = "*"  # deployment-wide payloads: no clinic's ops see them decrypted
NONCE_BYTES = 12
_STAMPED = "p2"  # the associated data's version: [p2, key id, clinic]


class UnknownKeyError(ValueError):
    """A payload encrypted with a key that is not in the key ring."""


class PayloadTamperedError(ValueError):
    """A payload whose ciphertext, key id or clinic was changed: it fails authentication."""


def clinic_of_context(context: SerializationContext | None) -> str:
    """The clinic whose payloads are encoded in ``context``; ``NO_CLINIC`` when none is named."""
    kinds = (WorkflowSerializationContext, ActivitySerializationContext)
    if isinstance(context, kinds) and context.workflow_id:
        return clinic_of_workflow(context.workflow_id) or NO_CLINIC
    return NO_CLINIC


def stamp_of(payload: Payload) -> str | None:
    """The clinic an encrypted payload is stamped with; None for one written before stamping
    (or not encrypted at all). Authentic only once the payload decrypts."""
    if payload.metadata.get("encoding") != ENCODING or CLINIC not in payload.metadata:
        return None
    return payload.metadata[CLINIC].decode("utf-8", errors="replace")


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def _associated(key_id: str, clinic: str | None) -> bytes:
    if clinic is None:  # written before payloads named their clinic
        return key_id.encode()
    return json.dumps([_STAMPED, key_id, clinic]).encode()


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, ring: KeyRing, *, clinic: str = NO_CLINIC) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._clinic = clinic

    @property
    def clinic(self) -> str:
        """The clinic this codec stamps the payloads it encrypts with."""
        return self._clinic

    def for_clinic(self, clinic: str) -> EncryptionCodec:
        """The same keys, stamping ``clinic``."""
        codec = copy.copy(self)  # the same ciphers
        codec._clinic = clinic
        return codec

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        """Called by the SDK for each payload's workflow or activity: stamp its clinic."""
        clinic = clinic_of_context(context)
        return self if clinic == self._clinic else self.for_clinic(clinic)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._ring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), _associated(key_id, self._clinic)
        )
        metadata = {"encoding": ENCODING, KEY_ID: key_id.encode(), CLINIC: self._clinic.encode()}
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """Any clinic's payload (workers decode what their workflows and activities hold; the
        codec server decides whose it may show, by ``stamp_of``, before it decrypts)."""
        if not is_encrypted(payload):
            return payload  # not ours (e.g. written before encryption was turned on)
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(f"payload key {key_id!r} is not in the key ring")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            clinic = payload.metadata[CLINIC].decode() if CLINIC in payload.metadata else None
            plain = cipher.decrypt(nonce, sealed, _associated(key_id, clinic))
        except (InvalidTag, UnicodeError):
            raise PayloadTamperedError("payload failed authentication (tampered?)") from None
        return Payload.FromString(plain)
