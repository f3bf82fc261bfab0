"""Chaos run: journeys driven through real processes while they are killed and restarted.

`python -m chaos` starts PostgreSQL, Temporal's dev server and a worker as separate processes,
drives many journeys concurrently (clients retry a decision with the same decision id), kills
and restarts the parts on a seeded schedule, then checks that no event was lost or duplicated.
See docs/chaos.md.
"""
