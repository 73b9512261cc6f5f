"""Feed and sitemap sources: per-source state (validators, redirects, backoff) and pages seen.

Revision ID: 0005_source_state
Revises: 0004_readers
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0005_source_state"
down_revision = "0004_readers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("configured_url", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("etag", sa.Text, nullable=False, server_default=""),
        sa.Column("last_modified", sa.Text, nullable=False, server_default=""),
        sa.Column("body_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("since", UTCDateTime, nullable=True),
        sa.Column("last_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_success_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("last_error_at", UTCDateTime, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "source_pages",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lastmod", UTCDateTime, nullable=True),
        sa.Column("hints", sa.Text, nullable=False, server_default="{}"),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=True),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_source_pages_source_status", "source_pages", ["source", "status"])


def downgrade() -> None:
    op.drop_index("ix_source_pages_source_status", "source_pages")
    op.drop_table("source_pages")
    op.drop_table("source_state")
