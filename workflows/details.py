"""What the Temporal UI shows of a journey: a short markdown summary. Ids and codes only."""

from __future__ import annotations

from datetime import datetime

from domain.view import JourneyView


def current_details(view: JourneyView) -> str:
    status = view.status.value + (f" ({view.closed_reason.value})" if view.closed_reason else "")
    lines = [
        f"**Stage** {view.stage.value} · **Status** {status}",
        f"**Doses** {view.doses.used} used of {view.doses.authorized} authorized",
    ]
    if view.due:
        item = view.due[0]
        late = " — **overdue**" if view.overdue else ""
        lines.append(f"**Next due** {item.kind.value} at {item.at:%Y-%m-%d %H:%M} UTC{late}")
    elif view.overdue:
        lines.append("**Overdue**")
    if view.last_decision:
        d = view.last_decision
        lines.append(f"**Last decision** {d.type} by {d.actor.role.value} {d.actor.id}")
    lines.append(f"Therapist {view.therapist_id} · prescriber {view.prescriber_id}")
    return "\n\n".join(lines)


def static_summary(client_id: str, journey_id: str) -> str:
    return f"KAP journey {journey_id} (client {client_id})"


def not_recorded_details(at: datetime, decisions: list[str], error: str, version: int) -> str:
    """The refusal ops must see first: what was not recorded, and that the journey is as stored."""
    return (
        f"**NOT RECORDED** at {at:%Y-%m-%d %H:%M} UTC: {', '.join(decisions)} refused by the "
        f"event store ({error}). The journey is as stored (version {version}); ops were alerted."
    )
