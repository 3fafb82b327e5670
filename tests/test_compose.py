"""docker-compose.yml is correct without running Docker: structure, health checks, and every setting.

Compose cannot run on the development machines, so this reads the file, interpolates it as compose
would (with made-up strong secrets), and builds each service's real Settings from the environment it
would get, in production mode, where missing or placeholder secrets are refused.
"""

import importlib
import ipaddress
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from himaya.audit import signer_from_settings
from himaya.migrations import urls_from_env

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {"identity": 8001, "cases": 8002, "referrals": 8003, "gateway": 8000}
MIGRATIONS = ("identity", "cases", "referrals")
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def interpolate(value, env):
    if isinstance(value, str):
        def sub(m):
            name, op, arg = m.group(1), m.group(2), m.group(3)
            if name in env:
                return env[name]
            if op == "-":
                return arg
            raise KeyError(f"{name} is required by compose ({arg})")
        return VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def referenced_variables(text: str) -> set[str]:
    return {m.group(1) for m in VAR.finditer(text)}


@pytest.fixture(scope="module")
def raw_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(raw_text):
    env = {name: f"Strong-{name.lower()}-9f8e7d6c5b4a" for name in referenced_variables(raw_text)}
    env["CASES_FIELD_KEYS"] = '{"k1": "Kq3mZ8vL1xW0pR7tY5nB2cD4"}'
    env["REFERRALS_FIELD_KEYS"] = '{"k1": "Hx7pQ2wN9sJ4vB6mT1cR8dL3"}'
    return interpolate(yaml.safe_load(raw_text), env)


def settings_for(service: str, environment: dict, monkeypatch):
    module = importlib.import_module(f"{service}_service.config")
    prefix = service.upper() + "_"
    for key in list(os.environ):
        if key.startswith(prefix) or key == "HIMAYA_ENV":
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    return module.Settings()


class TestStructure:
    def test_every_process_and_one_shot_is_declared(self, compose):
        expected = {"postgres", *APP_SERVICES, *(f"migrate-{s}" for s in MIGRATIONS), "seed-identity"}
        assert expected <= set(compose["services"])

    def test_app_services_have_health_checks_and_right_ports(self, compose):
        for name, port in APP_SERVICES.items():
            svc = compose["services"][name]
            assert "healthcheck" in svc, name
            assert str(port) in svc["command"], name
            assert svc["environment"][f"{name.upper()}_PORT"] == str(port)
            assert svc["environment"]["HIMAYA_ENV"] == "production"
        assert compose["services"]["gateway"]["ports"] == ["8000:8000"]

    def test_services_wait_for_their_migrations(self, compose):
        for name in MIGRATIONS:
            deps = compose["services"][name]["depends_on"]
            wanted = "seed-identity" if name == "identity" else f"migrate-{name}"
            assert deps[wanted]["condition"] == "service_completed_successfully"
        assert compose["services"]["postgres"]["healthcheck"]

    def test_secrets_are_never_written_in_the_file(self, raw_text):
        for line in raw_text.splitlines():
            if re.search(r"(PASSWORD|SECRET|_KEY|KEYS):\s", line) and "${" not in line:
                pytest.fail(f"a secret is written literally: {line.strip()}")

    def test_env_example_lists_every_variable(self, raw_text):
        example = (ROOT / ".env.example").read_text()
        for name in referenced_variables(raw_text):
            assert re.search(rf"^{name}=", example, re.M), f"{name} missing from .env.example"


class TestSettings:
    @pytest.mark.parametrize("service", list(APP_SERVICES))
    def test_production_settings_validate(self, compose, service, monkeypatch):
        env = compose["services"][service]["environment"]
        settings = settings_for(service, env, monkeypatch)
        for field in type(settings).model_fields:
            value = getattr(settings, field)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            assert "127.0.0.1" not in str(value) and "localhost" not in str(value), (
                f"{service}.{field} still points at this machine in compose")

    @pytest.mark.parametrize("service", MIGRATIONS)
    def test_services_trust_exactly_the_gateway(self, compose, service, monkeypatch):
        settings = settings_for(service, compose["services"][service]["environment"], monkeypatch)
        gateway_ip = ipaddress.ip_address(compose["services"]["gateway"]["networks"]["default"]["ipv4_address"])
        assert settings.trusted_proxies == (ipaddress.ip_network(f"{gateway_ip}/32"),)

    def test_gateway_trusts_no_proxy_unless_one_is_configured(self, compose, monkeypatch):
        settings = settings_for("gateway", compose["services"]["gateway"]["environment"], monkeypatch)
        assert settings.trusted_proxies == ()

    @pytest.mark.parametrize("service", list(APP_SERVICES))
    def test_uvicorn_never_believes_forwarded_headers_itself(self, compose, service):
        command = compose["services"][service]["command"]
        assert "--no-proxy-headers" in command
        assert "--proxy-headers" not in command and "--forwarded-allow-ips" not in command
        assert "*" not in command

    @pytest.mark.parametrize("service", MIGRATIONS)
    def test_each_service_signs_its_audit_checkpoints_with_its_own_key(self, compose, service, monkeypatch):
        env = compose["services"][service]["environment"]
        signer = signer_from_settings(service, settings_for(service, env, monkeypatch))
        assert signer.key_id != signer_from_settings(service, settings_for(
            service, {**env, "HIMAYA_ENV": "local", f"{service.upper()}_AUDIT_SIGNING_KEY": ""}, monkeypatch)).key_id
        without = {k: v for k, v in env.items() if k != f"{service.upper()}_AUDIT_SIGNING_KEY"}
        with pytest.raises(RuntimeError, match="AUDIT_SIGNING_KEY"):
            signer_from_settings(service, settings_for(service, without, monkeypatch))

    def test_cases_refuses_production_without_the_stats_perturbation_key(self, compose, monkeypatch):
        env = dict(compose["services"]["cases"]["environment"])
        assert settings_for("cases", env, monkeypatch).stats_perturbation_key is not None
        del env["CASES_STATS_PERTURBATION_KEY"]
        with pytest.raises(ValueError, match="stats_perturbation_key is required"):
            settings_for("cases", env, monkeypatch)

    @pytest.mark.parametrize("service", MIGRATIONS)
    def test_migration_one_shots_have_both_urls(self, compose, service, monkeypatch):
        env = compose["services"][f"migrate-{service}"]["environment"]
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        admin_url, app_url = urls_from_env(service.upper() + "_")
        assert "himaya_owner" in admin_url and f"himaya_{service}:" in app_url
        app_env = compose["services"][service]["environment"]
        assert env[f"{service.upper()}_DATABASE_URL"] == app_env[f"{service.upper()}_DATABASE_URL"]
