"""Payload encryption: round trips, rotation, tampering, and what Temporal actually stores."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    SerializationContext,
    WorkflowSerializationContext,
)

from privacy import EncryptionCodec, PayloadTamperedError, UnknownKeyError
from privacy.codec import stamp_of
from privacy.keys import KeyConfigError, add_key, generate_key_file, parse_keys, read_key_file


def key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


CANARY = b'{"display_name": "Zelda Canary-Quist", "phone": "+1 555 0100 777"}'


async def test_round_trip_hides_the_plaintext() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    original = Payload(metadata={"encoding": b"json/plain"}, data=CANARY)
    [sealed] = await codec.encode([original])
    assert b"Zelda" not in sealed.SerializeToString()
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert await codec.decode([sealed]) == [original]


async def test_a_rotated_out_key_still_decrypts_and_the_newest_encrypts() -> None:
    old, new = key(), key()
    [sealed_old] = await EncryptionCodec(parse_keys(f"k1:{old}")).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=CANARY)]
    )
    rotated = EncryptionCodec(parse_keys(f"k1:{old},k2:{new}"))
    assert (await rotated.decode([sealed_old]))[0].data == CANARY
    [sealed_new] = await rotated.encode([Payload(data=b"x")])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(UnknownKeyError):
        await EncryptionCodec(parse_keys(f"k2:{new}")).decode([sealed_old])


@pytest.mark.parametrize("where", ["ciphertext", "key_id"])
async def test_a_tampered_payload_fails_loudly(where: str) -> None:
    codec = EncryptionCodec(parse_keys(f"a:{key()},b:{key()}"))
    [sealed] = await codec.encode([Payload(data=CANARY)])
    if where == "ciphertext":
        data = bytearray(sealed.data)
        data[-1] ^= 1
        sealed.data = bytes(data)
    else:
        sealed.metadata["encryption-key-id"] = b"a"  # claims the other key
    with pytest.raises(PayloadTamperedError):
        await codec.decode([sealed])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert await codec.decode([plain]) == [plain]


def test_key_files_are_private_and_rotate(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "payload-keys.json"
    ring = generate_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert generate_key_file(path) == ring  # kept, not replaced
    rotated = add_key(path, "k2")
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    assert read_key_file(path) == rotated
    with pytest.raises(KeyConfigError, match="already in use"):
        add_key(path, "k2")
    with pytest.raises(KeyConfigError, match="letters, digits"):
        add_key(path, "k3/../x")
    assert read_key_file(path) == rotated  # a refused id never reaches the file


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nokey",
        "k1:not-base64!!",
        f"k1:{base64.b64encode(b'short').decode()}",
        f"k 1:{key()}",  # the encrypting key's id goes into links and metadata: URL-safe only
        f"k1:{key()},k.2:{key()}",
        f"{'k' * 33}:{key()}",
        f"k1:{key()},k1:{key()}",  # which one would decrypt?
    ],
)
def test_bad_key_settings_are_clear_errors_without_the_key(spec: str) -> None:
    with pytest.raises(KeyConfigError) as error:
        parse_keys(spec)
    assert "short" not in str(error.value) and "!!" not in str(error.value)


def test_a_broken_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"keys": [{"id": "k1"}]}))
    with pytest.raises(KeyConfigError, match="cannot read"):
        read_key_file(path)


def test_a_key_written_where_its_id_goes_is_never_repeated() -> None:
    secret = key()
    for spec in (f"{secret}:k1", f"k0:{key()},{secret}:{key()}", f"{secret}:{secret}"):
        with pytest.raises(KeyConfigError) as error:
            parse_keys(spec)
        assert secret[:8] not in str(error.value), spec


def test_an_older_key_with_another_id_still_decrypts_but_never_encrypts() -> None:
    legacy = parse_keys(f"2026.11:{key()},k2:{key()}")  # ids from before the rule
    assert legacy.current == "k2" and "2026.11" in legacy.keys
    with pytest.raises(KeyConfigError, match="newest key"):
        parse_keys(f"k2:{key()},2026.11:{key()}")


def test_a_key_change_keeps_the_files_mode_its_symlink_and_a_private_backup(
    tmp_path: Path,
) -> None:
    real = tmp_path / "secrets" / "payload-keys.json"
    first = generate_key_file(real)
    real.chmod(0o640)  # read by the services' group
    link = tmp_path / "payload-keys.json"
    link.symlink_to(real)

    rotated = add_key(link, "k2", decrypt_only=True)

    assert link.is_symlink() and read_key_file(real) == rotated  # the real file changed
    assert real.stat().st_mode & 0o777 == 0o640
    backup = real.with_name(real.name + ".bak")
    assert read_key_file(backup) == first and backup.stat().st_mode & 0o777 == 0o640
    assert not list(real.parent.glob(".*.tmp"))


def _context(workflow_id: str | None, kind: str = "workflow") -> SerializationContext:
    if kind == "workflow":
        assert workflow_id is not None
        return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)
    return ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="append_events",
        activity_task_queue="q",
        workflow_id=workflow_id,
        workflow_type="Journey",
        is_local=False,
    )


@pytest.mark.parametrize(
    ("workflow_id", "kind", "clinic"),
    [
        ("journey-cl-1", "workflow", "default"),
        ("journey-other~cl-1", "workflow", "other"),
        ("journey-other~cl-1", "activity", "other"),
        ("followup-j-1-week-2", "activity", "default"),
        ("followup-other~j-1-week-2", "workflow", "other"),
        ("carepath-follow-up-sweep-2026-12-01T10:00:00Z", "workflow", "*"),
        (None, "activity", "*"),  # an activity not started by a workflow
    ],
)
async def test_each_payload_is_stamped_with_its_workflows_clinic(
    workflow_id: str | None, kind: str, clinic: str
) -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    scoped = codec.with_context(_context(workflow_id, kind))
    [sealed] = await scoped.encode([Payload(metadata={"encoding": b"json/plain"}, data=CANARY)])
    assert sealed.metadata["carepath-clinic"] == clinic.encode()
    assert stamp_of(sealed) == clinic
    assert (await codec.decode([sealed]))[0].data == CANARY  # workers decode every clinic's
    [unscoped] = await codec.encode([Payload(data=b"x")])
    assert stamp_of(unscoped) == "*"


async def test_the_stamp_is_bound_to_the_ciphertext() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    [sealed] = await codec.for_clinic("other").encode([Payload(data=CANARY)])
    for change in ("swap", "drop"):
        altered = Payload()
        altered.CopyFrom(sealed)
        if change == "swap":
            altered.metadata["carepath-clinic"] = b"default"
        else:
            del altered.metadata["carepath-clinic"]
        with pytest.raises(PayloadTamperedError):
            await codec.decode([altered])


async def test_payloads_written_before_stamping_still_decrypt() -> None:
    ring = parse_keys(f"k1:{key()}")
    nonce = secrets.token_bytes(12)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=CANARY)
    legacy = Payload(  # the format before clinics: the key id alone as associated data
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k1"},
        data=nonce + AESGCM(ring.keys["k1"]).encrypt(nonce, plain.SerializeToString(), b"k1"),
    )
    assert stamp_of(legacy) is None
    assert await EncryptionCodec(ring).decode([legacy]) == [plain]
    legacy.metadata["carepath-clinic"] = b"default"  # a stamp added afterwards does not open
    with pytest.raises(PayloadTamperedError):
        await EncryptionCodec(ring).decode([legacy])
