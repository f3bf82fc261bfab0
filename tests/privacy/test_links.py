"""Survey links: only a link made for a check-in opens it; rotation keeps old links working."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.keys import KeyRing
from privacy.links import check_in_of, survey_token

CHECK_IN = "followup-j-7f3a-week-2"


def ring(*ids: str) -> KeyRing:
    return KeyRing(keys={i: os.urandom(32) for i in ids}, current=ids[-1])


def test_a_link_names_its_check_in_and_nothing_readable_about_the_client() -> None:
    keys = ring("k1")
    token = survey_token(keys, CHECK_IN)
    assert check_in_of(keys, token) == CHECK_IN
    assert token.startswith("k1.") and "week" not in token


def test_an_altered_link_opens_nothing() -> None:
    keys = ring("k1")
    key_id, body, mac = survey_token(keys, CHECK_IN).split(".")
    other = base64.urlsafe_b64encode(b"followup-j-other-week-2").rstrip(b"=").decode()
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for token in (f"{key_id}.{other}.{mac}", f"{key_id}.{body}.{flipped}", f"k9.{body}.{mac}"):
        assert check_in_of(keys, token) is None


def test_a_link_from_another_clinic_key_opens_nothing() -> None:
    assert check_in_of(ring("k1"), survey_token(ring("k1"), CHECK_IN)) is None


def test_after_rotation_old_links_open_until_their_key_is_removed() -> None:
    old = ring("k1")
    rotated = KeyRing(keys={**old.keys, "k2": os.urandom(32)}, current="k2")
    token = survey_token(old, CHECK_IN)
    assert check_in_of(rotated, token) == CHECK_IN
    assert survey_token(rotated, CHECK_IN).startswith("k2.")
    retired = KeyRing(keys={"k2": rotated.keys["k2"]}, current="k2")
    assert check_in_of(retired, token) is None


@pytest.mark.parametrize("not_a_check_in", ["journey-cl-1", "followup-", "followup-a b"])
def test_only_check_ins_get_links(not_a_check_in: str) -> None:
    with pytest.raises(ValueError, match="not a check-in"):
        survey_token(ring("k1"), not_a_check_in)


KEYS = ring("k1", "k2")


@given(st.text(max_size=120))
def test_made_up_links_open_nothing(token: str) -> None:
    assert check_in_of(KEYS, token) is None
