"""The KAP care pathway as pure, deterministic Python: the only place that knows its rules.

One door in: `decide`, `evolve`, `fold`, `due`, the command and event unions and `Protocol`.
No I/O, no clock, no randomness, no Temporal here.
"""

from domain.commands import Command
from domain.decide import decide
from domain.due import DueItem, due, is_overdue, next_due
from domain.events import EVENT_ADAPTER, Event, UnknownEventError, parse_event, upcast
from domain.evolve import EvolveError, evolve, fold
from domain.instruments import Score
from domain.protocol import Protocol
from domain.rejection import Rejection, RejectionCode
from domain.state import JourneyState
from domain.vocabulary import (
    Actor,
    ClosedReason,
    DueKind,
    Role,
    Stage,
    Status,
)

__all__ = [
    "EVENT_ADAPTER",
    "Actor",
    "ClosedReason",
    "Command",
    "DueItem",
    "DueKind",
    "Event",
    "EvolveError",
    "JourneyState",
    "Protocol",
    "Rejection",
    "RejectionCode",
    "Role",
    "Score",
    "Stage",
    "Status",
    "UnknownEventError",
    "decide",
    "due",
    "evolve",
    "fold",
    "is_overdue",
    "next_due",
    "parse_event",
    "upcast",
]
