"""Feed groups and feed seconds: feeds plan through indexes, not by reading every article.

``article_groups`` holds which feeds show each article (the site, its section, each author,
each tag) with its publication date and archive month; it is filled here from the articles
stored so far. ``articles.feed_second`` starts empty: the next feed run claims every
article's second in the order the feeds have always given them (date, then first
collection), so no feed item's ``updated`` changes.

Revision ID: 0007_feed_groups
Revises: 0006_slugs
"""

import json

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0007_feed_groups"
down_revision = "0006_slugs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("feed_second", sa.BigInteger, nullable=True))
        batch.create_index("ix_articles_feed_second", ["feed_second"])
    groups = op.create_table(
        "article_groups",
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
    )
    op.create_index(
        "ix_article_groups_newest",
        "article_groups",
        ["kind", "name", "published_at", "article_id"],
    )
    op.create_index("ix_article_groups_period", "article_groups", ["kind", "name", "period"])

    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer),
        sa.column("section", sa.String),
        sa.column("authors", sa.Text),
        sa.column("tags", sa.Text),
        sa.column("published_at", UTCDateTime),
        sa.column("first_seen_at", UTCDateTime),
    )
    conn = op.get_bind()
    query = sa.select(
        articles.c.id,
        articles.c.section,
        articles.c.authors,
        articles.c.tags,
        articles.c.published_at,
        articles.c.first_seen_at,
    )
    rows = []
    for r in conn.execute(query).all():
        names = [("site", ""), ("section", r.section)]
        names += [("author", n) for n in json.loads(r.authors)]
        names += [("tag", n) for n in json.loads(r.tags)]
        period = r.first_seen_at.strftime("%Y-%m")  # stored as naive UTC
        rows += [
            {"kind": kind, "name": name, "article_id": r.id, "published_at": r.published_at,
             "period": period}
            for kind, name in dict.fromkeys(names)
            if name or kind == "site"
        ]  # fmt: skip
        if len(rows) >= 5000:
            op.bulk_insert(groups, rows)
            rows = []
    if rows:
        op.bulk_insert(groups, rows)


def downgrade() -> None:
    op.drop_table("article_groups")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_feed_second")
        batch.drop_column("feed_second")
