"""A service's own background schedule: one coroutine run every `interval` seconds inside its process."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    """Runs `job` every `interval_seconds` (0 or less: never) after a random start delay of up to
    `min(interval, 60 s)`, so replicas started together do not run in step. A failing run is logged as
    `<name>_failed` and the schedule goes on; `stop` cancels a run in progress."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], *, interval_seconds: float) -> None:
        self.name = name
        self.job = job
        self.interval_seconds = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        await asyncio.sleep(random.uniform(0, min(self.interval_seconds, 60.0)))  # noqa: S311
        while True:
            try:
                await self.job()
            except Exception as exc:  # database down: try again at the next run
                log.warning(f"{self.name}_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(self.interval_seconds)

    def start(self) -> None:
        """Start the schedule (called by the app's lifespan)."""
        if self.interval_seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop the schedule."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
