"""Read models built from the event log: caseload, audit, outcomes, safety.

Each projection's rows and its checkpoint change in one transaction, so a crash never
double-applies or skips; one runner reads the log once per batch for several projections; a
rebuild builds new tables beside the live ones and swaps them in when complete.

A read model owns its reads: its module here holds its projection (a name, its tables, `apply`)
and the queries others ask of its tables (the caseload's: `projections.caseload_queries`, used by
the API and the follow-up activities); nothing outside this package queries them. A new read
model is a module here, its tables' migration, and one line in `all_projections()`, the one
list the runner, the API, `carepath projections`, chaos and the benchmarks take them from.
"""

from projections.audit import AuditProjection
from projections.caseload import CaseloadProjection
from projections.log import LogEvent
from projections.outcomes import OutcomesProjection
from projections.runner import Projection, ProjectionRunner
from projections.safety import SafetyProjection


def all_projections() -> list[Projection]:
    """Every read model, in the order the runner applies a batch to them."""
    return [CaseloadProjection(), AuditProjection(), OutcomesProjection(), SafetyProjection()]


__all__ = [
    "AuditProjection",
    "CaseloadProjection",
    "LogEvent",
    "OutcomesProjection",
    "Projection",
    "ProjectionRunner",
    "SafetyProjection",
    "all_projections",
]
