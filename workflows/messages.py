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
