"""Payload keys: from settings (`CAREPATH_PAYLOAD_KEYS`) or a key file, never from code.

A key ring holds every key that may still decrypt; the last one encrypts. Rotate by adding a new
key at the end; remove an old one only once nothing encrypted with it is still needed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KEY_BYTES = 32  # AES-256
# Key ids travel in payload metadata, survey links and sealed fields: short, and safe in a URL.
# The key that encrypts must have such an id; an older key with another id still decrypts.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class KeyConfigError(ValueError):
    """A key setting or key file that cannot be used; the message never shows a key."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes] = field(repr=False)  # never in a repr, a log line or an error
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


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def new_key_spec(key_id: str) -> str:
    """A fresh key as ``id:base64key``, for ``CAREPATH_PAYLOAD_KEYS``."""
    _check_key_id(key_id, "the new key")
    return f"{key_id}:{_new_key()}"


def generate_key_file(path: Path, key_id: str = "k1") -> KeyRing:
    """Create a key file readable by its owner only (dev); an existing file is kept."""
    _check_key_id(key_id, "the new key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process: kept
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"keys": [{"id": key_id, "key": _new_key()}]}, f)
                f.flush()
                os.fsync(f.fileno())
    return read_key_file(path)


def _write_like(target: Path, text: str, like: os.stat_result) -> None:
    """``text`` into ``target`` through a new file swapped in: never half written, never
    readable by others on the way, with the mode and owner of ``like`` (the live key file)."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            if hasattr(os, "fchown") and os.geteuid() == 0:
                os.fchown(f.fileno(), like.st_uid, like.st_gid)
            os.fchmod(f.fileno(), like.st_mode & 0o777)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


@contextlib.contextmanager
def _changing(path: Path) -> Iterator[list[dict[str, str]]]:
    """The key file's entries to change in place, under a lock; written back whole (the old
    file kept as ``<file>.bak`` first), so a crash never leaves it half written. A symlinked key
    file is changed where it really lives; its mode and owner stay as they were."""
    path = path.resolve()
    try:
        lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 - held below
    except OSError as error:
        raise KeyConfigError(f"cannot lock the payload key file {path}: {error.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        read_key_file(path)  # a readable, valid ring before anything changes
        old = path.read_text()
        entries: list[dict[str, str]] = json.loads(old)["keys"]
        yield entries
        parse_keys(",".join(f"{k['id']}:{k['key']}" for k in entries))  # still valid
        try:
            like = path.stat()
            _write_like(path.with_name(path.name + ".bak"), old, like)
            _write_like(path, json.dumps({"keys": entries}), like)
        except OSError as error:
            raise KeyConfigError(
                f"cannot write the payload key file {path}: {error.strerror} (it is unchanged)"
            ) from None
        try:  # the change is made; this only makes it survive a power cut
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            pass


def add_key(path: Path, key_id: str, *, decrypt_only: bool = False) -> KeyRing:
    """Rotate: add a new key. At the end it encrypts from now on; with ``decrypt_only`` it goes
    first, so that every process can learn it before one encrypts with it (``promote_key``)."""
    _check_key_id(key_id, "the new key")
    with _changing(path) as entries:
        if any(k["id"] == key_id for k in entries):
            raise KeyConfigError(f"key id {key_id!r} is already in use")
        entry = {"id": key_id, "key": _new_key()}
        if decrypt_only:
            entries.insert(0, entry)
        else:
            entries.append(entry)
    return read_key_file(path)


def promote_key(path: Path, key_id: str) -> KeyRing:
    """Make key ``key_id`` (already in the file) the one that encrypts: it moves to the end."""
    _check_key_id(key_id, "the promoted key")
    with _changing(path) as entries:
        found = [k for k in entries if k["id"] == key_id]
        if not found:
            raise KeyConfigError(f"key id {key_id!r} is not in the key file")
        entries.remove(found[0])
        entries.append(found[0])
    return read_key_file(path)


def load_key_ring(payload_keys: str | None, key_file: Path | None) -> KeyRing | None:
    """The configured key ring, or None when encryption is not configured."""
    if payload_keys:
        return parse_keys(payload_keys)
    if key_file is not None:
        return read_key_file(key_file)
    return None
