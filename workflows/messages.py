"""The journey workflow's inputs and outputs: one pydantic model per message, passed whole."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import Command, JourneyState
from domain.commands import StartJourney
from domain.view import JourneyView


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DecisionRequest(_Message):
    command: Command = Field(discriminator="type")


class DecisionOutcome(_Message):
    decision_id: str
    events: list[str]  # the types of the events recorded (empty for a repeat)
    view: JourneyView
    # What the decision was (`workflows.fingerprints`): a reused id with other content is
    # refused. None in outcomes recorded before fingerprints existed.
    fingerprint: str | None = None


class Carried(_Message):
    """What a journey carries across continue-as-new: its folded state and recent decisions."""

    state: JourneyState
    recent: dict[str, DecisionOutcome] = {}


class JourneyInput(_Message):
    start: StartJourney
    carried: Carried | None = None
    # Where the event append runs. A regular activity (default) is scheduled only by a
    # completed workflow task, so its events are in history and a retry appends exactly them.
    # A local activity is faster (bench/journey_updates.py) but runs before its workflow task
    # completes: if that task fails and is retried, the events are decided again with a new
    # `workflow.now()` under the same ids, and the store refuses them (see docs/workflows.md).
    append_mode: Literal["local", "activity"] = "activity"
    # Upsert Carepath's search attributes (they must be registered on the server; the
    # time-skipping test server cannot register them, so its tests turn this off).
    search_attributes: bool = True
    # Continue-as-new after this many decisions in one run (well before Temporal's 2,000 updates).
    decisions_per_run: int = Field(default=1000, ge=2, le=1800)


DEFAULT_CLINIC = "default"
# Between a clinic and a client id in a workflow id: a character no opaque id has
# (`[A-Za-z0-9_.:-]`), so `journey-<clinic>~<client>` never collides with `journey-<client>`.
# RFC 3986 unreserved: Temporal and its UI take it as it is in ids and URLs.
CLINIC_SEPARATOR = "~"
JOURNEY_PREFIX = "journey-"
CHECK_IN_PREFIX = "followup-"


def journey_workflow_id(client_id: str, clinic_id: str = DEFAULT_CLINIC) -> str:
    """The workflow id of a client's journey in a clinic: opaque ids only, never a name.

    Client ids are per clinic. The clinic "default" keeps the form `journey-<client id>` (the
    only form before clinics were told apart: existing journeys and histories stay valid);
    any other clinic's journeys are `journey-<clinic id>~<client id>`.
    """
    return JOURNEY_PREFIX + clinic_scoped(clinic_id, client_id)


def clinic_scoped(clinic_id: str, local_id: str) -> str:
    """`<local id>` in the clinic "default", `<clinic id>~<local id>` in any other."""
    if clinic_id == DEFAULT_CLINIC:
        return local_id
    if not clinic_id or CLINIC_SEPARATOR in clinic_id:
        raise ValueError("a clinic id is an opaque id")
    return f"{clinic_id}{CLINIC_SEPARATOR}{local_id}"


def clinic_of_workflow(workflow_id: str) -> str | None:
    """The clinic a journey or check-in workflow belongs to, from its id alone (the scheme of
    `journey_workflow_id` and `activities.followups.check_in_workflow_id`); None for any other
    workflow (the deployment's schedules: the follow-up sweep, the daily digest)."""
    for prefix in (JOURNEY_PREFIX, CHECK_IN_PREFIX):
        if workflow_id.startswith(prefix):
            rest = workflow_id[len(prefix) :]
            clinic, separator, local = rest.partition(CLINIC_SEPARATOR)
            if not separator:
                return DEFAULT_CLINIC if rest else None
            return clinic if clinic and local else None
    return None


def client_of_journey_workflow(workflow_id: str) -> tuple[str, str] | None:
    """(clinic id, client id) of a journey workflow id; None for any other id."""
    clinic = clinic_of_workflow(workflow_id)
    if clinic is None or not workflow_id.startswith(JOURNEY_PREFIX):
        return None
    rest = workflow_id[len(JOURNEY_PREFIX) :]
    return clinic, rest.partition(CLINIC_SEPARATOR)[2] if CLINIC_SEPARATOR in rest else rest
