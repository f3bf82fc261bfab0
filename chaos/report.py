"""The run in numbers: a table on the terminal and JSON beside the benchmarks' results."""

from __future__ import annotations

import contextlib
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos.driver import Journey, Record
from chaos.verify import Checks


def decision_numbers(journeys: Sequence[Journey], drive_seconds: float) -> dict[str, Any]:
    records: list[Record] = [r for j in journeys for r in j.records]
    answered = [r for r in records if r.answer in ("accepted", "rejected")]
    latencies = sorted(r.seconds for r in answered if r.via == "update")
    by_via = Counter(r.via for r in records)
    return {
        "sent": len(records),
        "starts": by_via["start"],
        "updates": by_via["update"],
        "signals": by_via["signal"],
        "accepted": sum(1 for r in records if r.answer == "accepted"),
        "rejected": sum(1 for r in records if r.answer == "rejected"),
        "signals_delivered": sum(1 for r in records if r.answer == "delivered"),
        "retried": sum(1 for r in records if r.attempts > 1),
        "attempts": sum(r.attempts for r in records),
        "repeats": sum(r.repeats for r in records),
        "misfires": sum(1 for r in records if r.misfire),
        "unanswered": sum(1 for r in records if r.answer in ("unanswered", "pending")),
        "failed": sum(1 for r in records if r.answer == "failed"),
        "retry_reasons": dict(sum((r.errors for r in records), Counter())),
        "per_s": round(len(records) / drive_seconds, 1) if drive_seconds else None,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(latencies[int(0.99 * (len(latencies) - 1))], 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
    }


def worker_log_numbers(paths: Sequence[Path]) -> dict[str, Any]:
    """What the processes' JSON logs say: appends (and retried ones found already stored),
    warnings and errors by message."""
    appended = already = 0
    warnings: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    lines: list[str] = []
    for path in paths:
        with contextlib.suppress(OSError):
            lines += path.read_text(errors="replace").splitlines()
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = str(entry.get("event", ""))[:120]
        level = entry.get("level")
        if event == "events appended":
            appended += 1
            already += entry.get("written") is False
        elif level == "warning":
            warnings[event] += 1
        elif level in ("error", "critical"):
            errors[event] += 1
    return {
        "appends": appended,
        "appends_found_already_stored": already,
        "warnings": dict(warnings.most_common(12)),
        "errors": dict(errors.most_common(12)),
    }


def print_report(result: dict[str, Any]) -> None:
    args = result["args"]
    print()
    print(
        f"Chaos run, seed {result['seed']}: {args['minutes']} min of decisions, "
        f"{args['journeys']} journeys in play, {args['callers']} callers, "
        f"{args['workers']} worker(s) "
        f"({result['machine'].get('cpus')} CPUs, load {result['machine'].get('load_average')})"
    )
    print(f"\nFaults injected ({len(result['faults'])}):")
    for fault in result["faults"]:
        print(f"  {fault['at'][11:23]}  +{fault['t']:7.2f}s  {fault['message']}")
    d = result["decisions"]
    print(
        f"\nDecisions: {d['sent']} sent ({d['starts']} starts, {d['updates']} updates, "
        f"{d['signals']} signals; {d['misfires']} the pathway may refuse), "
        f"{d['accepted']} accepted, {d['rejected']} rejected, {d['signals_delivered']} "
        f"signals delivered;\n  {d['retried']} retried with the same decision id "
        f"({d['attempts']} attempts in all), {d['repeats']} sent again after their answer, "
        f"{d['unanswered']} unanswered, {d['failed']} failed; {d['per_s']}/s, "
        f"p50 {d['p50_s']} s, p99 {d['p99_s']} s, max {d['max_s']} s"
    )
    if d["retry_reasons"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(d["retry_reasons"].items()))
        print(f"  why attempts were repeated: {reasons}")
    j = result["journeys"]
    print(
        f"Journeys: {j['started']} started ({j['by_status']}); "
        f"{j.get('continued_as_new', '?')} runs continued as new"
    )
    n = result["notifications"]
    print(
        f"Events: {result['events']} in {result['streams']} streams; notifications "
        f"{n.get('rows')} {n.get('by_status')}, {n.get('mails')} mails "
        f"({n.get('mails_sent_twice')} delivered twice)"
    )
    o = result["observations"]
    w = o["worker_log"]
    print(
        f"Worker: {o['worker_starts']} starts, {len(o['worker_exits'])} exits on its own; "
        f"{w.get('appends')} appends, {w.get('appends_found_already_stored')} retried appends "
        f"found their events already stored. Projector: {o['projector_starts']} starts, "
        f"{len(o['projector_exits'])} exits on its own"
    )
    for name in ("worker_log", "projector_log"):
        for level in ("errors", "warnings"):
            for message, count in o[name].get(level, {}).items():
                print(f"  {name.split('_')[0]} {level[:-1]} x{count}: {message}")
    print(f"\n  {'check':<18} {'passed':>7} {'failed':>7}  what")
    for check in result["checks"]:
        print(f"  {check['name']:<18} {check['passed']:>7} {check['failed']:>7}  {check['what']}")
    for check in result["checks"]:
        for failure in check["failures"][:10]:
            print(f"  FAILED {check['name']}: {failure}")
    verdict = "PASS: every check passed" if result["passed"] else "FAIL: see the failures above"
    print(f"\n{verdict} ({result['timing']['total_s']} s in all)")


def check_rows(checks: Checks | None) -> list[dict[str, Any]]:
    return [] if checks is None else [c.row() for c in checks.all.values()]


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written: {path}")
