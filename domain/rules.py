"""Which generation of the pathway's rules applies: a journey's workflow run keeps the rules it
started with (`workflow.patched`), so a history recorded before a rule changed still replays.
Everything outside a running workflow uses `CURRENT`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Issue 12: the session's monitoring record and vitals-gated discharge, adverse events at
    # any time, alerts for BP holds, missed check-ins and moderate screening results.
    session_safety: bool = True
    # Issue 13: the prescriber follow-up gates dosing by its date and is owed when a course
    # stops after a dose; a safety hold stops progression.
    course_governance: bool = True


CURRENT = Rules()
BEFORE_COURSE_GOVERNANCE = Rules(course_governance=False)
BEFORE_SESSION_SAFETY = Rules(session_safety=False, course_governance=False)
