"""Feed build state (skip unchanged feeds), cached enclosure sizes, source file digests.

Revision ID: 0003_feeds
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0003_feeds"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("source_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("changed_at", UTCDateTime, nullable=True))
    op.create_index("ix_articles_author", "articles", ["author"])
    op.create_table(
        "feed_state",
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("written_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "media",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column("length", sa.Integer, nullable=True),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("media")
    op.drop_table("feed_state")
    op.drop_index("ix_articles_author", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("source_hash")
