"""The steps of a run (collect, feeds, plan, archive, send, bounces) as plain functions.

Both entry points, the CLI and the daemon, call these; keeping them here means neither entry
point imports the other, and every scheduled job can be run by hand with the same result.
This is also the one place where steps are joined: planning does not archive and the queue
does not render; each step is called here, explicitly, with what it needs handed in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from .collect import CollectReport, collect
from .config import Settings
from .context import current_job
from .errors import PublisherError
from .sources import build_sources

# Each job imports its own steps when it runs: `publisher collect`, run every few minutes from
# cron, need not load the digest renderer (Jinja, premailer), feedgen and the mail stack.
if TYPE_CHECKING:
    from .digest.archive import ArchiveReport
    from .digest.plan import PlannedEdition
    from .feeds import FeedReport
    from .mail.bounces import BounceReport
    from .mail.builders import BuildPool
    from .mail.queue import Progress, SendReport
    from .readers.notices import MailBuilder
    from .store import Store
    from .store.protocols import CollectStore, JobRecorder

log = logging.getLogger(__name__)


def _no_sends() -> SendReport:
    from .mail.queue import SendReport

    return SendReport()


@dataclass
class DigestReport:
    """Planning and sending together, for one ``digest send``."""

    planned: list[PlannedEdition] = field(default_factory=list)
    sent: SendReport = field(default_factory=_no_sends)
    transport: str = ""


def open_store(settings: Settings) -> Store:
    from .store import Store

    return Store(settings.database_url)


@contextmanager
def recorded(store: JobRecorder, job: str) -> Iterator[list[str]]:
    """Run ``job``: name it in every log line, then record and log how it went.

    The caller appends its one-line summary to the yielded list; the run is recorded (for
    ``status`` and ``/healthz``) and logged as ``<job>: <summary> in <s> s``. An exception is
    recorded and logged as a failure with its message, then raised on, unchanged.
    """
    summary: list[str] = []
    token = current_job.set(job)
    started, clock = datetime.now(UTC), time.monotonic()
    try:
        yield summary
    except BaseException as exc:
        why = f"failed: {exc}".splitlines()[0]
        store.record_job(job, started, datetime.now(UTC), False, why)
        log.error("%s after %.1f s", why, time.monotonic() - clock)
        raise
    finally:
        current_job.reset(token)
    line = f"{'; '.join(summary)} in {time.monotonic() - clock:.1f} s"
    store.record_job(job, started, datetime.now(UTC), True, line)
    token = current_job.set(job)
    log.info("%s", line)
    current_job.reset(token)


def run_collect(settings: Settings, store: CollectStore) -> CollectReport:
    with recorded(store, "collect") as summary:
        report = collect(
            build_sources(settings, store),
            store,
            settings.site.domain,
            site_url=settings.site.url,
            slug_ascii=settings.site.slug_ascii,
        )
        summary.append(
            f"{report.added:,} new, {report.updated:,} updated, {len(report.errors):,} failed"
        )
    return report


def run_feeds(settings: Settings, store: Store) -> FeedReport:
    from .feeds import write_feeds

    with recorded(store, "feeds") as summary:
        report = write_feeds(settings, store)
        summary.append(f"{len(report.written):,} written, {report.unchanged:,} unchanged")
    return report


def run_plan(
    settings: Settings, store: Store, now: datetime | None = None, *, dry_run: bool = False
) -> list[PlannedEdition]:
    """Queue every due subscriber's digest, then archive: the editions just queued and any
    whose page an earlier run failed to write."""
    from .digest.plan import plan_editions
    from .digest.schedule import postpone_late

    if dry_run:
        return plan_editions(settings, store, now or datetime.now(UTC), dry_run=True)
    with recorded(store, "digest") as summary:
        moment = now or datetime.now(UTC)
        postpone_late(settings, store, moment)
        planned = plan_editions(settings, store, moment)
        queued = sum(len(p.subscriber_ids) for p in planned)
        editions = f"{len(planned):,} edition{'' if len(planned) == 1 else 's'}"
        summary.append(f"{editions}, {queued:,} deliveries queued")
    run_archive(settings, store)
    return planned


def run_archive(settings: Settings, store: Store) -> ArchiveReport:
    """Write every missing archive page, the index and feeds (idempotent). A failure is logged,
    not raised: the queued deliveries stand, and the next run writes what is still missing."""
    from .digest.archive import ArchiveReport, write_archive
    from .digest.compose import make_renderer

    try:
        return write_archive(settings, store, make_renderer(settings))
    except (PublisherError, OSError) as exc:
        log.warning("archive not updated: %s (tried again next run)", exc)
        return ArchiveReport(failed=[str(exc)])


def run_digest(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    retry_now: bool = True,
) -> DigestReport:
    """Queue what is owed, then send everything queued (including leftovers of earlier runs).

    By hand (``digest send``, ``run --once``) deliveries waiting for a retry are tried again
    now, whatever their backoff: that is the moment the operator wants mail out. The daemon,
    which comes back every few minutes, passes ``retry_now=False`` and honours the backoff.
    """
    report = DigestReport(planned=run_plan(settings, store, now, dry_run=dry_run))
    if dry_run:
        return report
    report.sent, report.transport = run_send(settings, store, stop=stop, retry_now=retry_now)
    return report


SECRET_HINT = (
    "set PUBLISHER_SECRET_KEY to a long random value, e.g. the output of "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def require_secret(settings: Settings, doing: str) -> None:
    """Refuse to ``doing`` with the default or an empty secret: anyone who knows it could
    forge every reader's confirm, unsubscribe and preferences links."""
    problem = settings.secret_problem()
    if problem:
        raise PublisherError(f"refusing to {doing}: {problem}", SECRET_HINT)


def check_sending(settings: Settings) -> str:
    """Refuse to mail real readers unsafely; returns the transport's kind.

    Over SMTP the links in every mail must be signed with a real secret and the footer must
    carry the sender's postal address (bulk-mail law). A maildir or null transport reaches
    nobody, so there both are only warned about.
    """
    from .mail.transports import transport_kind

    kind = transport_kind(settings)
    problems = []
    if settings.secret_problem():
        problems.append(
            PublisherError(
                f"{settings.secret_problem()}: the links in every mail could be forged",
                SECRET_HINT,
            )
        )
    if not settings.site.postal_address.strip():
        problems.append(
            PublisherError(
                "[site] postal_address is not set: bulk mail must say who sends it and where",
                'set [site] postal_address = "Newsroom Ltd, 1 Example Street, City" in config.toml',
            )
        )
    if kind == "smtp" and problems:
        first = problems[0]
        raise PublisherError(f"refusing to send over SMTP: {first.message}", first.hint)
    for problem in problems:
        log.warning("%s (fine for a %s transport; SMTP would refuse)", problem.message, kind)
    return kind


def run_send(
    settings: Settings,
    store: Store,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    retry_now: bool = False,
    kinds: Sequence[str] | None = None,
) -> tuple[SendReport, str]:
    """Drain every due delivery (or those of editions of ``kinds``) over the configured
    transport; returns the report and the transport's description."""
    from .mail.queue import send_pending
    from .mail.transports import make_transport_factory

    check_sending(settings)
    if retry_now:
        store.make_retries_due()
    choice = make_transport_factory(settings)
    builders = build_pool(settings, store, kinds)
    try:
        with recorded(store, "send" if kinds is None else "send-notices") as summary:
            report = send_pending(
                settings.delivery, store, choice, mail_builder(settings, store),
                stop=stop, progress=progress, kinds=kinds, builders=builders,
            )  # fmt: skip
            summary.append(
                f"{report.sent:,} sent, {report.retry:,} retry, {report.failed:,} failed"
            )
    finally:
        if builders is not None:
            builders.close()
    return report, choice.description


BUILD_IN_PROCESSES_FROM = 1000  # deliveries due: below this, starting workers costs more


def mail_builder(settings: Settings, store: Store | None = None) -> MailBuilder:
    """What builds every message of a send: digests by their composer, notices by theirs.

    Without ``store`` it opens its own: a worker process of a ``BuildPool`` calls it so.
    """
    from .digest.compose import DigestComposer, make_renderer
    from .readers.notices import MailBuilder

    store = store or open_store(settings)
    renderer = make_renderer(settings)
    return MailBuilder(settings, DigestComposer(settings, store, renderer), renderer)


def build_pool(settings: Settings, store: Store, kinds: Sequence[str] | None) -> BuildPool | None:
    """Worker processes for a big send (``[delivery] build_processes``), else None."""
    from .mail.builders import BuildPool, default_processes

    wanted = settings.delivery.build_processes
    processes = default_processes() if wanted < 0 else wanted
    if not processes or kinds is not None or store.due_count() < BUILD_IN_PROCESSES_FROM:
        return None
    return BuildPool(partial(mail_builder, settings), processes)


def run_inbox(settings: Settings, store: Store) -> BounceReport:
    """Read the [bounces] mailbox: bounces are applied, mailto unsubscribes honoured."""
    from .mail.bounces import process_bounces
    from .readers.inbox import mailto_unsubscribes

    with recorded(store, "inbox") as summary:
        report = process_bounces(settings, store, also=mailto_unsubscribes(settings, store))
        summary.append(
            f"{report.read} read, {report.bounced} bounced, {len(report.handled)} unsubscribed"
        )
    return report
