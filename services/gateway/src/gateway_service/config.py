"""Settings of the gateway (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, IPvAnyNetwork
from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the gateway, read from `GATEWAY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    port: int = 8000
    identity_url: str = "http://127.0.0.1:8001"
    cases_url: str = "http://127.0.0.1:8002"
    referrals_url: str = "http://127.0.0.1:8003"

    # Upstream pools and timeouts; `upstream_timeouts` overrides the read timeout per service,
    # e.g. GATEWAY_UPSTREAM_TIMEOUTS='{"cases": 10}'.
    upstream_connect_timeout: float = 2.0
    upstream_timeout: float = 30.0
    upstream_timeouts: dict[str, float] = Field(default_factory=dict)
    upstream_pool_size: int = 100

    # Requests larger than this are refused with 413 before (or while) they reach a service.
    max_body_bytes: int = 2 * 1024 * 1024

    # The gateway is the edge: no one's X-Forwarded-For is believed unless a load balancer in front is named
    # here (CIDR ranges, e.g. GATEWAY_TRUSTED_PROXIES='["10.0.0.0/28"]').
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()

    # Rate limits: requests per minute, each with a burst of the same size (GCRA).
    rate_limit_per_client: int = 1200
    rate_limit_per_ip: int = 2400
    rate_limit_token_endpoint: int = 20
    # Shared limits across replicas when set (accepts GATEWAY_REDIS_URL or REDIS_URL).
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL"))

    # The merged OpenAPI document is rebuilt from the services' documents this often.
    openapi_refresh_seconds: float = 60.0

    # Verified access tokens are remembered (until they expire) so a token is verified once per process.
    token_cache_size: int = 10_000
