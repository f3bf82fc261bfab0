"""Carepath's custom search attributes: what ops filter journeys by in the Temporal UI.

Opaque ids and codes only, never PHI. This module is the one list: `carepath dev` registers them
on the dev server, docker-compose's admin tools create them (checked by tests/test_compose.py).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from domain import JourneyState, next_due
from domain.rules import CURRENT, Rules

STAGE = SearchAttributeKey.for_keyword("CarepathStage")
STATUS = SearchAttributeKey.for_keyword("CarepathStatus")
THERAPIST = SearchAttributeKey.for_keyword("CarepathTherapist")
PRESCRIBER = SearchAttributeKey.for_keyword("CarepathPrescriber")
CLINIC = SearchAttributeKey.for_keyword("CarepathClinic")
NEXT_DUE_AT = SearchAttributeKey.for_datetime("CarepathNextDueAt")
NEXT_DUE_KIND = SearchAttributeKey.for_keyword("CarepathNextDueKind")
DOSES_USED = SearchAttributeKey.for_int("CarepathDosesUsed")
DOSES_AUTHORIZED = SearchAttributeKey.for_int("CarepathDosesAuthorized")
OVERDUE = SearchAttributeKey.for_bool("CarepathOverdue")
# Set while the journey needs ops' attention (`not_recorded`: the store refused a decision).
ALERT = SearchAttributeKey.for_keyword("CarepathAlert")

ALL: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    STAGE,
    STATUS,
    THERAPIST,
    PRESCRIBER,
    CLINIC,
    NEXT_DUE_AT,
    NEXT_DUE_KIND,
    DOSES_USED,
    DOSES_AUTHORIZED,
    OVERDUE,
    ALERT,
)

# The type names the Temporal CLI and server take (`--search-attribute Name=Type`).
CLI_TYPES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "INT": "Int", "BOOL": "Bool"}


def cli_type(key: SearchAttributeKey) -> str:  # type: ignore[type-arg]
    return CLI_TYPES[key.indexed_value_type.name]


def values_for(
    state: JourneyState, overdue: bool, rules: Rules = CURRENT
) -> list[SearchAttributeUpdate]:  # type: ignore[type-arg]
    """The attribute values that describe `state` (unset: no next due item).

    `ALERT` is not among them: the workflow sets it only while there is an alert."""
    item = next_due(state, rules)
    updates: list[SearchAttributeUpdate] = [  # type: ignore[type-arg]
        STAGE.value_set(state.stage.value),
        STATUS.value_set(state.status.value),
        THERAPIST.value_set(state.therapist_id),
        PRESCRIBER.value_set(state.prescriber_id),
        CLINIC.value_set(state.clinic_id),
        DOSES_USED.value_set(state.doses.used),
        DOSES_AUTHORIZED.value_set(state.doses.authorized),
        OVERDUE.value_set(overdue),
    ]
    if item is None:
        updates += [NEXT_DUE_AT.value_unset(), NEXT_DUE_KIND.value_unset()]
    else:
        updates += [NEXT_DUE_AT.value_set(item.at), NEXT_DUE_KIND.value_set(item.kind.value)]
    return updates
