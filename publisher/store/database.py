"""``Store``: every query module on one SQLAlchemy engine."""

from __future__ import annotations

from .articles import ArticleQueries
from .base import StoreBase
from .deliveries import DeliveryQueries
from .editions import EditionQueries
from .feedstate import FeedStateQueries
from .groups import GroupQueries
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
