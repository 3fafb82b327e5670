"""Fixtures of the gateway's tests: small upstream apps and the gateway, each served by uvicorn on a free
port in this process, so requests cross real sockets and the aiohttp pools as in production."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, create_model

from gateway_service.config import Settings
from gateway_service.main import create_app
from himaya_dev.testing.plugin import TokenFactory


class UpstreamRecorder:
    """What reached one upstream: method, path, headers; and a gate a streaming test opens."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.produced = 0

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()
        self.gate = asyncio.Event()
        self.produced = 0


PREFIXES = {
    "identity": ["/v1/auth", "/v1/me", "/v1/organizations", "/v1/users", "/v1/clients",
                 "/v1/field-teams", "/v1/territories", "/v1/roles", "/v1/signing-keys", "/.well-known/jwks.json"],
    "cases": ["/v1/outings", "/v1/intakes", "/v1/cases", "/v1/children", "/v1/child-merge-requests",
              "/v1/duplicate-reviews", "/v1/stats", "/v1/audit",
              "/v1/institutions"],
    "referrals": ["/v1/referrals", "/v1/webhook-subscriptions", "/v1/dead-letters"],
}


def build_upstream(name: str, recorder: UpstreamRecorder) -> FastAPI:
    """A small service owning `name`'s prefixes: it echoes what it received, and can be slow or stream."""
    app = FastAPI(title=f"upstream {name}")

    # A schema every upstream names `Item`, with a different shape in each (a clash to resolve).
    Item = create_model("Item", value=(int if name == "cases" else str, ...))

    class Shared(BaseModel):
        """A schema identical in every upstream (kept once)."""

        code: str

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        record = {"method": request.method, "path": request.url.path, "query": request.url.query,
                  "headers": dict(request.headers), "body_length": len(body)}
        recorder.requests.append(record)
        return JSONResponse({"service": name, **record}, headers={"x-upstream": name, "connection": "keep-alive"})

    def typed(item: Item) -> Shared:  # type: ignore[valid-type]
        """An operation documented with the clashing and the shared schema."""
        return Shared(code=str(item.value))

    app.add_api_route(PREFIXES[name][0] + "/typed", typed, methods=["PUT"], operation_id="put_typed",
                      openapi_extra={"security": [{"OAuth2PasswordBearer": []}]})
    app.add_api_route("/internal/v1/events", typed, methods=["POST"], operation_id=f"{name}_events")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    if name == "cases":

        @app.get("/v1/cases-slow/{seconds}", include_in_schema=False)
        async def never_routed(seconds: float) -> dict[str, str]:
            return {"status": "never routed: /v1/cases-slow is not /v1/cases"}

        @app.get("/v1/stats/slow", include_in_schema=False)
        async def slow(seconds: float = 5.0) -> dict[str, str]:
            recorder.requests.append({"path": "/v1/stats/slow"})
            await asyncio.sleep(seconds)
            return {"status": "late"}

        @app.get("/v1/stats/export/big", include_in_schema=False)
        async def big(chunks: int = 512, chunk_size: int = 65536) -> StreamingResponse:
            async def produce() -> AsyncIterator[bytes]:
                block = b"x" * chunk_size
                yield block
                recorder.produced = 1
                # Nothing more is produced until the test has seen the first block through the gateway.
                await asyncio.wait_for(recorder.gate.wait(), timeout=10)
                for _ in range(chunks - 1):
                    recorder.produced += 1
                    yield block

            return StreamingResponse(produce(), media_type="text/csv")


    for prefix in PREFIXES[name]:
        app.add_api_route(prefix, echo, methods=["GET", "POST", "PATCH", "DELETE"], include_in_schema=False)
        app.add_api_route(prefix + "/{rest:path}", echo, methods=["GET", "POST", "PATCH", "DELETE"],
                          include_in_schema=False)

    return app


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """An ASGI app served by uvicorn in this event loop."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on", access_log=False, proxy_headers=False))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start serving and wait until the socket listens."""
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[Served]:
    """Serve `app` for the duration of the block."""
    served = Served(app, port or free_port())
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


@dataclass
class Stack:
    """Three upstream apps (recording what reached them) and a gateway in front of them."""

    upstreams: dict[str, Served]
    recorders: dict[str, UpstreamRecorder]
    gateway: Served
    app: FastAPI
    extra: list[Served] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A client of the gateway."""
        return httpx.AsyncClient(base_url=self.gateway.url, timeout=30.0, **kwargs)

    def hits(self) -> int:
        """Requests that reached any upstream (outside its own readiness and OpenAPI endpoints)."""
        return sum(len(r.requests) for r in self.recorders.values())


@contextlib.asynccontextmanager
async def gateway_stack(tokens: TokenFactory, **overrides: Any) -> AsyncIterator[Stack]:
    """Start the three upstreams and a gateway configured with `overrides`."""
    recorders = {name: UpstreamRecorder() for name in ("identity", "cases", "referrals")}
    async with contextlib.AsyncExitStack() as stack:
        upstreams = {name: await stack.enter_async_context(serving(build_upstream(name, rec)))
                     for name, rec in recorders.items()}
        urls = {f"{name}_url": served.url for name, served in upstreams.items()}
        settings = Settings(environment="test", log_json=True, **{**urls, **overrides})
        app = create_app(settings, verifier=tokens.verifier())
        gateway = await stack.enter_async_context(serving(app))
        yield Stack(upstreams=upstreams, recorders=recorders, gateway=gateway, app=app)


@pytest.fixture(scope="session")
def make_stack(tokens: TokenFactory) -> Any:
    """Start another gateway stack with settings overrides: `async with make_stack(rate_limit_per_ip=3)`."""
    return lambda **overrides: gateway_stack(tokens, **overrides)


@pytest.fixture(scope="session")
def serve() -> Any:
    """Serve an extra ASGI app on a free port: `async with serve(app) as served`."""
    return serving


@pytest.fixture(scope="session")
async def stack(tokens: TokenFactory) -> AsyncIterator[Stack]:
    """A gateway with default limits in front of the three upstreams, shared by the session."""
    async with gateway_stack(tokens) as s:
        yield s


@pytest.fixture
async def gw(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the shared gateway; the upstreams' records are cleared first."""
    for recorder in stack.recorders.values():
        recorder.clear()
    async with stack.client() as c:
        yield c
