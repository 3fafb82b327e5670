"""Settings of the referrals service (environment prefix `REFERRALS_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the referrals service, read from `REFERRALS_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="REFERRALS_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url",)

    migration_database_url: SecretStr | None = None
