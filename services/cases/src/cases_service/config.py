"""Settings of the cases service (environment prefix `CASES_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the cases service, read from `CASES_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url",)

    migration_database_url: SecretStr | None = None
