"""Read models built from the event log: caseload, audit, outcomes.

Each projection's rows and its checkpoint change in one transaction, so a crash never
double-applies or skips; one runner reads the log once per batch for several projections; a
rebuild builds new tables beside the live ones and swaps them in when complete.
"""

from projections.audit import AuditProjection
from projections.caseload import CaseloadProjection
from projections.log import LogEvent
from projections.outcomes import OutcomesProjection
from projections.runner import Projection, ProjectionRunner


def all_projections() -> list[Projection]:
    """Every read model, in the order the runner applies a batch to them."""
    return [CaseloadProjection(), AuditProjection(), OutcomesProjection()]


__all__ = [
    "AuditProjection",
    "CaseloadProjection",
    "LogEvent",
    "OutcomesProjection",
    "Projection",
    "ProjectionRunner",
    "all_projections",
]
