"""Tables of the referrals service, all in the `referrals` schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from himaya.audit import audit_table, checkpoint_table
from himaya.idempotency import idempotency_table
from himaya.outbox import outbox_table

SCHEMA = "referrals"
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints", "referral_history")
# Free texts stored only as FieldCipher blobs in `<column>_enc`, bound to table, column and row id (decision 0052).
SEALED_COLUMNS = {
    "referrals": ("reason", "outcome", "rejection_reason", "cancellation_reason"),
    "referral_history": ("note",),
    "prosecutor_decisions": ("legal_basis", "notes"),
}

metadata = MetaData(schema=SCHEMA)
mapper_registry = registry(metadata=metadata)


class Table(SQLModel, registry=mapper_registry):
    """Base of this service's SQLModel tables (its own metadata, so schemas never mix)."""


audit_events = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)
outbox_events = outbox_table(metadata)
idempotency_keys = idempotency_table(metadata)

# Deliveries of one webhook subscription are listed by destination, newest first.
sa.Index("ix_outbox_events_destination", outbox_events.c.destination, outbox_events.c.created_at.desc(),
         outbox_events.c.id)
# At most one undelivered event per (destination, referral) is claimed at a time: see OrderedDispatcher.
sa.Index("ix_outbox_events_line", outbox_events.c.destination, outbox_events.c.aggregate_id,
         postgresql_where=sa.text("status = 'pending'"))

# A global, monotonically assigned change number: every change to a referral takes the next value while
# holding a transaction-scoped lock, so changes commit in number order and a poller that resumes after
# number N can never miss a change committed later with a smaller number (decision 0050).
referral_change_seq = sa.Sequence("referral_change_seq", metadata=metadata)

OPEN_STATUSES = ("sent", "acknowledged", "accepted", "decided")

referrals = sa.Table(
    "referrals", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("sender_organization_id", UUID(as_uuid=True), nullable=False),
    sa.Column("target_organization_id", UUID(as_uuid=True), nullable=False),
    sa.Column("target_organization_type", sa.Text, nullable=False),
    sa.Column("reason_enc", BYTEA, nullable=False),
    sa.Column("urgency", sa.Text, nullable=False),
    sa.Column("service_type", sa.Text, nullable=True),
    sa.Column("snapshot", JSONB, nullable=False),
    sa.Column("external_reference", sa.Text, nullable=True),
    sa.Column("outcome_enc", BYTEA, nullable=True),
    sa.Column("rejection_reason_enc", BYTEA, nullable=True),
    sa.Column("cancellation_reason_enc", BYTEA, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("change_seq", sa.BigInteger, nullable=False),
    sa.CheckConstraint("kind IN ('prosecution', 'service')", name="ck_referrals_kind"),
    sa.CheckConstraint("(kind = 'service') = (service_type IS NOT NULL)", name="ck_referrals_service_type"),
    sa.UniqueConstraint("change_seq", name="uq_referrals_change_seq"),
    sa.Index("ix_referrals_incoming", "target_organization_id", "change_seq"),
    sa.Index("ix_referrals_outgoing", "sender_organization_id", "change_seq"),
    sa.Index("ix_referrals_case", "case_id"),
    # One open referral of a kind per case and target: a double submission cannot refer a child twice.
    sa.Index("uq_referrals_open_per_target", "case_id", "target_organization_id", "kind", unique=True,
             postgresql_where=sa.text("status IN ('sent', 'acknowledged', 'accepted', 'decided')")),
)

referral_history = sa.Table(
    "referral_history", metadata,
    # By default (not always): the repository takes the id first, because the note's blob is bound to it.
    sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("referral_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text, nullable=True),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("note_enc", BYTEA, nullable=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_referral_history_referral", "referral_id", "id"),
)

prosecutor_decisions = sa.Table(
    "prosecutor_decisions", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("referral_id", UUID(as_uuid=True), nullable=False),
    sa.Column("case_id", UUID(as_uuid=True), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("concerns", sa.Text, nullable=False),
    sa.Column("adult_id", UUID(as_uuid=True), nullable=True),
    sa.Column("legal_basis_enc", BYTEA, nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("notes_enc", BYTEA, nullable=True),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("concerns IN ('child', 'adult')", name="ck_prosecutor_decisions_concerns"),
    sa.CheckConstraint("(concerns = 'adult') = (adult_id IS NOT NULL)", name="ck_prosecutor_decisions_adult"),
    sa.Index("ix_prosecutor_decisions_referral", "referral_id", "created_at"),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions", metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", ARRAY(sa.Text), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # What the creator could read when subscribing (referrals:read, offences:read): every event is filtered
    # by it at delivery (decision 0105).
    sa.Column("owner_scopes", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Index("ix_webhook_subscriptions_org", "organization_id", "created_at"),
)
