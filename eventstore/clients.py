"""A client's journeys as the store knows them: the streams whose `journey_started` names the
client in the clinic (index `events_journey_started_by_client`). The one home of that lookup."""

from __future__ import annotations

from database.pgtypes import Connection, Pool

# Events recorded before clinics were told apart name none: they are the clinic "default"'s.
_JOURNEYS_OF_CLIENT = """
SELECT stream_id FROM events
 WHERE event_type = 'journey_started' AND data->>'client_id' = $1
   AND coalesce(data->>'clinic_id', 'default') = $2
 ORDER BY global_position DESC
"""


async def journeys_of_client(db: Pool | Connection, client_id: str, clinic_id: str) -> list[str]:
    """The journey (stream) ids of the clinic's client, the latest started first."""
    return [row["stream_id"] for row in await db.fetch(_JOURNEYS_OF_CLIENT, client_id, clinic_id)]
