"""The `carepath` command: the operator commands and the clinicians' client verbs."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import getpass
import json
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from config.settings import Settings, get_settings

if TYPE_CHECKING:
    from devstack.supervisor import DevOptions


def dev_options(args: argparse.Namespace, settings: Settings) -> DevOptions:
    """`carepath dev`'s ports: the flags, else the settings (`CAREPATH_API_PORT`, …)."""
    from devstack.supervisor import DevOptions

    return DevOptions(
        host=args.host,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        api_port=args.api_port if args.api_port is not None else settings.api_port,
        codec_port=args.codec_port if args.codec_port is not None else settings.codec_port,
        demo=args.demo,
    )


def _dev(args: argparse.Namespace) -> int:
    from devstack.supervisor import main as run_dev

    settings = get_settings()
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    return run_dev(settings, dev_options(args, settings))


def _migrate(_: argparse.Namespace) -> int:
    from database import run_migrations

    applied = asyncio.run(run_migrations(get_settings()))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
    return 0


def _worker(_: argparse.Namespace) -> int:
    from workers.run import main as run_worker

    run_worker()
    return 0


def _api(_: argparse.Namespace) -> int:
    from workers.api import main as serve

    serve()
    return 0


def _codec_server(_: argparse.Namespace) -> int:
    from workers.codec import serve_codec

    asyncio.run(serve_codec(get_settings()))
    return 0


def _projections(args: argparse.Namespace) -> int:
    from workers.projector import rebuild, run_projector

    settings = get_settings()
    if args.action == "rebuild":
        for name, count in asyncio.run(rebuild(settings, args.name)).items():
            print(f"{name}: rebuilt from {count} events")
        return 0
    run_projector(settings)
    return 0


def _schedules(_: argparse.Namespace) -> int:
    from workers.temporal import connect
    from workflows.schedules import SCHEDULE_IDS, apply_schedules

    settings = get_settings()

    async def apply() -> list[str]:
        return await apply_schedules(await connect(settings), settings)

    try:
        changed = asyncio.run(apply())
    except (RuntimeError, ValueError) as error:  # no Temporal address, a bad time zone
        print(f"carepath schedules: {error}", file=sys.stderr)
        return 1
    for schedule_id in SCHEDULE_IDS:
        print(f"{schedule_id}: {'applied' if schedule_id in changed else 'unchanged'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carepath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="start the whole stack on embedded defaults")
    dev.add_argument("--host", default="127.0.0.1", help="address every server binds to")
    dev.add_argument("--temporal-port", type=int, default=7233)
    dev.add_argument("--ui-port", type=int, default=8233)
    dev.add_argument("--api-port", type=int, default=None, help="default: CAREPATH_API_PORT")
    dev.add_argument("--codec-port", type=int, default=None, help="default: CAREPATH_CODEC_PORT")
    dev.add_argument("--data-dir", type=Path, default=None, help="default: .carepath/")
    dev.add_argument("--demo", action="store_true", help="seed every stage and a check-in")
    dev.set_defaults(run=_dev)
    sub.add_parser("migrate", help="apply the event store's migrations").set_defaults(run=_migrate)
    worker = sub.add_parser("worker", help="run a Temporal worker (journeys and activities)")
    worker.set_defaults(run=_worker)
    sub.add_parser("api", help="serve the clinicians' HTTP API").set_defaults(run=_api)
    codec = sub.add_parser("codec-server", help="decrypt payloads for the Temporal UI")
    codec.set_defaults(run=_codec_server)
    projections = sub.add_parser("projections", help="read models: rebuild or keep them current")
    projections.add_argument("action", choices=["rebuild", "run"])
    projections.add_argument("--name", help="one projection (default: all)")
    projections.set_defaults(run=_projections)
    schedules = sub.add_parser("schedules", help="the clinic's Temporal Schedules")
    schedules.add_argument("action", choices=["apply"], help="create or update them (idempotent)")
    schedules.set_defaults(run=_schedules)
    from cli.keys import register as register_keys

    register_keys(sub)
    from cli.client import register as register_client_verbs

    register_client_verbs(sub)
    _register_user_verbs(sub)
    _register_protocol_verbs(sub)
    return parser


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _users_list(args: argparse.Namespace) -> int:
    from cli.client import _show, _with_pool, table
    from records.users import list_users

    users = _with_pool(lambda pool: list_users(pool, args.clinic))
    answer = [
        {
            "clinician_id": user.clinician_id,
            "role": user.role,
            "clinic_id": user.clinic_id,
            "name": user.display_name,
            "tokens": [
                {
                    "created_at": token.created_at.isoformat(),
                    "expires_at": token.expires_at.isoformat(),
                    "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                    "state": token.state,
                }
                for token in user.tokens
            ],
        }
        for user in users
    ]
    rows = [
        [
            user.clinician_id,
            user.role,
            user.clinic_id,
            user.display_name,
            _when(token.created_at) if token else None,
            _when(token.expires_at) if token else None,
            _when(token.revoked_at) if token else None,
            token.state if token else "no token",
        ]
        for user in users
        for token in (user.tokens or (None,))
    ]
    headers = ["clinician", "role", "clinic", "name", "token issued", "expires", "revoked", "state"]
    return _show(args, answer, lambda _: table(rows, headers) if rows else "no clinicians")


def _users_rotate(args: argparse.Namespace) -> int:
    from cli.client import REFUSED, CliError, _show, _with_pool
    from records.users import rotate_token

    try:
        rotated = _with_pool(lambda pool: rotate_token(pool, args.clinician_id))
    except LookupError:
        raise CliError(REFUSED, "no such clinician") from None
    answer = {
        "clinician_id": args.clinician_id,
        "token": rotated.token,
        "revoked": rotated.revoked,
        "expires_at": rotated.expires_at.isoformat(),
    }
    return _show(
        args,
        answer,
        lambda a: (
            f"token {a['token']}\n"
            f"revoked {a['revoked']} older token(s); this one expires "
            f"{_when(rotated.expires_at)}\n"
            "The token is shown only this once: hand it to the clinician (CAREPATH_API_TOKEN)."
        ),
    )


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin (scripts), else asked twice without echo."""
    from cli.client import REFUSED, CliError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise CliError(REFUSED, "the two passwords differ: nothing was changed")
    return first


def _users_set_password(args: argparse.Namespace) -> int:
    from cli.client import REFUSED, CliError, _with_pool
    from records.signin import PasswordError, set_password

    password = _read_password(args.password_stdin)
    try:
        _with_pool(lambda pool: set_password(pool, args.clinician_id, password))
    except PasswordError as error:
        raise CliError(REFUSED, f"{error}: nothing was changed") from None
    print(f"password set for {args.clinician_id}; their web sessions have ended")
    return 0


def _register_user_verbs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`carepath users list|rotate|set-password`, beside `users add|token|revoke`
    (cli/client.py)."""
    from cli.client import _guarded

    verbs = next(
        action
        for action in sub.choices["users"]._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    listing = verbs.add_parser(
        "list",
        help="clinicians, roles, clinics and when their tokens were issued, expire, were revoked",
    )
    listing.add_argument("--clinic", help="only this clinic's clinicians")
    listing.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    listing.set_defaults(run=_guarded(_users_list))
    rotate = verbs.add_parser(
        "rotate", help="revoke a clinician's tokens and issue a new one (printed once)"
    )
    rotate.add_argument("clinician_id")
    rotate.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    rotate.set_defaults(run=_guarded(_users_rotate))
    password = verbs.add_parser(
        "set-password",
        help="set a clinician's web sign-in password (Argon2id); their web sessions end",
    )
    password.add_argument("clinician_id")
    password.add_argument(
        "--password-stdin", action="store_true", help="read it from one line of stdin"
    )
    password.set_defaults(run=_guarded(_users_set_password))


def _protocol_text(version: dict[str, Any]) -> str:
    values = version.get("values") or {}
    head = [
        ("protocol", version.get("label")),
        ("current", "yes" if version.get("current") else "no"),
        ("published", f"{version.get('published_at')} by {version.get('published_by')}"),
        ("digest", version.get("digest")),
    ]
    width = max(len(name) for name in values) if values else 0
    lines = [f"{k:<11}{v}" for k, v in head] + [""]
    for name, value in values.items():
        shown = ",".join(str(v) for v in value) if isinstance(value, list) else value
        lines.append(f"{name:<{width}}  {shown}")
    return "\n".join(lines)


def _protocol_show(args: argparse.Namespace) -> int:
    from cli.client import _show, call

    answer = call(get_settings(), "GET", "/protocols/current")
    return _show(args, answer, _protocol_text)


def _protocol_list(args: argparse.Namespace) -> int:
    from cli.client import _show, call, table

    answer = call(get_settings(), "GET", "/protocols", params={"limit": args.limit})
    rows = [
        [
            v["label"],
            "current" if v["current"] else None,
            v["published_at"],
            v["published_by"],
            v["publisher_role"],
        ]
        for v in answer
    ]
    headers = ["VERSION", "", "PUBLISHED", "BY", "ROLE"]
    return _show(args, answer, lambda _: table(rows, headers))


def _read_values(source: str) -> dict[str, Any]:
    """The protocol's values from a JSON file (- for stdin): the values themselves, or a version
    as `protocol show --json` prints it (its `values`)."""
    from cli.client import BAD_INPUT, CliError

    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        values = json.loads(raw)
    except (OSError, ValueError):
        raise CliError(BAD_INPUT, "--file must name a JSON file (or - for stdin)") from None
    if isinstance(values, dict) and isinstance(values.get("values"), dict) and "label" in values:
        values = values["values"]
    if not isinstance(values, dict):
        raise CliError(BAD_INPUT, "--file must hold a JSON object: the protocol's values")
    return values


def _protocol_publish(args: argparse.Namespace) -> int:
    from cli.client import _show, call

    body: dict[str, Any] = {"values": _read_values(args.file)}
    if args.name is not None:
        body["name"] = args.name
    answer = call(get_settings(), "POST", "/protocols", body=body)
    return _show(args, answer, lambda v: f"published (current)\n{_protocol_text(v)}")


def _register_protocol_verbs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`carepath protocol show|list|publish`: the clinic's protocol registry, through the API."""
    from cli.client import _guarded

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    protocol = sub.add_parser("protocol", help="your clinic's protocol: its versions, publishing")
    verbs = protocol.add_subparsers(dest="protocol_command", required=True)
    show = verbs.add_parser(
        "show", parents=[common], help="the current version: its label and values"
    )
    show.set_defaults(run=_guarded(_protocol_show))
    listing = verbs.add_parser("list", parents=[common], help="the versions, newest first")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=_guarded(_protocol_list))
    publish = verbs.add_parser(
        "publish",
        parents=[common],
        help="publish a new version from a JSON file of values (the clinical lead only)",
        description="Every setting left out of the file takes its built-in default; "
        "`carepath protocol show --json` prints the current version, whose file may be edited "
        "and published.",
    )
    publish.add_argument("--file", required=True, metavar="FILE", help="JSON values (- for stdin)")
    publish.add_argument("--name", help="the protocol's name (default: the current version's)")
    publish.set_defaults(run=_guarded(_protocol_publish))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


def entry() -> NoReturn:
    """The `carepath` command: run a verb, then exit without interpreter teardown.

    Temporal's Rust core keeps threads that may touch the GIL while CPython
    finalizes, which aborts a finished process now and then
    (temporalio/sdk-python#300). Exit handlers still run; only the teardown is skipped.
    """
    try:
        code = main()
    except SystemExit as stop:  # argparse errors, --help
        if isinstance(stop.code, int) or stop.code is None:
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except Exception:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
