"""Tables of the identity service, all in the `identity` schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from himaya.audit import audit_table, checkpoint_table
from himaya.idempotency import idempotency_table
from himaya.outbox import outbox_table

SCHEMA = "identity"
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints",)

metadata = sa.MetaData(schema=SCHEMA)
mapper_registry = registry(metadata=metadata)


class Table(SQLModel, registry=mapper_registry):
    """Base of this service's SQLModel tables (its own metadata, so schemas never mix)."""


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


territories = sa.Table(
    "territories", metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("name_fr", sa.Text, nullable=False),
    sa.Column("name_ar", sa.Text, nullable=False),
    sa.Column("parent_code", sa.Text, sa.ForeignKey("territories.code"), nullable=True),
    sa.Column("phase", sa.Text, nullable=True),
    sa.Column("case_prefix", sa.Text, nullable=True, unique=True),
    sa.CheckConstraint("level IN ('region', 'prefecture', 'commune', 'arrondissement')", name="level_known"),
    sa.Index("ix_territories_parent", "parent_code", "code"),
    sa.Index("ix_territories_level", "level", "code"),
)

courts = sa.Table(
    "courts", metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name_fr", sa.Text, nullable=False),
    sa.Column("name_ar", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("appeal_court_code", sa.Text, sa.ForeignKey("courts.code"), nullable=True),
    sa.Column("territory_code", sa.Text, sa.ForeignKey("territories.code"), nullable=False),
    sa.CheckConstraint("kind IN ('appeal', 'first_instance')", name="kind_known"),
)

organizations = sa.Table(
    "organizations", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("territory_code", sa.Text, nullable=False),
    sa.Column("court_code", sa.Text, sa.ForeignKey("courts.code"), nullable=True),
    *_timestamps(),
    sa.UniqueConstraint("name", "territory_code", name="uq_organizations_name_territory"),
    sa.Index("ix_organizations_territory", "territory_code", "id"),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("organization_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("territories", ARRAY(sa.Text), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    *_timestamps(),
    sa.Index("uq_users_username", sa.func.lower(sa.column("username")), unique=True),
    sa.Index("ix_users_organization", "organization_id", "id"),
)

api_clients = sa.Table(
    "api_clients", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("organization_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("scopes", ARRAY(sa.Text), nullable=False),
    sa.Column("territories", ARRAY(sa.Text), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    *_timestamps(),
    sa.UniqueConstraint("organization_id", "name", name="uq_api_clients_org_name"),
)

client_secrets = sa.Table(
    "client_secrets", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("client_id", UUID(as_uuid=True), sa.ForeignKey("api_clients.id"), nullable=False),
    # SHA-256 of a 256-bit random secret: a slow hash adds nothing against guessing at that entropy.
    sa.Column("secret_hash", BYTEA, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_client_secrets_client", "client_id"),
)

signing_keys = sa.Table(
    "signing_keys", metadata,
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("algorithm", sa.Text, nullable=False, server_default="EdDSA"),
    sa.Column("public_jwk", JSONB, nullable=False),
    # nonce (12 bytes) || AES-256-GCM ciphertext of the PKCS#8 private key, with the kid as associated data.
    sa.Column("private_key_encrypted", BYTEA, nullable=False),
    sa.Column("kek_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("activates_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
)

# The deny-list verifiers poll (decision 0103): a subject's tokens below `min_version`, or a key's tokens
# (issued after `issued_after`, or all of them when it is null), are refused until `expires_at`.
revocations = sa.Table(
    "revocations", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("min_version", sa.Integer, nullable=True),
    sa.Column("kid", sa.Text, nullable=True),
    sa.Column("issued_after", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "(subject IS NOT NULL AND min_version IS NOT NULL AND kid IS NULL AND issued_after IS NULL)"
        " OR (subject IS NULL AND min_version IS NULL AND kid IS NOT NULL)", name="subject_or_key"),
    sa.CheckConstraint("subject IS NULL OR subject ~ '^(user|client):[0-9a-f-]{36}$'", name="subject_form"),
    sa.Index("ix_revocations_expires", "expires_at"),
    sa.Index("ix_revocations_subject", "subject"),
    sa.Index("ix_revocations_kid", "kid"),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("family_id", UUID(as_uuid=True), nullable=False),
    sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("token_hash", BYTEA, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_refresh_tokens_family", "family_id"),
    sa.Index("ix_refresh_tokens_user", "user_id"),
)

login_throttles = sa.Table(
    "login_throttles", metadata,
    sa.Column("key", sa.Text, primary_key=True),  # "user:<lowercased username>" or "source:<address>"
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
)

field_teams = sa.Table(
    "field_teams", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("territory_code", sa.Text, sa.ForeignKey("territories.code"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    *_timestamps(),
    sa.UniqueConstraint("territory_code", "name", name="uq_field_teams_territory_name"),
)

field_team_members = sa.Table(
    "field_team_members", metadata,
    sa.Column("field_team_id", UUID(as_uuid=True), sa.ForeignKey("field_teams.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), primary_key=True),
    sa.Index("ix_field_team_members_user", "user_id"),
)

audit_events = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)
outbox_events = outbox_table(metadata)
idempotency_keys = idempotency_table(metadata)
