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


class Carried(_Message):
    """What a journey carries across continue-as-new: its folded state and recent decisions."""

    state: JourneyState
    recent: dict[str, DecisionOutcome] = {}


class JourneyInput(_Message):
    start: StartJourney
    carried: Carried | None = None
    # Where the event append runs: a local activity (default, measured faster: bench/) or a
    # regular activity (its own task, visible in the UI, retried by the server).
    append_mode: Literal["local", "activity"] = "local"
    # Continue-as-new after this many decisions in one run (well before Temporal's 2,000 updates).
    decisions_per_run: int = Field(default=1000, ge=2, le=1800)


def journey_workflow_id(client_id: str) -> str:
    """The workflow id of a client's journey: opaque ids only, never a name."""
    return f"journey-{client_id}"
