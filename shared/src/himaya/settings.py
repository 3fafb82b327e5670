"""Settings base shared by every service: environment, database, tokens, logging."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "secret", "password", "xxx", "todo")


class Environment(StrEnum):
    """Where a process runs; only `local` and `test` may fall back to development values."""

    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


def is_placeholder(value: str) -> bool:
    """True when a secret looks like a value copied from an example file."""
    lowered = value.strip().lower()
    return len(lowered) < 16 or any(lowered == m or lowered.startswith(m) for m in PLACEHOLDER_MARKERS)


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set `env_prefix` and list their secrets."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # Names of SecretStr fields that must be provided (and not look like placeholders) outside local/test.
    required_secrets: ClassVar[tuple[str, ...]] = ()

    environment: Environment = Field(default=Environment.LOCAL, validation_alias="HIMAYA_ENV")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: SecretStr | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    log_level: str = "INFO"
    log_json: bool = True
    # Proxies (CIDR ranges) whose X-Forwarded-For is believed when computing the client's address
    # (himaya.forwarded): the gateway's address for a service, a load balancer's for the gateway.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ("127.0.0.1/32", "::1/128")  # type: ignore[assignment]

    # The Ed25519 key signing the audit log's checkpoints (decision 0102): a secret only the process holds,
    # never the database; local and test fall back to a fixed development key. Checkpoints are written every
    # `audit_checkpoint_interval_seconds` (0: only on verification).
    audit_signing_key: SecretStr | None = None
    audit_checkpoint_interval_seconds: float = 300.0

    # Token verification (every service verifies tokens itself against identity's JWKS).
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    token_issuer: str = "himaya-identity"
    token_audience: str = "himaya"
    token_algorithms: tuple[str, ...] = ("EdDSA",)
    # Identity's revocation feed (decision 0103): polled every `revocations_refresh_seconds`; once the last
    # good read is older than `revocations_max_staleness_seconds`, tokens are refused with 503 (0: never).
    revocations_url: str = "http://127.0.0.1:8001/internal/v1/revocations"
    revocations_refresh_seconds: float = Field(default=2.0, gt=0, le=60)
    revocations_max_staleness_seconds: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _refuse_missing_or_placeholder_secrets(self) -> ServiceSettings:
        if self.environment in (Environment.LOCAL, Environment.TEST):
            return self
        problems = []
        for name in self.required_secrets:
            value: Any = getattr(self, name)
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not raw:
                problems.append(f"{name} is required outside local development")
            elif isinstance(raw, str) and is_placeholder(raw):
                problems.append(f"{name} looks like a placeholder")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def dsn(self) -> str:
        """The database URL as a SQLAlchemy asyncpg URL."""
        if self.database_url is None:
            raise RuntimeError("database_url is not configured")
        return to_asyncpg_url(self.database_url.get_secret_value())


def to_asyncpg_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg dialect form."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError("database URL must start with postgresql://")


class DataServiceSettings(ServiceSettings):
    """Settings of a service that owns a schema: how long its technical stores keep rows (decision 0104).

    The service purges them itself, in the background, every `purge_interval_seconds` (0 turns it off).
    """

    # Answers kept for Idempotency-Key replays (the API promises at least 24 hours).
    idempotency_retention_hours: int = Field(default=48, ge=24, le=24 * 30)
    # Outbox events delivered to their destination; undelivered (pending or dead) ones are never purged.
    outbox_retention_days: int = Field(default=7, ge=1)
    purge_interval_seconds: float = Field(default=3600.0, ge=0)
    # Rows deleted per statement; each table gets at most `purge_max_batches` statements per run.
    purge_batch_size: int = Field(default=1000, ge=1, le=100_000)
    purge_max_batches: int = Field(default=100, ge=1)

    @property
    def idempotency_retention(self) -> timedelta:
        """How long answers are kept for replays."""
        return timedelta(hours=self.idempotency_retention_hours)

    @property
    def outbox_retention(self) -> timedelta:
        """How long delivered outbox events are kept."""
        return timedelta(days=self.outbox_retention_days)
