"""Per-service Alembic migrations and database provisioning (schema, role, grants).

Each service owns one schema and one login role. Migrations run with an owner/administrator URL; the
service's own role gets DML on its schema only, and no UPDATE or DELETE on append-only tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config

from himaya.db import create_engine
from himaya.settings import to_asyncpg_url

LOCK_TIMEOUT = "5s"


def alembic_config(migrations_dir: Path, *, url: str | None = None, schema: str) -> Config:
    """An Alembic config for a service's migrations folder (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("version_table_schema", schema)
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", to_asyncpg_url(url).replace("%", "%%"))
    return cfg


HAND_MAINTAINED = "maintained by hand"


def object_filter(schema: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` for a service: its own schema's tables only, and never a table of the
    database that the code does not declare and whose comment starts with "maintained by hand" (tables a
    migration writes by hand and triggers keep, e.g. the statistics' facts), so autogenerate leaves them."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            if reflected and compare_to is None and str(getattr(obj, "comment", None) or "").startswith(
                    HAND_MAINTAINED):
                return False
            return bool(getattr(obj, "schema", None) == schema)
        return True

    return include_object


def run_env(*, schema: str, metadata: sa.MetaData) -> None:
    """Body of every service's migrations/env.py: online migrations over asyncpg in the service's schema."""
    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by the caller"

    include_object = object_filter(schema)

    def do_run(connection: sa.Connection) -> None:
        connection.execute(sa.text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(connection=connection, target_metadata=metadata, version_table_schema=schema,
                          include_schemas=True, include_object=include_object, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def urls_from_env(prefix: str) -> tuple[str, str]:
    """The owner URL (`<PREFIX>MIGRATION_DATABASE_URL`) and the service role's URL (`<PREFIX>DATABASE_URL`).

    Migrations need nothing else, so they do not load (and require the secrets of) the app's settings.
    """
    import os

    admin, app = os.environ.get(prefix + "MIGRATION_DATABASE_URL"), os.environ.get(prefix + "DATABASE_URL")
    if not admin or not app:
        raise SystemExit(f"{prefix}MIGRATION_DATABASE_URL and {prefix}DATABASE_URL are required")
    return admin, app


def _role_from_url(app_url: str) -> tuple[str, str | None]:
    parts = urlsplit(app_url)
    if not parts.username:
        raise ValueError("the service's database URL must name its role")
    return unquote(parts.username), unquote(parts.password) if parts.password else None


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _prepare_role_and_grants(admin_url: str, *, role: str, password: str | None, schema: str,
                                   append_only: Sequence[str], after_migrations: bool) -> None:
    engine = create_engine(to_asyncpg_url(admin_url), isolation_level="AUTOCOMMIT")
    ident = '"' + role.replace('"', '""') + '"'
    try:
        async with engine.connect() as conn:
            if not after_migrations:
                exists = (await conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                             {"r": role})).scalar()
                verb = "ALTER" if exists else "CREATE"
                pw = f" PASSWORD {_quote_literal(password)}" if password else ""
                await conn.execute(sa.text(
                    f"{verb} ROLE {ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT{pw}"))
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await conn.execute(sa.text(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC'))
                return
            for stmt in (
                f'GRANT USAGE ON SCHEMA "{schema}" TO {ident}',
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {ident}',
                f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {ident}',
                f'REVOKE INSERT, UPDATE, DELETE ON "{schema}".alembic_version FROM {ident}',
            ):
                await conn.execute(sa.text(stmt))
            for table in append_only:
                if (await conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f'"{schema}"."{table}"'})
                        ).scalar() is None:
                    continue
                await conn.execute(sa.text(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{schema}"."{table}" FROM {ident}'))
    finally:
        await engine.dispose()


def provision(*, admin_url: str, app_url: str, schema: str, migrations_dir: Path,
              append_only: Sequence[str] = ()) -> None:
    """Create or update the service's role and schema, migrate to head, then grant the role its rights.

    Synchronous on purpose: Alembic's env runs its own event loop. Call it from a command or a thread.
    """
    role, password = _role_from_url(app_url)
    asyncio.run(_prepare_role_and_grants(admin_url, role=role, password=password, schema=schema,
                                         append_only=append_only, after_migrations=False))
    command.upgrade(alembic_config(migrations_dir, url=admin_url, schema=schema), "head")
    asyncio.run(_prepare_role_and_grants(admin_url, role=role, password=password, schema=schema,
                                         append_only=append_only, after_migrations=True))


def autogenerate(*, admin_url: str, schema: str, migrations_dir: Path, message: str) -> None:
    """Write a new revision from the difference between the tables in code and a migrated database."""
    from datetime import UTC, datetime

    rev_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    command.revision(alembic_config(migrations_dir, url=admin_url, schema=schema), message=message,
                     autogenerate=True, rev_id=rev_id)
