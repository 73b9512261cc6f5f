"""The narrow views of the store that each caller depends on.

``Store`` implements every one of them; a caller names only the protocol it needs, so what a
step can touch is visible in its signature, and a test or benchmark can hand in something
smaller. Only the command line, the daemon and ``jobs.py`` hold a whole ``Store``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol

from ..models import Article, ArticleHead, Delivery, Edition, SourcePage, SourceState, Subscriber
from ..slugs import LinkRules
from .articles import UpsertResult
from .deliveries import AttemptWriter
from .editions import CursorMove, NewEdition
from .feedstate import MediaInfo, PendingPing
from .groups import FeedGroup
from .subscribers import SignUp


class ArticleWriter(Protocol):
    """What collection needs: which sources are unchanged, and a batched upsert that settles
    each article's permanent link."""

    def source_hashes(self) -> dict[str, str]: ...

    def upsert_articles(
        self,
        batch: Sequence[tuple[Article, str]],
        rules: LinkRules | None = None,
        finish: Callable[[Article], Article] | None = None,
    ) -> list[UpsertResult | Literal["duplicate"]]: ...


class SourceStateStore(Protocol):
    """What feed and sitemap sources remember between runs: their state and the pages seen."""

    def source_states(self) -> list[SourceState]: ...

    def save_source_state(self, state: SourceState) -> None: ...

    def source_pages(
        self,
        source: str,
        *,
        urls: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> dict[str, SourcePage]: ...

    def save_source_pages(self, source: str, pages: Iterable[SourcePage]) -> None: ...


class JobRecorder(Protocol):
    """Recording how each run of a job went (``status``, ``/healthz``)."""

    def record_job(
        self, job: str, started: datetime, finished: datetime, ok: bool, summary: str
    ) -> None: ...


class CollectStore(ArticleWriter, SourceStateStore, JobRecorder, Protocol):
    """What ``publisher collect`` needs: ``Store``, or ``ondemand.StoreOnDemand``."""


class ArticleReader(Protocol):
    """Articles by id, in the order asked (digest rendering)."""

    def articles_by_ids(self, ids: Sequence[int]) -> list[Article]: ...


class MediaStore(Protocol):
    """The cache of lead images' sizes and types."""

    def media_info(self, urls: Iterable[str]) -> dict[str, MediaInfo]: ...

    def save_media_info(self, url: str, length: int | None, mime: str) -> None: ...


class PingStore(Protocol):
    """WebSub publish notifications still owed to hubs."""

    def queue_pings(self, hubs: Iterable[str], topics: Iterable[str]) -> None: ...

    def pending_pings(self) -> list[PendingPing]: ...

    def ping_result(self, ping_id: int, error: str = "") -> None: ...


class SlugStore(Protocol):
    """The stored slugs of sections, authors and tags (feed folders), made on first need."""

    def group_slugs(self, kind: str) -> dict[str, str]: ...

    def ensure_slugs(self, kind: str, names: Iterable[str], rules: LinkRules) -> dict[str, str]: ...


class FeedStore(ArticleReader, MediaStore, PingStore, SlugStore, Protocol):
    """What writing feeds needs: the groups and their newest articles, fingerprints to skip
    work."""

    def feed_groups(
        self, kinds: Sequence[str], limit: int, closed_before: str | None
    ) -> list[FeedGroup]: ...

    def claim_feed_seconds(self) -> int: ...

    def feed_seconds(self, ids: Sequence[int]) -> dict[int, int]: ...

    def article_heads(self, ids: Sequence[int]) -> dict[int, ArticleHead]: ...

    def articles_of_period(self, kind: str, name: str, period: str) -> list[Article]: ...

    def corpus_key(self) -> str: ...

    def media_key(self) -> str: ...

    def feed_fingerprints(self) -> dict[str, str]: ...

    def save_feed_fingerprints(
        self, changed: dict[str, str], removed: Iterable[str] = ()
    ) -> None: ...


class PlanStore(Protocol):
    """What the digest planner needs: the cut, who is due, and the one-transaction queueing."""

    def cut_article_id(self) -> int: ...

    def due_subscribers(self, now: datetime) -> list[Subscriber]: ...

    def article_sections(self, after: int, upto: int) -> list[tuple[int, str]]: ...

    def queue_editions(
        self, cut_at: datetime, new: list[NewEdition], moves: list[CursorMove]
    ) -> list[Edition]: ...


class PreviewStore(ArticleReader, Protocol):
    """What a preview needs to pick articles without planning anything."""

    def cut_article_id(self) -> int: ...

    def article_sections(self, after: int, upto: int) -> list[tuple[int, str]]: ...

    def latest_articles(self, limit: int) -> list[Article]: ...


class ArchiveStore(ArticleReader, Protocol):
    """What the public digest archive needs: past editions and their subjects."""

    def list_editions(self, limit: int = 100) -> list[Edition]: ...

    def set_edition_subject(self, edition_id: int, subject: str) -> None: ...


class PreferenceStore(Protocol):
    """Changing a subscriber's schedule and sections."""

    def set_preferences(
        self, subscriber_id: int, next_due_at: datetime | None, **prefs: object
    ) -> None: ...


class LateStore(Protocol):
    """Finding readers whose digest hour passed long ago, and moving them to their next."""

    def overdue_subscribers(self, before: datetime) -> list[Subscriber]: ...

    def postpone_subscribers(self, moves: list[tuple[int, datetime, datetime]]) -> int: ...


class QueueStore(Protocol):
    """What draining the deliveries queue needs: claims, leases, recipients, the record."""

    def claim_deliveries(
        self,
        worker: str,
        limit: int,
        lease_seconds: float,
        now: datetime | None = None,
        edition_kinds: Sequence[str] | None = None,
    ) -> list[Delivery]: ...

    def renew_leases(self, worker: str, lease_seconds: float) -> int: ...

    def release_claims(self, worker: str, keep: Collection[int] = ()) -> int: ...

    def attempt_writer(self, worker: str) -> AttemptWriter: ...

    def attempt_times_since(self, since: datetime) -> list[datetime]: ...

    def subscribers_by_ids(self, ids: Iterable[int]) -> Mapping[int, Subscriber]: ...

    def get_edition(self, edition_id: int) -> Edition: ...


class BounceStore(Protocol):
    """Applying delivery-status notifications to the deliveries they are about."""

    def find_bounced_delivery(
        self, edition_id: int | None, subscriber_id: int | None, recipient: str
    ) -> Delivery | None: ...

    def apply_bounce(
        self, delivery: Delivery, reply: str, *, hard: bool, threshold: int
    ) -> tuple[bool, bool]: ...


class SubscriberReader(Protocol):
    """Listing subscribers: ``Store`` and ``ondemand.StoreOnDemand`` both can."""

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]: ...


class SubscriberLookup(Protocol):
    """Finding one subscriber."""

    def subscriber(self, subscriber_id: int) -> Subscriber | None: ...

    def subscriber_by_email(self, email: str) -> Subscriber | None: ...


class ReaderStore(SubscriberLookup, PreferenceStore, Protocol):
    """What the readers' side needs: sign-up, confirmation, leaving, erasure."""

    def sign_up(self, email: str, name: str, ip: str, prefs: dict[str, object]) -> SignUp: ...

    def confirm_subscriber(self, subscriber_id: int) -> Subscriber | None: ...

    def unsubscribe(self, subscriber_id: int, via: str) -> bool: ...

    def sections_seen(self) -> list[str]: ...

    def forget_key(self) -> bytes: ...

    def unforget(self, address_hash: str) -> None: ...
