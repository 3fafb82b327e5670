"""case events story clock: a timeline event is stamped with `cases.story_clock` when a loader sets it

Revision ID: 20261129123000
Revises: 20261129121500
Create Date: 2026-11-29 12:30:00

Written by hand (a column default Alembic does not compare). Timeline events take their `occurred_at` from
the database's default, the transaction's time. A loader replaying a story through the domain functions
(the demo dataset, decision 0062) sets the transaction-local setting `cases.story_clock` to the story's
time before each step, so its events carry the story's dates and the delays computed from the timeline
mean something. Unset (every request of the service), the default is `now()` as before.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '20261129123000'
down_revision: str | None = '20261129121500'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE cases.case_events ALTER COLUMN occurred_at SET DEFAULT "
               "COALESCE(NULLIF(current_setting('cases.story_clock', true), '')::timestamptz, now())")


def downgrade() -> None:
    op.execute("ALTER TABLE cases.case_events ALTER COLUMN occurred_at SET DEFAULT now()")
