"""The baseline for decision benchmarks: a workflow whose update changes a counter and returns."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BareUpdates")
class BareUpdates:
    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.update
    async def bump(self, value: int) -> int:
        self.count += value
        return self.count

    @workflow.signal
    def finish(self) -> None:
        self.done = True
