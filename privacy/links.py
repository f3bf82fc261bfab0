"""Survey links for clients: a check-in's id, signed with a key derived from the payload keys.

A link is the only credential a client has for their check-in, so it names it opaquely and
cannot be forged or altered: ``<key id>.<check-in id, base64url>.<HMAC-SHA256, 128 bits>``.
The HMAC key is derived from a payload key (never used as-is for two purposes); links made with
a key stay valid while that key is in the ring. A link answers only while its check-in is open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from privacy.keys import KeyRing

_PURPOSE = b"carepath survey link v1"
_CHECK_IN_ID = re.compile(r"followup-[A-Za-z0-9_.:-]{1,200}")
TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]{1,400}$"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, key_id: str, body: str) -> str:
    derived = hmac.new(key, _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(derived, f"{key_id}.{body}".encode(), hashlib.sha256).digest()
    return _b64(digest[:16])


def survey_token(ring: KeyRing, check_in_id: str) -> str:
    """The link token for check-in ``check_in_id`` (its workflow id), signed with the newest key."""
    if _CHECK_IN_ID.fullmatch(check_in_id) is None:
        raise ValueError("not a check-in id")
    body = _b64(check_in_id.encode())
    return f"{ring.current}.{body}.{_mac(ring.keys[ring.current], ring.current, body)}"


def check_in_of(ring: KeyRing, token: str) -> str | None:
    """The check-in a token names, or None for anything not made by ``survey_token``."""
    try:
        rest, mac = token.rsplit(".", 1)
        key_id, body = rest.rsplit(".", 1)
    except ValueError:
        return None
    key = ring.keys.get(key_id)
    if key is None or not hmac.compare_digest(mac, _mac(key, key_id, body)):
        return None
    try:
        check_in_id = _unb64(body).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return check_in_id if _CHECK_IN_ID.fullmatch(check_in_id) else None
