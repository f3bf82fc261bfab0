"""Every query `docs/operations.md` gives ops runs on the Temporal dev server (with Carepath's
search attributes registered), and the schedules it names are the ones `apply` makes."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from workflows.schedules import DIGEST_CATCH_UP, FOLLOW_UP_HOUR, SCHEDULE_IDS, SWEEP_CATCH_UP

DOC = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
QUERIES = re.findall(r"```sql\n(.+?)\n```", DOC, flags=re.DOTALL)


async def test_every_documented_query_runs(dev_server: WorkflowEnvironment) -> None:
    assert len(QUERIES) >= 8
    for query in QUERIES:
        async for _ in dev_server.client.list_workflows(query, limit=1):
            break  # the server accepted it (an unknown attribute or bad syntax raises)


def test_the_documented_schedules_are_the_applied_ones() -> None:
    for schedule_id in SCHEDULE_IDS:
        assert f"`{schedule_id}`" in DOC
    assert f"daily {FOLLOW_UP_HOUR}:00" in DOC
    hours = (
        int(SWEEP_CATCH_UP.total_seconds() // 3600),
        int(DIGEST_CATCH_UP.total_seconds() // 3600),
    )
    assert f"| {hours[0]} h |" in DOC and f"| {hours[1]} h |" in DOC
