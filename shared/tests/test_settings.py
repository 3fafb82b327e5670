"""Settings refuse missing or placeholder secrets outside local development."""

from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from himaya.settings import ServiceSettings, to_asyncpg_url


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)
    required_secrets: ClassVar[tuple[str, ...]] = ("database_url", "api_secret")
    api_secret: SecretStr | None = None


class TestSecrets:
    def test_local_accepts_missing_secrets(self):
        assert DemoSettings(environment="local").api_secret is None

    def test_production_refuses_missing_secret(self):
        with pytest.raises(ValidationError, match="api_secret is required"):
            DemoSettings(environment="production", database_url="postgresql://u:p@h/db")

    @pytest.mark.parametrize("value", ["changeme", "secret", "short", "placeholder-value-123456"])
    def test_production_refuses_placeholders(self, value):
        with pytest.raises(ValidationError, match="placeholder"):
            DemoSettings(environment="production", database_url="postgresql://u:a-long-real-password@h/db",
                         api_secret=value)

    def test_production_accepts_real_secrets(self):
        s = DemoSettings(environment="production", database_url="postgresql://u:Zx9-long-random-value@h/db",
                         api_secret="q8Jr2mV0s7Lk1Pz4Wn6Tb3Yc")
        assert s.api_secret.get_secret_value().startswith("q8J")

    def test_env_prefix_is_read(self, monkeypatch):
        monkeypatch.setenv("DEMO_PORT", "9123")
        assert DemoSettings().port == 9123


class TestDatabaseUrl:
    @pytest.mark.parametrize("url", ["postgres://u:p@h:5432/d", "postgresql://u:p@h:5432/d",
                                     "postgresql+asyncpg://u:p@h:5432/d"])
    def test_any_postgres_scheme_becomes_asyncpg(self, url):
        assert to_asyncpg_url(url) == "postgresql+asyncpg://u:p@h:5432/d"

    def test_other_schemes_are_refused(self):
        with pytest.raises(ValueError):
            to_asyncpg_url("mysql://u:p@h/d")
