"""Survey links: only a link made for a check-in opens it, nobody can read which one it is, and
rotation keeps old links working."""

from __future__ import annotations

import base64
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.keys import KeyRing
from privacy.links import TOKEN_PATTERN, check_in_of, survey_token

CLIENT = "cl-7f3a9c"
CHECK_IN = f"followup-journey-{CLIENT}-week-2"


def ring(*ids: str) -> KeyRing:
    return KeyRing(keys={i: os.urandom(32) for i in ids}, current=ids[-1])


def test_a_link_opens_its_check_in_and_reveals_nothing_about_the_client() -> None:
    keys = ring("k1")
    token = survey_token(keys, CHECK_IN)
    assert check_in_of(keys, token) == CHECK_IN
    key_id, body = token.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert key_id == "k1" and CLIENT.encode() not in raw and b"week" not in raw
    assert survey_token(keys, CHECK_IN) != token  # a fresh nonce each time; both open it


def test_the_longest_check_in_ids_still_make_links() -> None:
    keys = ring("k1")
    longest = f"followup-journey-{'c' * 200}-week-12"
    token = survey_token(keys, longest)
    assert re.fullmatch(TOKEN_PATTERN, token) and check_in_of(keys, token) == longest


def test_another_clinics_check_ins_make_links_too() -> None:
    from domain.ids import check_in_workflow_id

    keys = ring("k1")
    check_in = check_in_workflow_id("j-7f3a9c", "week-2", "clinic-b")
    assert check_in == "followup-clinic-b~j-7f3a9c-week-2"
    token = survey_token(keys, check_in)
    assert re.fullmatch(TOKEN_PATTERN, token) and check_in_of(keys, token) == check_in


def test_an_altered_link_opens_nothing() -> None:
    keys = ring("k1")
    key_id, body = survey_token(keys, CHECK_IN).split(".")
    flipped = body[:-2] + ("AA" if not body.endswith("AA") else "BB")
    for token in (f"{key_id}.{flipped}", f"k9.{body}", body, f"{key_id}.", f"{key_id}.é"):
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
