"""Readers' side: consent, pending sign-ups, pauses, forgotten addresses, job runs.

Subscribers stopped by hard bounces were ``suppressed``; they become ``bounced``, and
``suppressed`` now means stopped by the operator (``publisher subscribers remove``).

Revision ID: 0004_readers
Revises: 0003_feeds
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0004_readers"
down_revision = "0003_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("consent_at", UTCDateTime, nullable=True))
        batch.add_column(
            sa.Column("consent_method", sa.String(20), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("consent_ip", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("paused_until", sa.Date, nullable=True))
        batch.add_column(
            sa.Column("unsubscribed_via", sa.String(20), nullable=False, server_default="")
        )
    op.execute("UPDATE subscribers SET status = 'bounced' WHERE status = 'suppressed'")
    # Everyone added before consent was recorded was added by an operator.
    op.execute(
        "UPDATE subscribers SET consent_at = created_at, consent_method = 'cli' "
        "WHERE consent_at IS NULL"
    )
    op.create_table(
        "forgotten",
        sa.Column("address_hash", sa.String(64), primary_key=True),
        sa.Column("forgotten_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(50), primary_key=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("last_ok_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("meta")
    op.drop_table("forgotten")
    op.execute("UPDATE subscribers SET status = 'suppressed' WHERE status = 'bounced'")
    with op.batch_alter_table("subscribers") as batch:
        for name in (
            "unsubscribed_via", "paused_until", "consent_ip", "consent_method", "consent_at",
        ):  # fmt: skip
            batch.drop_column(name)
