"""Who may be assigned a client: a clinician of the clinic in the role named. The one home of
that check, used when a journey starts and when ops reassign a client."""

from __future__ import annotations

from database.pgtypes import Pool
from domain.vocabulary import Role

_ROLE_IN_CLINIC = """
SELECT role FROM clinicians WHERE clinician_id = $1 AND clinic_id = $2
"""


async def is_assignable(pool: Pool, clinician_id: str, role: Role, clinic_id: str) -> bool:
    """`clinician_id` is a `role` of `clinic_id` (another clinic's clinician is not)."""
    found: str | None = await pool.fetchval(_ROLE_IN_CLINIC, clinician_id, clinic_id)
    return found == role.value
