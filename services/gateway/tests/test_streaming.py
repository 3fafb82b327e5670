"""Streaming: a large response flows through the gateway as it is produced, never buffered whole."""

from __future__ import annotations

import asyncio
from typing import Any

from himaya_dev.testing.plugin import TokenFactory


class TestLargeResponse:
    async def test_first_bytes_arrive_before_the_upstream_has_produced_the_rest(
            self, stack: Any, tokens: TokenFactory) -> None:
        recorder = stack.recorders["cases"]
        recorder.clear()
        chunks, size = 512, 65536  # 32 MiB in all
        received = 0
        async with stack.client() as c, c.stream(
                "GET", f"/v1/stats/export/big?chunks={chunks}&chunk_size={size}",
                headers=tokens.headers()) as r:
            assert r.status_code == 200
            iterator = r.aiter_raw()
            # The upstream produces one block, then waits for the gate. A gateway that buffered the whole
            # response would never let this first block through, and this read would time out.
            first = await asyncio.wait_for(anext(iterator), timeout=5)
            received += len(first)
            assert recorder.produced == 1
            recorder.gate.set()
            async for block in iterator:
                received += len(block)
        assert received == chunks * size
