"""The periodic background job plugins use for TTL purges."""

from __future__ import annotations

import asyncio

from prism.plugins.periodic import Periodic


def test_runs_repeatedly_survives_failures_and_stops() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("backend down")  # must not end the job

    async def scenario() -> tuple[int, bool, bool]:
        periodic = Periodic("test job", 0.01, job)
        periodic.start()
        periodic.start()  # idempotent: still one task
        await asyncio.sleep(0.2)
        running = periodic.running
        await periodic.stop()
        await periodic.stop()  # idempotent
        count = len(calls)
        await asyncio.sleep(0.05)
        return count, running, len(calls) == count

    count, running, stopped = asyncio.run(scenario())
    assert running
    assert count >= 4, f"job ran only {count} times in 0.2 s at a 10 ms interval"
    assert stopped, "the job kept running after stop()"
