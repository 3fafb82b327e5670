"""Settings of the cases service (environment prefix `CASES_`)."""

from __future__ import annotations

from typing import ClassVar

import orjson
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the cases service, read from `CASES_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url", "field_keys", "blind_index_key",
                                                   "events_secret", "stats_perturbation_key")

    migration_database_url: SecretStr | None = None
    # Field-encryption keys as a JSON object {"kid": "secret", ...}; new values use the active kid
    # (the last one listed when not set), older kids stay to decrypt until re-encrypted.
    field_keys: SecretStr | None = None
    field_active_key: str | None = None
    # Keyed hashes and name tokens for searching encrypted values.
    blind_index_key: SecretStr | None = None
    # HMAC secret of events posted by referrals to /internal/v1/events (decision 0004).
    events_secret: SecretStr | None = None
    # Secret of the statistics' cell-key perturbation (decision 0106): whoever holds it can compute the noise
    # of every published count. Changing it changes every protected figure once.
    stats_perturbation_key: SecretStr | None = None

    @field_validator("field_keys")
    @classmethod
    def _field_keys_are_a_json_object(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parsed = orjson.loads(value.get_secret_value() or "{}")
            if not isinstance(parsed, dict) or not all(isinstance(v, str) and v for v in parsed.values()):
                raise ValueError('field_keys must be a JSON object {"kid": "secret"}')
        return value

    def field_key_map(self) -> dict[str, str]:
        """The field-encryption keys by key id."""
        if self.field_keys is None:
            return {}
        parsed: dict[str, str] = orjson.loads(self.field_keys.get_secret_value() or "{}")
        return parsed
