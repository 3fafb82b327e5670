"""case access grants: an expiry, and the referral's last applied event sequence

Revision ID: 20261205110000
Revises: 20261205100000
Create Date: 2026-12-05 11:00:00

Written by hand. A grant now ends at `expires_at` even if the event ending its reason never arrives, and
`source_sequence` keeps the sequence of the referral's newest applied event so that an older event (replayed,
redelivered after its id was purged, or out of order) cannot revive a revoked grant. Existing grants get the
default lifetimes of their kind counted from when they were granted (reporter 180 days, service 365,
prosecution 730); existing revoked grants keep sequence 0 and stay revoked until a newer event of their
referral arrives.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261205110000'
down_revision: str | None = '20261205100000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_access_grants", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
                  schema="cases")
    op.add_column("case_access_grants", sa.Column("source_sequence", sa.BigInteger, nullable=False,
                                                  server_default="0"), schema="cases")
    op.execute("UPDATE cases.case_access_grants SET expires_at = granted_at + CASE kind "
               "WHEN 'reporter' THEN interval '180 days' WHEN 'service' THEN interval '365 days' "
               "ELSE interval '730 days' END")
    op.alter_column("case_access_grants", "expires_at", nullable=False, schema="cases")
    op.create_check_constraint("ck_case_access_grants_sequence", "case_access_grants", "source_sequence >= 0",
                               schema="cases")


def downgrade() -> None:
    op.drop_constraint("ck_case_access_grants_sequence", "case_access_grants", schema="cases")
    op.drop_column("case_access_grants", "source_sequence", schema="cases")
    op.drop_column("case_access_grants", "expires_at", schema="cases")
