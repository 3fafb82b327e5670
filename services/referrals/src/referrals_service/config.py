"""Settings of the referrals service (environment prefix `REFERRALS_`)."""

from __future__ import annotations

from typing import ClassVar

import orjson
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from himaya.settings import DataServiceSettings


class Settings(DataServiceSettings):
    """Configuration of the referrals service, read from `REFERRALS_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="REFERRALS_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url", "events_secret", "field_keys")

    migration_database_url: SecretStr | None = None
    # Field-encryption keys of the free texts (reasons, outcomes, notes) as a JSON object {"kid": "secret", ...};
    # new values use the active kid (the last one listed when not set), older kids stay to decrypt (decision 0052).
    field_keys: SecretStr | None = None
    field_active_key: str | None = None
    # Other services, called with the caller's own Authorization header.
    cases_url: str = "http://127.0.0.1:8002"
    identity_url: str = "http://127.0.0.1:8001"
    # Shared with cases: signs the events POSTed to {cases_url}/internal/v1/events (decision 0004).
    events_secret: SecretStr | None = None
    # Webhook URLs resolving to private, loopback or link-local addresses (and plain http) are refused
    # unless this is true: for local development and tests only.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    # Outbox dispatcher: started with the app unless disabled (e.g. a replica dedicated to the API).
    dispatcher_enabled: bool = True
    outbox_base_backoff_seconds: float = 1.0
    outbox_max_backoff_seconds: float = 600.0
    outbox_poll_interval_seconds: float = 2.0
    outbox_max_attempts: int = 12

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
