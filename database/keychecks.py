"""Each payload key id names one key for good: a check value per id, kept in the database."""

from __future__ import annotations

from database.pgtypes import Pool
from privacy.derived import key_check
from privacy.keys import KEY_ID, KeyConfigError, KeyRing

_REMEMBER = """
INSERT INTO payload_key_checks (key_id, key_check)
SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key_id) DO NOTHING
"""
_KNOWN = "SELECT key_id, key_check FROM payload_key_checks WHERE key_id = ANY($1::text[])"


class KeyMismatchError(KeyConfigError):
    """A key whose id this database knows for another key. Names proper ids only."""


async def check_key_ring(pool: Pool, ring: KeyRing) -> None:
    """Remember the check value of each id seen for the first time; raise ``KeyMismatchError``
    if a key of ``ring`` is not the key its id named before. All or nothing: a refused ring
    pins none of its ids. (Ids that are not proper ids, kept to decrypt old data, are neither
    pinned nor repeated: such an "id" may be a key written the wrong way round.)"""
    checks = {
        key_id: key_check(key)
        for key_id, key in sorted(ring.keys.items())  # one lock order for every process
        if KEY_ID.fullmatch(key_id)
    }
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_REMEMBER, list(checks), list(checks.values()))
        known = {r["key_id"]: r["key_check"] for r in await conn.fetch(_KNOWN, list(checks))}
        wrong = [key_id for key_id, check in checks.items() if known.get(key_id) != check]
        if wrong:
            raise KeyMismatchError(  # raised inside the transaction: it rolls back
                f"payload key(s) {', '.join(map(repr, wrong))} are not the keys this database "
                "knows by those ids: check CAREPATH_PAYLOAD_KEYS / the key file (nothing was "
                "written). A key id pinned by mistake, with nothing sealed under it, can be "
                "freed with DELETE FROM payload_key_checks WHERE key_id = '…'"
            )
