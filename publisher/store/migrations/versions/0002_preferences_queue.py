"""Digest preferences per subscriber, edition variants, the delivery queue, WebSub pings.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("send_hour", sa.Integer, nullable=True))
        batch.add_column(
            sa.Column("frequency", sa.String(10), nullable=False, server_default="daily")
        )
        batch.add_column(sa.Column("weekday", sa.Integer, nullable=True))
        batch.add_column(sa.Column("sections", sa.Text, nullable=True))
        batch.add_column(sa.Column("next_due_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("bounce_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("confirmed_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("unsubscribed_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("updated_at", UTCDateTime, nullable=True))
        batch.create_index("ix_subscribers_status_due", ["status", "next_due_at"])
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("variant", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("reply", sa.Text, nullable=False, server_default=""))
        batch.create_index("ix_deliveries_status_next", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "feed_pings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hub", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("pending_since", UTCDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_ping_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("hub", "topic", name="uq_feed_pings_hub_topic"),
    )


def downgrade() -> None:
    op.drop_table("feed_pings")
    op.drop_index("ix_delivery_attempts_delivery", "delivery_attempts")
    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_status_next")
        for name in ("reply", "next_attempt_at", "lease_until", "claimed_by"):
            batch.drop_column(name)
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("variant")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_index("ix_subscribers_status_due")
        for name in (
            "updated_at", "unsubscribed_at", "confirmed_at", "bounce_count", "next_due_at",
            "sections", "weekday", "frequency", "send_hour", "timezone",
        ):  # fmt: skip
            batch.drop_column(name)
