"""Permanent URLs: article slugs and old links, section/author slugs, authors, date offsets.

Every existing article keeps the link it has (its slug is read back from it), and every
existing section and author keeps the feed folder the last feed run gave it, computed here
by the rule that made it (ASCII slug, ``-2``, ``-3`` … in name order); from now on these are
stored and never recomputed. Dates written before keep offset 0 (UTC) until their file is
read again.

Revision ID: 0006_slugs
Revises: 0005_source_state
"""

import json
import re
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from alembic import op

from publisher.store.schema import UTCDateTime

revision = "0006_slugs"
down_revision = "0005_source_state"
branch_labels = None
depends_on = None


def _old_slugify(text: str) -> str:
    """The slug rule feeds used for folders before this revision (kept here, frozen)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:80].rstrip("-") or "untitled"


def _link_slug(link: str) -> str:
    """The last path segment of an article's link: what its slug was."""
    segments = [s for s in urlsplit(link).path.split("/") if s]
    return unquote(segments[-1])[:200] if segments else ""


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("slug", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("authors", sa.Text, nullable=False, server_default="[]"))
        for name in ("published_offset", "updated_offset"):
            batch.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    slugs = op.create_table(
        "slugs",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("kind", "slug", name="uq_slugs_kind_slug"),
    )
    op.create_table(
        "article_urls",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("replaced_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_article_urls_article", "article_urls", ["article_id"])

    conn = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer),
        sa.column("link", sa.Text),
        sa.column("author", sa.Text),
        sa.column("section", sa.String),
        sa.column("slug", sa.String),
        sa.column("authors", sa.Text),
    )
    rows = conn.execute(
        sa.select(articles.c.id, articles.c.link, articles.c.author, articles.c.section)
    ).all()
    if rows:
        conn.execute(
            articles.update()
            .where(articles.c.id == sa.bindparam("row_id"))
            .values(slug=sa.bindparam("new_slug"), authors=sa.bindparam("new_authors")),
            [
                {
                    "row_id": r.id,
                    "new_slug": _link_slug(r.link),
                    "new_authors": json.dumps([r.author] if r.author else [], ensure_ascii=False),
                }
                for r in rows
            ],
        )
    # Feed folders as the last feed run named them: slug, then -2, -3 … in name order.
    names = {"section": {r.section for r in rows}, "author": {r.author for r in rows}}
    now = datetime.now(UTC).replace(microsecond=0)
    values = []
    for kind, found in names.items():
        seen: dict[str, int] = defaultdict(int)
        used: set[str] = set()
        for name in sorted(n for n in found if n):
            base = _old_slugify(name)
            seen[base] += 1
            slug = base if seen[base] == 1 else f"{base}-{seen[base]}"
            while slug in used:  # "Desk 2" after two "Desk"s: the old rule gave both desk-2
                seen[base] += 1
                slug = f"{base}-{seen[base]}"
            used.add(slug)
            values.append({"kind": kind, "name": name[:500], "slug": slug, "first_seen_at": now})
    if values:
        op.bulk_insert(slugs, values)


def downgrade() -> None:
    op.drop_index("ix_article_urls_article", "article_urls")
    op.drop_table("article_urls")
    op.drop_table("slugs")
    with op.batch_alter_table("articles") as batch:
        for name in ("updated_offset", "published_offset", "authors", "slug"):
            batch.drop_column(name)
