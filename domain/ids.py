"""Journeys' and check-ins' ids: opaque, per clinic, never a name.

One scheme names a journey's Temporal workflow and its stream in the event store, and a
check-in's workflow; a payload's clinic follows from the id alone (the codec stamps it).
"""

from __future__ import annotations

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
    `journey_workflow_id` and `check_in_workflow_id`); None for any other
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


def check_in_workflow_id(journey_id: str, check_in: str, clinic_id: str = DEFAULT_CLINIC) -> str:
    """One check-in of one journey: opaque ids only. Like journeys, a check-in of the clinic
    "default" is `followup-<journey id>-<check-in>`, of any other clinic
    `followup-<clinic>~<journey id>-<check-in>`: its clinic follows from its id
    (`clinic_of_workflow`, which the payload codec stamps payloads with)."""
    return CHECK_IN_PREFIX + clinic_scoped(clinic_id, f"{journey_id}-{check_in}")
