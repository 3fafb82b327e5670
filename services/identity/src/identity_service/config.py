"""Settings of the identity service (environment prefix `IDENTITY_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from himaya.settings import DataServiceSettings, Environment

# Only ever used when HIMAYA_ENV is local or test and no key was given; the validator of ServiceSettings
# refuses a missing key anywhere else.
LOCAL_DEVELOPMENT_KEK = "himaya-local-development-key-encryption-key"


class Settings(DataServiceSettings):
    """Configuration of the identity service, read from `IDENTITY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url", "key_encryption_key")

    migration_database_url: SecretStr | None = None

    # Encrypts the private signing keys at rest (AES-256-GCM, key derived with HKDF-SHA256).
    key_encryption_key: SecretStr | None = None

    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    access_token_ttl: int = Field(default=600, ge=60, le=3600)
    refresh_token_ttl: int = Field(default=8 * 3600, ge=300)
    # A refresh-token family (one login) ends after this, however often it is refreshed.
    session_max_age: int = Field(default=24 * 3600, ge=300)
    # A new signing key is published this long before it signs, so every verifier's cache sees it first.
    signing_key_lead_seconds: int = Field(default=300, ge=0)
    # After rotating a client secret, the old one keeps working this long unless told otherwise.
    client_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0)

    # Lockout per username and throttling per source address, counted on failed attempts.
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_window_seconds: int = Field(default=900, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    source_failure_threshold: int = Field(default=30, ge=1)
    source_window_seconds: int = Field(default=300, ge=1)
    source_block_seconds: int = Field(default=300, ge=1)

    @property
    def kek(self) -> str:
        """The key-encryption secret (a fixed development value in local and test only)."""
        if self.key_encryption_key is not None:
            return self.key_encryption_key.get_secret_value()
        if self.environment in (Environment.LOCAL, Environment.TEST):
            return LOCAL_DEVELOPMENT_KEK
        raise RuntimeError("IDENTITY_KEY_ENCRYPTION_KEY is required outside local development")
