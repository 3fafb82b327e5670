"""Cross-service fixtures: the four real processes on a fresh database, reached through the gateway."""

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from himaya_dev.devstack import SERVICES, Stack, StackConfig, migrate, random_secrets

# Helpers of the cross-service suites (tests/authz) are imported by name, as tests run in importlib mode.
sys.path.insert(0, str(Path(__file__).parent))
from authz.provision import Directory

from tests.faults_support import free_port

# The scenario and the matrix log in dozens of actors and send thousands of requests from one address:
# the gateway's limits (decision 0020) are raised for this test stack rather than slowing the tests down.
TEST_STACK_LIMITS = {"GATEWAY_RATE_LIMIT_TOKEN_ENDPOINT": "100000", "GATEWAY_RATE_LIMIT_PER_IP": "1000000",
                     "GATEWAY_RATE_LIMIT_PER_CLIENT": "1000000",
                     # Webhook receivers of the tests listen on 127.0.0.1 only; every other private address
                     # stays refused (tests/test_referrals_security.py).
                     "REFERRALS_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}



@pytest.fixture(scope="session")
def stack_config(test_database_url: str, session_tag: str) -> StackConfig:
    """Ports, secrets and database of this session's stack (roles suffixed so they never clash)."""
    generated = random_secrets()
    # The services' in-process suites of this session write audit checkpoints into the same schemas, signed
    # with the development key (they set none); the stack signs with the same key so the session's
    # checkpoints verify as one history (a service keeps one signing key, decision 0102).
    generated.update({f"{s.name}_audit_signing_key": "" for s in SERVICES if s.schema})
    config = StackConfig(admin_url=test_database_url, ports={s.name: free_port() for s in SERVICES},
                         secrets=generated, role_suffix=f"_t{session_tag}",
                         extra=dict(TEST_STACK_LIMITS))
    migrate(config)
    return config


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """All four processes, started once per session; a test that stops one must start it again."""
    log_dir = Path(tmp_path_factory.mktemp("stack-logs"))
    running = Stack(stack_config, log_dir=log_dir)
    try:
        running.start_all()
        running.wait_ready()
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """A client of the gateway, the only entry point partners use."""
    with httpx.Client(base_url=stack.config.base_url("gateway"), timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def admin_token(stack: Stack) -> str:
    """An access token of the bootstrap administrator, obtained through the gateway."""
    with httpx.Client(base_url=stack.config.base_url("gateway"), timeout=15.0) as client:
        response = client.post("/v1/auth/token", data={
            "grant_type": "password", "username": "admin", "password": stack.config.secrets["admin_password"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def directory(stack: Stack, admin_token: str) -> Iterator[Directory]:
    """Organisations and actors (users, partner clients) created through the gateway as the administrator."""
    with httpx.Client(base_url=stack.config.base_url("gateway"), timeout=30.0) as client:
        yield Directory(client, admin_token)


@pytest.fixture(scope="session")
def merged_openapi(directory: Directory) -> dict[str, Any]:
    """The gateway's merged document once every service's part is in it (it is fetched in the background)."""
    deadline = time.monotonic() + 30
    while True:
        document = directory.gateway.get("/openapi.json").json()
        if "Not yet available" not in document["info"].get("description", ""):
            return dict(document)
        assert time.monotonic() < deadline, document["info"]
        time.sleep(0.2)
