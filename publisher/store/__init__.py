"""The only package that speaks SQL.

``Store`` wraps one SQLAlchemy engine (a SQLite file in WAL mode by default, PostgreSQL by URL),
brings the schema up to date with Alembic on open, and offers the queries the rest of publisher
needs, one module per table. Callers see dataclasses from ``publisher.models``, never rows.
"""

from __future__ import annotations

from .articles import ArticleQueries, UpsertResult
from .base import StoreBase, make_engine
from .deliveries import DeliveryQueries
from .editions import EditionQueries
from .feedstate import FeedStateQueries
from .groups import FeedGroup, GroupQueries
from .jobruns import JobRunQueries
from .sourcestate import SourceStateQueries
from .subscribers import SubscriberQueries
from .suppression import SuppressionQueries


class Store(
    ArticleQueries,
    GroupQueries,
    SubscriberQueries,
    EditionQueries,
    DeliveryQueries,
    FeedStateQueries,
    SuppressionQueries,
    JobRunQueries,
    SourceStateQueries,
    StoreBase,
):
    """Articles, subscribers, editions, deliveries and sources' state in one database."""


__all__ = ["FeedGroup", "Store", "UpsertResult", "make_engine"]
