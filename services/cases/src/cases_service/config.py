"""Settings of the cases service (environment prefix `CASES_`)."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import orjson
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from himaya.settings import DataServiceSettings

# Processed event ids are purged this long after the window in which events are accepted, so a difference
# between the two services' clocks never opens a gap where an old event is accepted and its id forgotten.
PROCESSED_EVENTS_MARGIN = timedelta(days=1)


class Settings(DataServiceSettings):
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
    # Ids of the events applied, kept so a redelivery is recognised; an event older than this is refused, so
    # it can never be applied twice once its id is purged (decision 0104). Keep it longer than the longest a
    # dead event may wait in referrals before an administrator replays it.
    processed_events_retention_days: int = Field(default=180, ge=7)
    # How long an access grant lasts without news of its reason (decision 0107): an intake's reporter, a
    # referral to a service provider, a referral to a prosecution office. A referral's events renew its grant;
    # its end (and a case's closure, for reporters) revokes it earlier.
    grant_days_reporter: int = Field(default=180, ge=1, le=3650)
    grant_days_service: int = Field(default=365, ge=1, le=3650)
    grant_days_prosecution: int = Field(default=730, ge=1, le=3650)
    # Identity's directory, asked with the caller's token whether a case's lead organisation, case manager,
    # institution or placement keeps to the territory and organisation rules (decision 0107).
    identity_url: str = "http://127.0.0.1:8001"
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

    @property
    def processed_events_retention(self) -> timedelta:
        """How old an event may be and still be applied; ids are kept this long plus a margin."""
        return timedelta(days=self.processed_events_retention_days)
