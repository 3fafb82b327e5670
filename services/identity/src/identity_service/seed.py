"""`python -m identity_service.seed [--file city.yaml]`: reference data, a signing key, the bootstrap admin,
and optionally a city's organisations, users and clients. Idempotent: run it as often as you like.

Without `--file` it loads territories and courts, makes sure a key signs tokens, and creates the
administrator named by IDENTITY_BOOTSTRAP_ADMIN_USERNAME / IDENTITY_BOOTSTRAP_ADMIN_PASSWORD if absent.
With `--file`, it also creates what the file lists that does not exist yet, and prints each new
client's secret once (store it: it cannot be shown again; rotate it if lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker

from himaya import clock
from himaya.auth import NATIONAL
from himaya.db import create_engine
from himaya.errors import DomainError
from identity_service.clients import service as clients
from identity_service.config import Settings
from identity_service.core.context import Context
from identity_service.core.crypto import KeyEncryption
from identity_service.keys import service as keys
from identity_service.organizations import service as organizations
from identity_service.territories import service as reference
from identity_service.users import service as users

BOOTSTRAP_ORGANIZATION = "Ministère de la Solidarité, de l'Insertion Sociale et de la Famille"


@dataclass
class SeedReport:
    """What one run created (secrets of new clients included, to print once)."""

    territories: int = 0
    courts: int = 0
    signing_key: str | None = None
    admin_created: bool = False
    created: list[str] = field(default_factory=list)
    client_secrets: list[dict[str, str]] = field(default_factory=list)


async def seed_base(ctx: Context, *, settings: Settings, now: datetime) -> SeedReport:
    """Reference data, an active signing key, and the bootstrap administrator if configured and absent."""
    report = SeedReport()
    report.territories, report.courts = await reference.load_reference_data(ctx)
    report.signing_key = await keys.ensure_signing_key(ctx, now=now)
    username = settings.bootstrap_admin_username
    password = settings.bootstrap_admin_password
    if username and password is not None and not await users.username_taken(ctx, username):
        org = await organizations.find_organization(ctx, name=BOOTSTRAP_ORGANIZATION, territory_code=NATIONAL)
        if org is None:
            org = await organizations.create_organization(ctx, name=BOOTSTRAP_ORGANIZATION, type_="ministry",
                                                          territory_code=NATIONAL, court_code=None)
        await users.create_user(ctx, username=username, full_name="Administrator", email=None,
                                organization_id=org.id, role="admin", territories=[NATIONAL],
                                password=password.get_secret_value())
        report.admin_created = True
    return report


def read_city_file(path: Path) -> dict[str, Any]:
    """A city provisioning file (YAML or JSON)."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("organizations"), list):
        raise ValueError(f"{path}: expected a mapping with an 'organizations' list")
    return data


async def provision_city(ctx: Context, data: dict[str, Any], *, now: datetime, report: SeedReport) -> None:
    """Create the organisations, users and clients of `data` that do not exist yet (matched by natural key)."""
    for spec in data["organizations"]:
        org = await organizations.find_organization(ctx, name=spec["name"], territory_code=spec["territory_code"])
        if org is None:
            org = await organizations.create_organization(
                ctx, name=spec["name"], type_=spec["type"], territory_code=spec["territory_code"],
                court_code=spec.get("court_code"))
            report.created.append(f"organization {spec['name']}")
        for user in spec.get("users", []):
            if await users.username_taken(ctx, user["username"]):
                continue
            await users.create_user(
                ctx, username=user["username"], full_name=user["full_name"], email=user.get("email"),
                organization_id=org.id, role=user["role"],
                territories=user.get("territories", [spec["territory_code"]]), password=user["password"])
            report.created.append(f"user {user['username']}")
        for client in spec.get("clients", []):
            if await clients.find_client(ctx, organization_id=org.id, name=client["name"]) is not None:
                continue
            created, secret = await clients.create_client(
                ctx, name=client["name"], organization_id=org.id, scopes=client["scopes"],
                territories=client.get("territories", [spec["territory_code"]]), now=now)
            report.created.append(f"client {client['name']}")
            report.client_secrets.append({"name": client["name"], "client_id": str(created.id),
                                          "client_secret": secret})


async def run(settings: Settings, *, city_file: Path | None) -> SeedReport:
    """Seed in one transaction: everything or nothing."""
    engine = create_engine(settings.dsn)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            now = clock.now()
            ctx = Context(session=session, principal=None, encryption=KeyEncryption(settings.kek))
            report = await seed_base(ctx, settings=settings, now=now)
            if city_file is not None:
                await provision_city(ctx, read_city_file(city_file), now=now, report=report)
        return report
    finally:
        await engine.dispose()


def main(argv: Sequence[str]) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="identity_service.seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, help="a city's organisations, users and clients (YAML or JSON)")
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(run(Settings(), city_file=args.file))
    except DomainError as exc:
        print(f"seed refused: {exc.detail or exc.title}", file=sys.stderr)
        return 1
    print(f"identity seed: {report.territories} territories, {report.courts} courts"
          + (f", new signing key {report.signing_key}" if report.signing_key else "")
          + (", bootstrap admin created" if report.admin_created else ""))
    for line in report.created:
        print("  created " + line)
    for item in report.client_secrets:
        print(f"  client {item['name']}: client_id={item['client_id']} client_secret={item['client_secret']}"
              "  (shown once: store it now)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
