"""The safety read model's reads (`projections.safety`'s tables): the clinic's adverse events,
and its controlled-substance report with the reconciliation an inspector asks for. Every read
takes the clinic: one clinic never sees another's rows. Nothing outside `projections/` queries
the tables.

A journey's ledger is the domain's own `domain.ledger.SubstanceLedger` (`SubstanceJourney.ledger`),
made from the rows the same way `domain.ledger.substance_ledger` makes it from the folded state:
what a session dispensed, administered and wasted counts once its dose was given (started, and in
progress or completed), and a session given without a dose on record is named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from database.pgtypes import Connection, Pool
from domain.commands import DoseGiven
from domain.ledger import DOSE_GIVEN_STATUSES, DoseTotals, SubstanceLedger, dose_totals
from domain.vocabulary import AdverseEventOutcome, AdverseEventSeverity, Seriousness

# The statuses of a session whose dose was given, as `domain.ledger` counts them.
GIVEN = sorted(status.value for status in DOSE_GIVEN_STATUSES)
ZERO = Decimal(0)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- adverse events ---------------------------------------------------------------------------


class AdverseEventEntry(_Out):
    client_id: str
    journey_id: str
    session_id: str = Field(description="the dosing session it follows")
    therapist_id: str
    prescriber_id: str
    source: Literal["reported", "at_discharge"] = Field(
        description="`reported`: reported on its own, at any time after the dose; "
        "`at_discharge`: given with the discharge (code and severity only)"
    )
    recorded_at: datetime = Field(description="when it was recorded")
    onset_at: datetime | None = Field(description="when it began (not given at discharge)")
    code: str = Field(description="what happened, as a code: `nausea`, `hypertension`, ...")
    severity: AdverseEventSeverity
    seriousness: list[Seriousness] = Field(
        description="what makes it serious (ICH E2A): hospitalisation, life-threatening, ..."
    )
    serious: bool = Field(description="serious in the regulatory sense (a safety hold follows)")
    outcome: AdverseEventOutcome | None = Field(description="as last reported (not at discharge)")
    actor_id: str = Field(description="who recorded it")
    actor_role: str


# $1 clinic, $2 therapist (NULL: everyone's), $3 serious (NULL: both), $4 since, $5 limit.
_ADVERSE_EVENTS = f"""
SELECT {", ".join(AdverseEventEntry.model_fields)}
  FROM adverse_events
 WHERE clinic_id = $1
   AND ($2::text IS NULL OR therapist_id = $2)
   AND ($3::bool IS NULL OR serious = $3)
   AND ($4::timestamptz IS NULL OR recorded_at >= $4)
 ORDER BY recorded_at DESC, global_position DESC, entry
 LIMIT $5
"""


async def adverse_events(
    db: Pool | Connection,
    clinic_id: str,
    *,
    therapist_id: str | None = None,
    serious: bool | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[AdverseEventEntry]:
    """The clinic's adverse events, newest first: with `therapist_id`, of that therapist's
    clients only; `serious` true or false, only those that are (or are not) serious; `since`,
    those recorded then or later."""
    rows = await db.fetch(_ADVERSE_EVENTS, clinic_id, therapist_id, serious, since, limit)
    return [AdverseEventEntry.model_validate(dict(r)) for r in rows]


# --- controlled substances --------------------------------------------------------------------


class SubstanceSession(_Out):
    """A dose given, as on record."""

    client_id: str
    journey_id: str
    session_id: str
    dose_number: int | None
    started_at: datetime
    dose_mg: Decimal | None = Field(description="administered (None: no dose on record)")
    route: str | None
    lot: str | None
    dispensed_mg: Decimal | None = Field(description="drawn from stock for this dose")
    wasted_mg: Decimal | None = Field(description="drawn, not given, witnessed as destroyed")
    unaccounted_mg: Decimal | None = Field(description="dispensed − administered − wasted")
    signed: bool = Field(description="its monitoring record is signed")
    amendments: int = Field(description="amendments of its signed record")


class SubstanceJourney(_Out):
    """A journey's controlled-substance ledger."""

    client_id: str
    journey_id: str
    therapist_id: str
    prescriber_id: str
    doses_authorized: int = Field(description="by the approval and the follow-ups")
    doses_started: int = Field(description="sessions whose dose was started (a dose used)")
    doses_recorded: int = Field(description="of those, with the dose given on record")
    dispensed_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal = Field(description="dispensed, neither administered nor wasted")
    sessions_without_dose_record: list[str] = Field(
        description="sessions whose dose was started with no dose (mg, route, lot) on record"
    )
    records_unsigned: list[str] = Field(
        description="sessions given whose monitoring record is not signed yet"
    )

    def ledger(self) -> SubstanceLedger:
        """The journey's ledger as the domain states it."""
        return SubstanceLedger.model_validate(
            self.model_dump(include=set(SubstanceLedger.model_fields))
        )


class LotTotal(_Out):
    lot: str
    doses: int = Field(description="doses on record from this lot")
    dispensed_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal


class SubstanceTotals(_Out):
    journeys: int
    doses_authorized: int
    doses_started: int
    doses_recorded: int
    dispensed_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal
    sessions_without_dose_record: int


class Discrepancy(_Out):
    kind: Literal["unaccounted", "no_dose_record", "over_authorized"] = Field(
        description="`unaccounted`: dispensed mg neither administered nor witnessed as wasted; "
        "`no_dose_record`: a dose started with no dose on record; `over_authorized`: more "
        "doses started than authorized"
    )
    client_id: str
    journey_id: str
    session_id: str | None
    lot: str | None
    amount_mg: Decimal | None = Field(description="unaccounted: the mg that do not add up")
    detail: str = Field(description="what does not reconcile, in plain words")


class SubstanceReport(_Out):
    clinic_id: str
    reconciled: bool = Field(description="no discrepancy")
    totals: SubstanceTotals
    journeys: list[SubstanceJourney] = Field(
        description="every journey with a dose authorized or started"
    )
    lots: list[LotTotal]
    sessions: list[SubstanceSession] = Field(description="every dose given, oldest first")
    discrepancies: list[Discrepancy]


_JOURNEYS = """
SELECT journey_id, client_id, therapist_id, prescriber_id, doses_authorized, doses_started
  FROM safety_journeys
 WHERE clinic_id = $1 AND ($2::text[] IS NULL OR journey_id = ANY($2::text[]))
 ORDER BY client_id, journey_id
"""
_GIVEN = """
SELECT journey_id, client_id, session_id, dose_number, started_at, dose_mg, route, lot,
       dispensed_mg, wasted_mg, signed_at IS NOT NULL AS signed, amendments
  FROM safety_sessions
 WHERE clinic_id = $1 AND ($2::text[] IS NULL OR journey_id = ANY($2::text[]))
   AND started_at IS NOT NULL AND status = ANY($3::text[])
 ORDER BY started_at, journey_id, session_id
"""


def _dose(row: Mapping[str, object]) -> DoseGiven | None:
    """The dose on record in a session's row (None: none recorded)."""
    if row["dose_mg"] is None:
        return None
    fields = ("dose_mg", "route", "lot", "dispensed_mg", "wasted_mg")
    return DoseGiven.model_validate({name: row[name] for name in fields})


def _session(row: dict[str, object]) -> SubstanceSession:
    dose = _dose(row)
    unaccounted = None if dose is None else dose_totals([dose]).unaccounted_mg
    return SubstanceSession.model_validate({**row, "unaccounted_mg": unaccounted})


def _totals(sessions: list[SubstanceSession]) -> DoseTotals:
    doses = [_dose(s.model_dump()) for s in sessions]
    return dose_totals(d for d in doses if d is not None)


def _journey(row: dict[str, object], sessions: list[SubstanceSession]) -> SubstanceJourney:
    recorded = [s for s in sessions if s.dose_mg is not None]
    return SubstanceJourney.model_validate(
        {
            **row,
            "doses_recorded": len(recorded),
            **_totals(recorded).model_dump(),
            "sessions_without_dose_record": sorted(
                s.session_id for s in sessions if s.dose_mg is None
            ),
            "records_unsigned": sorted(s.session_id for s in sessions if not s.signed),
        }
    )


async def substance_journeys(
    db: Pool | Connection, clinic_id: str, journey_ids: list[str] | None = None
) -> tuple[list[SubstanceJourney], list[SubstanceSession]]:
    """Every journey of the clinic (or those of `journey_ids` in it) with its ledger, and the
    doses given in them, oldest first."""
    journeys = await db.fetch(_JOURNEYS, clinic_id, journey_ids)
    given = [_session(dict(r)) for r in await db.fetch(_GIVEN, clinic_id, journey_ids, GIVEN)]
    by_journey: dict[str, list[SubstanceSession]] = defaultdict(list)
    for session in given:
        by_journey[session.journey_id].append(session)
    return [_journey(dict(r), by_journey[r["journey_id"]]) for r in journeys], given


def _discrepancies(
    journeys: list[SubstanceJourney], sessions: list[SubstanceSession]
) -> list[Discrepancy]:
    found = []
    for j in journeys:
        if j.doses_started > j.doses_authorized:
            found.append(
                Discrepancy(
                    kind="over_authorized",
                    client_id=j.client_id,
                    journey_id=j.journey_id,
                    session_id=None,
                    lot=None,
                    amount_mg=None,
                    detail=f"{j.doses_started} doses started, {j.doses_authorized} authorized",
                )
            )
    for s in sessions:
        if s.dose_mg is None:
            found.append(
                Discrepancy(
                    kind="no_dose_record",
                    client_id=s.client_id,
                    journey_id=s.journey_id,
                    session_id=s.session_id,
                    lot=None,
                    amount_mg=None,
                    detail=f"session {s.session_id}'s dose was started but no dose (mg, route, "
                    "lot) is on record",
                )
            )
        elif s.unaccounted_mg:
            found.append(
                Discrepancy(
                    kind="unaccounted",
                    client_id=s.client_id,
                    journey_id=s.journey_id,
                    session_id=s.session_id,
                    lot=s.lot,
                    amount_mg=s.unaccounted_mg,
                    detail=f"session {s.session_id}: {s.unaccounted_mg} mg of lot {s.lot} "
                    f"dispensed ({s.dispensed_mg} mg) is neither administered ({s.dose_mg} mg) "
                    f"nor witnessed as wasted ({s.wasted_mg} mg)",
                )
            )
    return found


def _lots(sessions: list[SubstanceSession]) -> list[LotTotal]:
    by_lot: dict[str, list[SubstanceSession]] = defaultdict(list)
    for s in sessions:
        if s.lot is not None:
            by_lot[s.lot].append(s)
    lots = []
    for lot, given in sorted(by_lot.items()):
        lots.append(LotTotal(lot=lot, doses=len(given), **_totals(given).model_dump()))
    return lots


async def substance_report(db: Pool | Connection, clinic_id: str) -> SubstanceReport:
    """The clinic's controlled-substance report: per journey, per lot, in total, and what does
    not reconcile."""
    every, sessions = await substance_journeys(db, clinic_id)
    journeys = [j for j in every if j.doses_authorized or j.doses_started]
    discrepancies = _discrepancies(journeys, sessions)
    totals = SubstanceTotals(
        journeys=len(journeys),
        doses_authorized=sum(j.doses_authorized for j in journeys),
        doses_started=sum(j.doses_started for j in journeys),
        doses_recorded=sum(j.doses_recorded for j in journeys),
        dispensed_mg=sum((j.dispensed_mg for j in journeys), ZERO),
        administered_mg=sum((j.administered_mg for j in journeys), ZERO),
        wasted_mg=sum((j.wasted_mg for j in journeys), ZERO),
        unaccounted_mg=sum((j.unaccounted_mg for j in journeys), ZERO),
        sessions_without_dose_record=sum(len(j.sessions_without_dose_record) for j in journeys),
    )
    return SubstanceReport(
        clinic_id=clinic_id,
        reconciled=not discrepancies,
        totals=totals,
        journeys=journeys,
        lots=_lots(sessions),
        sessions=sessions,
        discrepancies=discrepancies,
    )
