"""Settings of the gateway (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the gateway, read from `GATEWAY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    port: int = 8000
    identity_url: str = "http://127.0.0.1:8001"
    cases_url: str = "http://127.0.0.1:8002"
    referrals_url: str = "http://127.0.0.1:8003"
    upstream_connect_timeout: float = 2.0
    upstream_timeout: float = 30.0
    upstream_pool_size: int = 100
