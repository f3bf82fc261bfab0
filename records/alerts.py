"""The in-app alert list (`alerts`): every notice to a clinician, kept so that none depends on
email or SMS. The one home of this table's SQL: record, mark the delivery, list a clinician's,
acknowledge.

Clinic scoping is absolute: every read and change names the caller's clinic, and another
clinic's alert is not there. Who an alert is for: a therapist's or a prescriber's is theirs
(`recipient_id` is the clinician's id); an ops alert is every ops of its clinic's
(`is_recipient`). Ids, codes and times only: no PHI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from database.pgtypes import Connection, Pool

Delivery = Literal["pending", "delivered", "undelivered"]
RecipientRole = Literal["therapist", "prescriber", "ops"]
RECIPIENT_ROLES: frozenset[str] = frozenset({"therapist", "prescriber", "ops"})

_RECORD = """
INSERT INTO alerts (idempotency_key, clinic_id, journey_id, client_id, recipient_role,
                    recipient_id, template, urgent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (idempotency_key) DO NOTHING
"""
_BY_KEY = "SELECT * FROM alerts WHERE idempotency_key = $1"
# Once delivered, an alert stays delivered (a later retry that failed changes nothing).
_MARK = """
UPDATE alerts SET delivery = $2, channel = coalesce($3, channel)
 WHERE idempotency_key = $1 AND delivery <> 'delivered'
"""
# $1 clinic, $2 role, $3 clinician id (ignored for ops), $4 acknowledged too, $5 limit.
_LIST = """
SELECT * FROM alerts
 WHERE clinic_id = $1 AND recipient_role = $2 AND ($2 = 'ops' OR recipient_id = $3)
   AND ($4 OR acknowledged_at IS NULL)
 ORDER BY created_at DESC, alert_id
 LIMIT $5
"""
_IN_CLINIC = "SELECT * FROM alerts WHERE alert_id = $1 AND clinic_id = $2"
# The first acknowledgement counts: a second keeps its time and person.
_ACKNOWLEDGE = """
UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()),
                  acknowledged_by = coalesce(acknowledged_by, $3)
 WHERE alert_id = $1 AND clinic_id = $2
RETURNING *
"""


@dataclass(frozen=True)
class NewAlert:
    """A notice to a clinician, as the alert list keeps it."""

    key: str  # the notice's idempotency key
    clinic_id: str
    journey_id: str  # the journey's workflow id
    client_id: str
    recipient_role: RecipientRole
    recipient_id: str  # the clinician's id; for ops, the clinic's
    template: str
    urgent: bool


@dataclass(frozen=True)
class Alert:
    alert_id: uuid.UUID
    clinic_id: str
    journey_id: str
    client_id: str
    recipient_role: RecipientRole
    recipient_id: str
    template: str
    urgent: bool
    created_at: datetime
    delivery: Delivery
    channel: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> Alert:
        return cls(
            alert_id=row["alert_id"],
            clinic_id=row["clinic_id"],
            journey_id=row["journey_id"],
            client_id=row["client_id"],
            recipient_role=row["recipient_role"],
            recipient_id=row["recipient_id"],
            template=row["template"],
            urgent=row["urgent"],
            created_at=row["created_at"],
            delivery=row["delivery"],
            channel=row["channel"],
            acknowledged_at=row["acknowledged_at"],
            acknowledged_by=row["acknowledged_by"],
        )


def is_recipient(alert: Alert, role: str, clinician_id: str) -> bool:
    """Whether a clinician of the alert's clinic is who it is for (the rule `_LIST` holds too):
    any ops for an ops alert, else the clinician it names, in the role it names."""
    if alert.recipient_role != role:
        return False
    return role == "ops" or alert.recipient_id == clinician_id


async def record_alert(db: Pool | Connection, alert: NewAlert) -> Alert:
    """Record an alert once (idempotent on its key); the row as it is now."""
    await db.execute(
        _RECORD,
        alert.key,
        alert.clinic_id,
        alert.journey_id,
        alert.client_id,
        alert.recipient_role,
        alert.recipient_id,
        alert.template,
        alert.urgent,
    )
    row = await db.fetchrow(_BY_KEY, alert.key)
    assert row is not None  # inserted, or there before: alerts are never deleted
    return Alert.of(row)


async def alert_by_key(db: Pool | Connection, key: str) -> Alert | None:
    row = await db.fetchrow(_BY_KEY, key)
    return Alert.of(row) if row is not None else None


async def mark_delivery(
    db: Pool | Connection, key: str, delivery: Delivery, channel: str | None = None
) -> None:
    """How the alert's notice went: a delivered alert stays delivered."""
    await db.execute(_MARK, key, delivery, channel)


async def alerts_for(
    db: Pool | Connection,
    clinic_id: str,
    role: str,
    clinician_id: str,
    *,
    include_acknowledged: bool = False,
    limit: int = 100,
) -> list[Alert]:
    """A clinician's alerts in their clinic (ops: the clinic's ops alerts), newest first;
    unacknowledged only unless `include_acknowledged`."""
    rows = await db.fetch(_LIST, clinic_id, role, clinician_id, include_acknowledged, limit)
    return [Alert.of(row) for row in rows]


@dataclass(frozen=True)
class Acknowledged:
    """What acknowledging found: the alert (None: not in the clinic), and whether the caller
    was its recipient (only then is it acknowledged)."""

    alert: Alert | None
    allowed: bool


async def acknowledge_alert(
    db: Pool | Connection, alert_id: uuid.UUID, clinic_id: str, role: str, clinician_id: str
) -> Acknowledged:
    """Acknowledge an alert of the clinic by its recipient; the first acknowledgement's time
    and person are kept. Another clinic's alert is not found."""
    row = await db.fetchrow(_IN_CLINIC, alert_id, clinic_id)
    if row is None:
        return Acknowledged(None, False)
    alert = Alert.of(row)
    if not is_recipient(alert, role, clinician_id):
        return Acknowledged(alert, False)
    acked = await db.fetchrow(_ACKNOWLEDGE, alert_id, clinic_id, clinician_id)
    assert acked is not None
    return Acknowledged(Alert.of(acked), True)
