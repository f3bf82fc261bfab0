"""Payload keys: from settings (`CAREPATH_PAYLOAD_KEYS`) or a key file, never from code.

A key ring holds every key that may still decrypt; the last one encrypts. Rotate by adding a new
key at the end; remove an old one only once nothing encrypted with it is still needed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32  # AES-256
# Key ids travel in payload metadata, survey links and sealed fields: short, and safe in a URL.
# The key that encrypts must have such an id; an older key with another id still decrypts.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class KeyConfigError(ValueError):
    """A key setting or key file that cannot be used; the message never shows a key."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    current: str  # the id that encrypts

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyConfigError("the current key id is not in the key ring")
        _check_key_id(self.current, "the newest key")
        for n, (key_id, key) in enumerate(self.keys.items(), start=1):
            if len(key) != KEY_BYTES:
                name = _name(key_id, n)
                raise KeyConfigError(f"key {name} must be {KEY_BYTES} bytes (AES-256)")


def _name(key_id: str, n: int) -> str:
    """How an error names a key: its id when it is a proper id, else its place. (A malformed
    "id" may be a key written the wrong way round: never repeated.)"""
    return repr(key_id) if KEY_ID.fullmatch(key_id) else f"number {n}"


def _check_key_id(key_id: str, which: str) -> None:
    if KEY_ID.fullmatch(key_id) is None:
        raise KeyConfigError(f"the id of {which} must be 1 to 32 letters, digits, '_' or '-'")


def parse_keys(spec: str) -> KeyRing:
    """`id1:base64key,id2:base64key` — the last one encrypts."""
    keys: dict[str, bytes] = {}
    for n, part in enumerate((p.strip() for p in spec.split(",") if p.strip()), start=1):
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id:
            raise KeyConfigError("payload keys are written id:base64key, comma separated")
        if key_id in keys:
            raise KeyConfigError(f"key {_name(key_id, n)} is given twice")
        try:
            keys[key_id] = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise KeyConfigError(f"key {_name(key_id, n)} is not valid base64") from None
    if not keys:
        raise KeyConfigError("no payload keys given")
    return KeyRing(keys=keys, current=list(keys)[-1])


def read_key_file(path: Path) -> KeyRing:
    try:
        data = json.loads(path.read_text())
        spec = ",".join(f"{k['id']}:{k['key']}" for k in data["keys"])
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyConfigError(f"cannot read the payload key file {path}") from None
    return parse_keys(spec)


def generate_key_file(path: Path, key_id: str = "k1") -> KeyRing:
    """Create a key file readable by its owner only (dev); an existing file is kept."""
    _check_key_id(key_id, "the new key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": [{"id": key_id, "key": key}]}, f)
    return read_key_file(path)


def add_key(path: Path, key_id: str) -> KeyRing:
    """Rotate: append a new key, which encrypts from now on; old keys still decrypt."""
    _check_key_id(key_id, "the new key")
    ring = read_key_file(path)
    if key_id in ring.keys:
        raise KeyConfigError(f"key id {key_id!r} is already in use")
    data = json.loads(path.read_text())
    data["keys"].append(
        {"id": key_id, "key": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}
    )
    path.write_text(json.dumps(data))
    return read_key_file(path)


def load_key_ring(payload_keys: str | None, key_file: Path | None) -> KeyRing | None:
    """The configured key ring, or None when encryption is not configured."""
    if payload_keys:
        return parse_keys(payload_keys)
    if key_file is not None:
        return read_key_file(key_file)
    return None
