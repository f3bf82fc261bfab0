"""Read models built from the event log: caseload, audit, outcomes.

Each projection's rows and its checkpoint change in one transaction, so a crash never
double-applies or skips; each can be rebuilt from the start of the log.
"""

from projections.audit import AuditProjection
from projections.caseload import CaseloadProjection
from projections.outcomes import OutcomesProjection
from projections.runner import Projection, ProjectionRunner, all_projections

__all__ = [
    "AuditProjection",
    "CaseloadProjection",
    "OutcomesProjection",
    "Projection",
    "ProjectionRunner",
    "all_projections",
]
