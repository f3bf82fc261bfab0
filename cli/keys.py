"""`carepath keys generate|add|promote|reseal`: payload key rotation, and what is sealed with them.

Rotation without a moment where one process seals with a key another cannot open:
1. `keys add k2 --decrypt-only` (or `keys generate k2`, put first in `CAREPATH_PAYLOAD_KEYS`);
   give every host the new ring and restart every process: all can open k2, none seals with it;
2. `keys promote k2` (or move it last in `CAREPATH_PAYLOAD_KEYS`); restart every process again;
3. `keys reseal`: moves what older keys sealed to k2; exit 0 means nothing needs them any more.
Keys are printed only by `generate`; every other output is ids and counts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from config.settings import Settings, get_settings
from privacy.keys import KeyConfigError, KeyRing

DEV_KEY_FILE = Path("keys") / "payload-keys.json"  # under the data dir, made by `carepath dev`


def _say(action: str, message: str) -> None:
    print(f"carepath keys {action}: {message}", file=sys.stderr)


def _key_file(settings: Settings, action: str) -> Path | None:
    """The key file to change: the configured one, or (embedded dev stack) the dev one."""
    if settings.payload_keys:
        _say(
            action,
            "the keys come from CAREPATH_PAYLOAD_KEYS: change them there (`carepath keys "
            "generate ID` makes a new one); this command changes a key file",
        )
        return None
    path = settings.payload_key_file
    if path is None and settings.database_url is None:
        path = settings.data_dir / DEV_KEY_FILE
    if path is None or not path.exists():
        _say(action, f"no key file: set CAREPATH_PAYLOAD_KEY_FILE (it is not at {path})")
        return None
    return path


def _change_file(settings: Settings, args: argparse.Namespace) -> int:
    from privacy.keys import add_key, promote_key

    if args.key_id is None:
        _say(args.action, "give the key's id")
        return 2
    path = _key_file(settings, args.action)
    if path is None:
        return 1 if settings.payload_keys else 2
    try:
        if args.action == "promote":
            ring = promote_key(path, args.key_id)
        else:
            ring = add_key(path, args.key_id, decrypt_only=args.decrypt_only)
    except KeyConfigError as error:
        _say(args.action, str(error))
        return 2
    if args.action == "add" and args.decrypt_only:
        done = f"key {args.key_id} added to {path}, decrypting only ({ring.current} encrypts)"
        then = f"give every host this file, restart everything, then `keys promote {args.key_id}`"
    else:
        done = f"key {ring.current} encrypts from now on ({path}, {len(ring.keys)} keys)"
        then = "give every host this file, restart everything, then `carepath keys reseal`"
    print(f"{done}; {then}. Back the key file up now: without it, nothing sealed opens.")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from privacy.keys import new_key_spec

    if args.key_id is None:
        _say("generate", "give the new key's id")
        return 2
    try:
        print(new_key_spec(args.key_id))  # for CAREPATH_PAYLOAD_KEYS: keep it secret
    except KeyConfigError as error:
        _say("generate", str(error))
        return 2
    return 0


def _ring(settings: Settings) -> KeyRing | None:
    from privacy.keys import load_key_ring, read_key_file

    ring = load_key_ring(settings.payload_keys, settings.payload_key_file)
    dev = settings.data_dir / DEV_KEY_FILE
    if ring is None and settings.database_url is None and dev.exists():
        ring = read_key_file(dev)  # the embedded dev stack's own database and keys
    return ring


def _reseal(settings: Settings, args: argparse.Namespace) -> int:
    from database import create_pool
    from database.keychecks import check_key_ring
    from records.clients import Resealed, reseal_clients
    from records.notes import reseal_notes

    if args.key_id is not None:
        _say("reseal", "takes no key id (the key that encrypts seals)")
        return 2
    try:
        ring = _ring(settings)
    except KeyConfigError as error:
        _say("reseal", str(error))
        return 1
    if ring is None:
        _say("reseal", "no payload keys: set CAREPATH_PAYLOAD_KEYS or CAREPATH_PAYLOAD_KEY_FILE")
        return 1
    keys = ring

    async def reseal() -> dict[str, Resealed]:
        pool = await create_pool(settings)
        try:
            await check_key_ring(pool, keys)  # the same keys the services use, by id
            return {
                "clients": await reseal_clients(pool, keys, batch_size=args.batch_size),
                "notes": await reseal_notes(pool, keys, batch_size=args.batch_size),
            }
        finally:
            await pool.close()

    try:
        results = asyncio.run(reseal())
    except KeyConfigError as error:
        _say("reseal", str(error))
        return 1
    left: dict[str, int] = {}
    for table, counts in results.items():
        print(
            f"{table}: {counts.sealed} sealed, {counts.moved} moved to key {keys.current}, "
            f"{counts.changed} changed meanwhile, {counts.unreadable} unreadable"
        )
        for under, n in counts.remaining.items():
            left[under] = left.get(under, 0) + n
    if left:
        still = ", ".join(f"{n} under {under}" for under, n in sorted(left.items()))
        _say(
            "reseal",
            f"rows not under key {keys.current}: {still}. Rows written meanwhile by a process "
            "on the old keys, or that do not open (a key missing, or altered values): restart "
            "every process on the new keys and run again. Keep every key named here.",
        )
        return 1
    print(f"everything sealed is under key {keys.current}: no older key is needed for it")
    return 0


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.action == "generate":
        return _generate(args)
    if args.action in ("add", "promote"):
        return _change_file(settings, args)
    return _reseal(settings, args)


def _batch_size(text: str) -> int:
    size = int(text)
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return size


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser(
        "keys",
        help="payload keys: rotate them, and reseal what they sealed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.add_argument(
        "action",
        choices=["generate", "add", "promote", "reseal"],
        help="generate: print a new id:key; add: a new key to the key file; promote: make a "
        "key the one that encrypts; reseal: seal plaintext contact details and notes, and move "
        "older keys' rows to the one that encrypts",
    )
    keys.add_argument("key_id", nargs="?", help="the key's id (letters, digits, _ -)")
    keys.add_argument(
        "--decrypt-only", action="store_true", help="add: it decrypts, a later promote encrypts"
    )
    keys.add_argument("--batch-size", type=_batch_size, default=500, help="reseal: rows per write")
    keys.set_defaults(run=run)
