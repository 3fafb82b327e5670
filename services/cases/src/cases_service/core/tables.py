"""Tables of the cases service, all in the `cases` schema (documented in docs/decisions/0040-cases-data-model.md).

Identifying values (names, CNIE, birth-act references, narratives, free-text notes, reasons) are stored
only as ciphertext in `*_enc` BYTEA columns, bound to their table, column and row id; searching them
goes through keyed tokens (`name_tokens`) and keyed hashes (`cnie_index`). Ids of other services'
objects (organisations, users, referrals, field teams) are plain UUID columns, never foreign keys.
"""

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

SCHEMA = "cases"
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints", "case_events")

metadata = MetaData(schema=SCHEMA)
mapper_registry = registry(metadata=metadata)


class Table(SQLModel, registry=mapper_registry):
    """Base of this service's SQLModel tables (its own metadata, so schemas never mix)."""


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


audit_events = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)
outbox_events = outbox_table(metadata)
idempotency_keys = idempotency_table(metadata)

outings = sa.Table(
    "outings", metadata,
    _id(),
    sa.Column("field_team_id", UUID(as_uuid=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("region_code", sa.Text, nullable=False),
    sa.Column("prefecture_code", sa.Text, nullable=False),
    sa.Column("commune_code", sa.Text, nullable=False),
    sa.Column("members_present", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_outings_prefecture_started", "prefecture_code", sa.text("started_at DESC"), sa.text("id DESC")),
)

intakes = sa.Table(
    "intakes", metadata,
    _id(),
    sa.Column("outing_id", UUID(as_uuid=True), sa.ForeignKey("outings.id"), nullable=True),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("region_code", sa.Text, nullable=False),
    sa.Column("prefecture_code", sa.Text, nullable=False),
    sa.Column("commune_code", sa.Text, nullable=False),
    sa.Column("court_code", sa.Text, nullable=False),
    sa.Column("place_type", sa.Text, nullable=False),
    sa.Column("night", sa.Boolean, nullable=False),
    sa.Column("exploitation_pattern", sa.Text, nullable=False),
    sa.Column("narrative_enc", BYTEA, nullable=True),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_intakes_outing", "outing_id", postgresql_where=sa.text("outing_id IS NOT NULL")),
    sa.Index("ix_intakes_reported", "reported_at"),
)

children = sa.Table(
    "children", metadata,
    _id(),
    sa.Column("first_name_enc", BYTEA, nullable=True),
    sa.Column("last_name_enc", BYTEA, nullable=True),
    sa.Column("first_name_ar_enc", BYTEA, nullable=True),
    sa.Column("last_name_ar_enc", BYTEA, nullable=True),
    sa.Column("description_enc", BYTEA, nullable=True),
    sa.Column("name_tokens", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("sex", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("estimated_age_years", sa.Numeric(5, 2), nullable=True),
    sa.Column("age_estimated_on", sa.Date, nullable=True),
    # birth_date, or the date the estimate implies: lets age filters use an index (ages are computed at
    # query time from it; the raw value stays in birth_date / estimated_age_years).
    sa.Column("reference_birth_date", sa.Date, nullable=False),
    sa.Column("nationality", sa.String(2), nullable=True),
    sa.Column("civil_status_registered", sa.Boolean, nullable=True),
    sa.Column("birth_act_reference_enc", BYTEA, nullable=True),
    sa.Column("schooling", sa.Text, nullable=False, server_default="unknown"),
    sa.Column("disability", sa.Boolean, nullable=True),
    # Set when a duplicate review found this child to be another, older record: its cases moved there
    # (decision 0070); the row stays, sealed, as the audit trail of what was recorded.
    sa.Column("merged_into_id", UUID(as_uuid=True), sa.ForeignKey("children.id", name="fk_children_merged_into_id"),
              nullable=True),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    _created_at(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_children_name_tokens", "name_tokens", postgresql_using="gin"),
    sa.Index("ix_children_sex_birth", "sex", "reference_birth_date"),
    sa.Index("ix_children_merged_into", "merged_into_id", postgresql_where=sa.text("merged_into_id IS NOT NULL")),
)

duplicate_reviews = sa.Table(
    "duplicate_reviews", metadata,
    _id(),
    # The pair in canonical order (smaller id first): one decision per pair of children.
    sa.Column("child_low_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=False),
    sa.Column("child_high_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=False),
    sa.Column("decision", sa.Text, nullable=False),  # same | not_same
    sa.Column("survivor_child_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=True),
    sa.Column("merged_child_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=True),
    sa.Column("name_score", sa.Numeric(4, 3), nullable=True),
    sa.Column("note_enc", BYTEA, nullable=True),
    sa.Column("reviewed_by", sa.Text, nullable=False),
    sa.Column("reviewer_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # A `same` decided on a request of another territory (decision 0100); the repeat links the merge set
    # ({case id: previous case id}, ids only), and the unmerge that undid it.
    sa.Column("merge_request_id", UUID(as_uuid=True), nullable=True),
    sa.Column("repeat_links", JSONB, nullable=True),
    sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("unmerged_by", sa.Text, nullable=True),
    sa.Column("unmerger_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("unmerge_reason_enc", BYTEA, nullable=True),
    sa.CheckConstraint("decision IN ('same','not_same')", name="ck_duplicate_reviews_decision"),
    sa.CheckConstraint("child_low_id < child_high_id", name="ck_duplicate_reviews_pair_order"),
    sa.UniqueConstraint("child_low_id", "child_high_id", name="uq_duplicate_reviews_pair"),
    sa.Index("ix_duplicate_reviews_high", "child_high_id"),
)

child_merge_requests = sa.Table(
    "child_merge_requests", metadata,
    _id(),
    # "Same child" said of a child the requester may not see (decision 0100): pending until a case manager of
    # the other child's territory (`target_prefecture_codes`, its cases' prefectures at request time) decides.
    sa.Column("child_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=False),
    sa.Column("other_child_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=False),
    sa.Column("target_prefecture_codes", ARRAY(sa.Text), nullable=False),
    sa.Column("name_score", sa.Numeric(4, 3), nullable=True),
    sa.Column("note_enc", BYTEA, nullable=True),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requester_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("decider_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason_enc", BYTEA, nullable=True),
    sa.Column("review_id", UUID(as_uuid=True), sa.ForeignKey("duplicate_reviews.id"), nullable=True),
    sa.CheckConstraint("status IN ('pending','accepted','refused')", name="ck_child_merge_requests_status"),
    sa.CheckConstraint("child_id <> other_child_id", name="ck_child_merge_requests_pair"),
    # One pending request per pair of children, whichever side asked.
    sa.Index("uq_child_merge_requests_pending_pair", sa.text("LEAST(child_id, other_child_id)"),
             sa.text("GREATEST(child_id, other_child_id)"), unique=True,
             postgresql_where=sa.text("status = 'pending'")),
    sa.Index("ix_child_merge_requests_targets", "target_prefecture_codes", postgresql_using="gin",
             postgresql_where=sa.text("status = 'pending'")),
)

adults = sa.Table(
    "adults", metadata,
    _id(),
    sa.Column("intake_id", UUID(as_uuid=True), sa.ForeignKey("intakes.id"), nullable=True),
    sa.Column("first_name_enc", BYTEA, nullable=True),
    sa.Column("last_name_enc", BYTEA, nullable=True),
    sa.Column("first_name_ar_enc", BYTEA, nullable=True),
    sa.Column("last_name_ar_enc", BYTEA, nullable=True),
    sa.Column("name_tokens", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("sex", sa.Text, nullable=True),
    sa.Column("age_years", sa.SmallInteger, nullable=True),
    sa.Column("cnie_enc", BYTEA, nullable=True),
    sa.Column("cnie_index", BYTEA, nullable=True),
    sa.Column("nationality", sa.String(2), nullable=True),
    # Offence-related data: only for callers holding offences:read (police, prosecution).
    sa.Column("suspected_offender", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("offence_notes_enc", BYTEA, nullable=True),
    _created_at(),
    sa.Index("ix_adults_cnie_index", "cnie_index", postgresql_where=sa.text("cnie_index IS NOT NULL")),
    sa.Index("ix_adults_name_tokens", "name_tokens", postgresql_using="gin"),
    sa.Index("ix_adults_intake", "intake_id"),
)

cases = sa.Table(
    "cases", metadata,
    _id(),
    sa.Column("case_number", sa.Text, nullable=False, unique=True),
    sa.Column("child_id", UUID(as_uuid=True), sa.ForeignKey("children.id"), nullable=False),
    # The child record the case was opened with: a merge moves `child_id` to the survivor, never this; the
    # case keeps showing this record's identity (decision 0100) and an unmerge moves the case back to it.
    sa.Column("recorded_child_id", UUID(as_uuid=True), sa.ForeignKey("children.id", name="fk_cases_recorded_child_id"),
              nullable=False),
    sa.Column("intake_id", UUID(as_uuid=True), sa.ForeignKey("intakes.id"), nullable=False),
    sa.Column("region_code", sa.Text, nullable=False),
    sa.Column("prefecture_code", sa.Text, nullable=False),
    sa.Column("commune_code", sa.Text, nullable=False),
    sa.Column("court_code", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("suspended_from_status", sa.Text, nullable=True),
    sa.Column("risk_level", sa.Text, nullable=True),
    sa.Column("trafficking_suspected", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("lead_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("case_manager_id", UUID(as_uuid=True), nullable=True),
    sa.Column("repeat_of_case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("transferred_from_case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("transferred_to_case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("age_at_intake_years", sa.Numeric(5, 2), nullable=True),
    sa.Column("duplicate_checked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closure_reason_enc", BYTEA, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(
        "status IN ('reported','screened','referred_to_prosecution','interim_measure','under_assessment',"
        "'in_care','follow_up','closed','suspended','transferred_out','closed_not_in_scope')",
        name="ck_cases_status"),
    # Keyset lists are ordered by (opened_at DESC, id DESC); one index per common leading filter.
    sa.Index("ix_cases_opened", sa.text("opened_at DESC"), sa.text("id DESC")),
    sa.Index("ix_cases_prefecture_opened", "prefecture_code", sa.text("opened_at DESC"), sa.text("id DESC")),
    sa.Index("ix_cases_commune_opened", "commune_code", sa.text("opened_at DESC"), sa.text("id DESC")),
    sa.Index("ix_cases_region_opened", "region_code", sa.text("opened_at DESC"), sa.text("id DESC")),
    sa.Index("ix_cases_status_prefecture_opened", "status", "prefecture_code", sa.text("opened_at DESC"),
             sa.text("id DESC")),
    sa.Index("ix_cases_child", "child_id", sa.text("opened_at DESC")),
    sa.Index("ix_cases_recorded_child", "recorded_child_id"),
    sa.Index("ix_cases_intake", "intake_id"),
    # A child has at most one open case: a new encounter after closure opens a linked repeat case.
    sa.Index("uq_cases_one_open_per_child", "child_id", unique=True,
             postgresql_where=sa.text("status NOT IN ('closed','closed_not_in_scope','transferred_out')")),
)

case_number_sequences = sa.Table(
    "case_number_sequences", metadata,
    sa.Column("prefecture_code", sa.Text, primary_key=True),
    sa.Column("year", sa.SmallInteger, primary_key=True),
    sa.Column("last_value", sa.Integer, nullable=False),
)

case_adults = sa.Table(
    "case_adults", metadata,
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("adult_id", UUID(as_uuid=True), sa.ForeignKey("adults.id"), primary_key=True),
    sa.Column("claimed_relationship", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_case_adults_adult", "adult_id"),
)

case_events = sa.Table(
    "case_events", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text, nullable=True),
    sa.Column("to_status", sa.Text, nullable=True),
    sa.Column("data", JSONB, nullable=False, server_default="{}"),  # ids and enum values only
    sa.Column("reason_enc", BYTEA, nullable=True),
    sa.Column("source_event_id", UUID(as_uuid=True), nullable=True),
    sa.Index("ix_case_events_case", "case_id", "id"),
)

case_access_grants = sa.Table(
    "case_access_grants", metadata,
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("organization_id", UUID(as_uuid=True), primary_key=True),
    # The referral that granted access, or the intake for the organisation that reported the case.
    sa.Column("source_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # prosecution | service | reporter
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    # Every grant ends by this time even if the event ending its reason never arrives (decision 0107).
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # The sequence of the referral's newest event applied to this grant: older events change nothing.
    sa.Column("source_sequence", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("source_sequence >= 0", name="ck_case_access_grants_sequence"),
    sa.Index("ix_case_access_grants_org_active", "organization_id", "case_id",
             postgresql_where=sa.text("revoked_at IS NULL")),
)

judicial_measures = sa.Table(
    "judicial_measures", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("referral_id", UUID(as_uuid=True), nullable=True),
    sa.Column("decision_id", UUID(as_uuid=True), nullable=True),
    sa.Column("source_event_id", UUID(as_uuid=True), nullable=True),
    sa.Column("decision_type", sa.Text, nullable=False),
    sa.Column("concerns", sa.Text, nullable=False),  # child | adult
    sa.Column("adult_id", UUID(as_uuid=True), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reference", sa.Text, nullable=True),  # the prosecution's order number
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lifted_by_id", UUID(as_uuid=True), nullable=True),
    _created_at(),
    sa.Index("ix_judicial_measures_case", "case_id", "decided_at"),
)

filiation_checks = sa.Table(
    "filiation_checks", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("adult_id", UUID(as_uuid=True), sa.ForeignKey("adults.id"), nullable=False),
    sa.Column("claimed_relationship", sa.Text, nullable=False),
    sa.Column("methods", ARRAY(sa.Text), nullable=False),
    sa.Column("dna_order_reference_enc", BYTEA, nullable=True),
    sa.Column("dna_order_measure_id", UUID(as_uuid=True), sa.ForeignKey("judicial_measures.id"), nullable=True),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("notes_enc", BYTEA, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_filiation_checks_case", "case_id", "created_at"),
)

assessments = sa.Table(
    "assessments", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # in_progress | completed
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("summary_enc", BYTEA, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_assessments_case", "case_id", "created_at"),
)

care_plans = sa.Table(
    "care_plans", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("objectives_enc", BYTEA, nullable=True),
    sa.Column("status", sa.Text, nullable=False),  # draft | validated
    sa.Column("validated_by", sa.Text, nullable=True),
    sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_care_plans_case", "case_id", "created_at"),
)

service_deliveries = sa.Table(
    "service_deliveries", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("beneficiary", sa.Text, nullable=False),  # child | mother
    sa.Column("service_type", sa.Text, nullable=False),
    sa.Column("provider_organization_id", UUID(as_uuid=True), nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("notes_enc", BYTEA, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_service_deliveries_case", "case_id", "created_at"),
)

follow_ups = sa.Table(
    "follow_ups", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("child_seen", sa.Boolean, nullable=False),
    sa.Column("attending_school", sa.Boolean, nullable=True),
    sa.Column("begging_observed", sa.Boolean, nullable=False),
    sa.Column("next_visit_due", sa.Date, nullable=True),
    sa.Column("notes_enc", BYTEA, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_follow_ups_case", "case_id", "visited_at"),
)

institutions = sa.Table(
    "institutions", metadata,
    _id(),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=False, unique=True),  # the EPS organisation
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("prefecture_code", sa.Text, nullable=False),
    sa.Column("places", sa.Integer, nullable=False),
    sa.Column("emergency_vacancies", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    _created_at(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("places >= 0 AND emergency_vacancies >= 0", name="ck_institutions_capacity"),
    sa.Index("ix_institutions_prefecture", "prefecture_code"),
)

placements = sa.Table(
    "placements", metadata,
    _id(),
    sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("institution_id", UUID(as_uuid=True), sa.ForeignKey("institutions.id"), nullable=False),
    sa.Column("organization_id", UUID(as_uuid=True), nullable=False),  # the EPS organisation (relation check)
    sa.Column("order_measure_id", UUID(as_uuid=True), sa.ForeignKey("judicial_measures.id"), nullable=False),
    sa.Column("emergency", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    _created_at(),
    sa.Index("ix_placements_case", "case_id"),
    sa.Index("ix_placements_org_active", "organization_id", "case_id", postgresql_where=sa.text("ended_at IS NULL")),
    sa.Index("ix_placements_institution_active", "institution_id", postgresql_where=sa.text("ended_at IS NULL")),
)

processed_events = sa.Table(
    "processed_events", metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("case_id", UUID(as_uuid=True), nullable=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_processed_events_processed_at", "processed_at"),  # the retention purge reads by age
)
