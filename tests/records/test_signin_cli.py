"""`carepath users set-password` as a subprocess against real PostgreSQL: the password is set
(then signs in), a weak one is refused in plain words and changes nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from database.pgtypes import Pool
from records.signin import sign_in
from records.users import add_user

ROOT = Path(__file__).resolve().parents[2]


async def carepath(db_url: str, *args: str, stdin: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(PYTHONPATH=str(ROOT), CAREPATH_DATABASE_URL=db_url, CAREPATH_LOG_LEVEL="WARNING")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_set_password_from_stdin_then_sign_in(db_pool: Pool, db_url: str) -> None:
    clinician_id, _ = await add_user(db_pool, "Theo Therapist", "therapist")
    verb = ("users", "set-password", clinician_id, "--password-stdin")
    code, out, err = await carepath(db_url, *verb, stdin="short\n")
    assert code != 0 and "at least 12 characters" in err and "nothing was changed" in err
    assert (await sign_in(db_pool, clinician_id, "short"))[0] == "wrong"
    code, out, err = await carepath(db_url, *verb, stdin="a long passphrase here\n")
    assert code == 0, err
    assert "password set" in out and "a long passphrase here" not in out + err
    assert (await sign_in(db_pool, clinician_id, "a long passphrase here"))[0] == "ok"
    code, _, err = await carepath(
        db_url, "users", "set-password", "th-nobody", "--password-stdin", stdin="x" * 20
    )
    assert code != 0 and "no clinician th-nobody" in err
