"""Sealed fields: a value opens only in its own row and column, rotation keeps old values open,
and no error shows a key or a text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from privacy.derived import PURPOSES, derived_key
from privacy.fields import (
    SealedFieldError,
    TamperedFieldError,
    UnknownFieldKeyError,
    _associated,
    bound_row,
    key_id_of,
    open_field,
    open_row,
    seal_field,
    seal_row,
)
from privacy.keys import KeyRing

TEXT = "Wren spoke about the lake house; wren@example.org, +15550101234"
EMAIL = "clients.email"


def ring(*ids: str) -> KeyRing:
    return KeyRing(keys={i: os.urandom(32) for i in ids}, current=ids[-1])


KEYS = ring("k1")


@given(
    text=st.text(max_size=2000),
    row=st.text(min_size=1, max_size=200),
    column=st.sampled_from(["clients.display_name", EMAIL, "psychotherapy_notes.body"]),
)
def test_what_is_sealed_opens_to_the_same_text(text: str, row: str, column: str) -> None:
    sealed = seal_field(KEYS, text, column=column, row=row)
    assert open_field(KEYS, sealed, column=column, row=row) == text
    assert key_id_of(sealed) == "k1"


def test_a_sealed_value_holds_no_text_and_differs_each_time() -> None:
    sealed = seal_field(KEYS, TEXT, column=EMAIL, row="cl-1")
    version, key_id, body = sealed.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert (version, key_id) == ("f1", "k1")
    assert b"wren" not in raw.lower() and "wren" not in sealed.lower()
    assert seal_field(KEYS, TEXT, column=EMAIL, row="cl-1") != sealed


def test_a_value_moved_to_another_row_or_column_does_not_open() -> None:
    sealed = seal_field(KEYS, TEXT, column=EMAIL, row="cl-1")
    with pytest.raises(TamperedFieldError):
        open_field(KEYS, sealed, column=EMAIL, row="cl-2")
    with pytest.raises(TamperedFieldError):
        open_field(KEYS, sealed, column="clients.phone", row="cl-1")
    with pytest.raises(TamperedFieldError):
        open_field(KEYS, sealed, column="psychotherapy_notes.body", row="cl-1")


def test_altered_values_fail_and_errors_show_no_key_or_text() -> None:
    sealed = seal_field(KEYS, TEXT, column=EMAIL, row="cl-1")
    version, key_id, body = sealed.split(".")
    flipped = body[:-2] + ("AA" if not body.endswith("AA") else "BB")
    other = ring("k1")
    attempts = [
        (KEYS, f"{version}.{key_id}.{flipped}"),
        (KEYS, f"{version}.{key_id}.{body[:10]}"),
        (KEYS, f"{version}.{key_id}.é"),
        (KEYS, f"f9.{key_id}.{body}"),
        (KEYS, TEXT),
        (KEYS, ""),
        (other, sealed),  # another clinic's k1
    ]
    for keys, value in attempts:
        with pytest.raises(SealedFieldError) as caught:
            open_field(keys, value, column=EMAIL, row="cl-1")
        shown = f"{caught.value!s} {caught.value!r}"
        assert "wren" not in shown.lower() and "1555" not in shown
        for key in KEYS.keys.values():
            assert base64.b64encode(key).decode() not in shown


def test_an_unknown_key_or_no_key_ring_is_a_clear_error() -> None:
    sealed = seal_field(ring("k9"), TEXT, column=EMAIL, row="cl-1")
    with pytest.raises(UnknownFieldKeyError, match="k9"):
        open_field(KEYS, sealed, column=EMAIL, row="cl-1")
    with pytest.raises(UnknownFieldKeyError, match=r"clients\.email"):
        open_field(None, sealed, column=EMAIL, row="cl-1")


def test_after_rotation_old_values_open_until_their_key_is_removed() -> None:
    old = ring("k1")
    sealed = seal_field(old, TEXT, column=EMAIL, row="cl-1")
    rotated = KeyRing(keys={**old.keys, "k2": os.urandom(32)}, current="k2")
    assert open_field(rotated, sealed, column=EMAIL, row="cl-1") == TEXT
    moved = seal_field(rotated, TEXT, column=EMAIL, row="cl-1")
    assert key_id_of(moved) == "k2"
    retired = KeyRing(keys={"k2": rotated.keys["k2"]}, current="k2")
    assert open_field(retired, moved, column=EMAIL, row="cl-1") == TEXT
    with pytest.raises(UnknownFieldKeyError):
        open_field(retired, sealed, column=EMAIL, row="cl-1")


def test_the_field_key_is_derived_not_the_payload_key() -> None:
    sealed = seal_field(KEYS, TEXT, column=EMAIL, row="cl-1")
    body = sealed.split(".")[2]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    associated = _associated("k1", EMAIL, "cl-1")
    with pytest.raises(InvalidTag):
        AESGCM(KEYS.keys["k1"]).decrypt(raw[:12], raw[12:], associated)
    derived = hmac.new(KEYS.keys["k1"], b"carepath sealed field v1", hashlib.sha256).digest()
    assert AESGCM(derived).decrypt(raw[:12], raw[12:], associated).decode() == TEXT


def test_rows_seal_every_value_and_legacy_plaintext_reads_as_is() -> None:
    values = {"display_name": "Wren Q", "email": "wren@example.org", "phone": None}
    sealed_with, stored = seal_row(KEYS, values, table="clients", row="cl-1")
    assert sealed_with == "k1" and stored["phone"] is None
    assert all("wren" not in (v or "").lower() for v in stored.values())
    assert open_row(KEYS, stored, sealed_with="k1", table="clients", row="cl-1") == values
    assert open_row(KEYS, values, sealed_with=None, table="clients", row="cl-1") == values
    assert open_row(None, values, sealed_with=None, table="clients", row="cl-1") == values
    # Without keys, or with nothing to seal, values stay as they are and nothing is marked.
    assert seal_row(None, values, table="clients", row="cl-1") == (None, values)
    empty = dict.fromkeys(values)
    assert seal_row(KEYS, empty, table="clients", row="cl-1") == (None, empty)


def test_a_row_whose_values_name_another_key_than_its_marker_does_not_open() -> None:
    rotated = KeyRing(keys={**KEYS.keys, "k2": os.urandom(32)}, current="k2")
    _, stored = seal_row(KEYS, {"email": "wren@example.org"}, table="clients", row="cl-1")
    with pytest.raises(TamperedFieldError):
        open_row(rotated, stored, sealed_with="k2", table="clients", row="cl-1")


def test_a_sealed_value_that_lost_its_key_marker_is_refused_not_shown() -> None:
    sealed_with, stored = seal_row(KEYS, {"email": "a@example.org"}, table="clients", row="cl-1")
    assert sealed_with is not None
    with pytest.raises(TamperedFieldError, match="lost its key marker"):
        open_row(KEYS, stored, sealed_with=None, table="clients", row="cl-1")


def test_a_value_bound_to_several_ids_opens_only_where_all_of_them_match() -> None:
    row = bound_row("n-1", "cl-1", "th-1")
    _, stored = seal_row(KEYS, {"body": "a note"}, table="psychotherapy_notes", row=row)
    assert open_row(KEYS, stored, sealed_with="k1", table="psychotherapy_notes", row=row) == {
        "body": "a note"
    }
    for other in (bound_row("n-1", "cl-1", "th-2"), bound_row("n-1", "cl-2", "th-1"), "n-1"):
        with pytest.raises(TamperedFieldError):
            open_row(KEYS, stored, sealed_with="k1", table="psychotherapy_notes", row=other)


def test_every_derived_purpose_is_its_own_and_keys_never_show() -> None:
    assert len(set(PURPOSES)) == len(PURPOSES)
    key = os.urandom(32)
    assert len({derived_key(key, purpose) for purpose in PURPOSES}) == len(PURPOSES)
    assert key not in {derived_key(key, purpose) for purpose in PURPOSES}
    ring = KeyRing(keys={"k1": key}, current="k1")
    assert key.hex() not in repr(ring) and repr(key) not in repr(ring)


def test_plaintext_that_merely_looks_like_a_sealed_value_still_reads() -> None:
    legacy = {"display_name": "f1.a.b", "email": "f1.k1.short"}
    assert open_row(KEYS, legacy, sealed_with=None, table="clients", row="cl-1") == legacy
