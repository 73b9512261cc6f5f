"""What every command shares: ``--config``/``-v`` handling, error output and report printing."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ..errors import DeliveryIncomplete, PublisherError, StoreError
from .app import Options
from .logs import setup_logging

if TYPE_CHECKING:  # the command line starts fast: heavy modules load when a command runs
    from ..collect import CollectReport
    from ..config import Settings
    from ..feeds import FeedReport
    from ..jobs import DigestReport
    from ..mail.queue import SendReport

F = TypeVar("F", bound=Callable[..., Any])


EXIT_ERROR, EXIT_USAGE, EXIT_INCOMPLETE = 1, 2, 3  # usage errors: click's own 2


def fail(exc: PublisherError) -> NoReturn:
    """Print an error and its hint and exit with its code (1, or 3 when delivery could not
    be completed): the operator sees what to do, not a traceback."""
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def config_options(func: F) -> F:
    """``--config``, ``-v`` and ``--log-format``: on every command, and on ``publisher`` itself
    (``publisher --config X collect`` and ``publisher collect --config X`` both work)."""
    func = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default=None,
        help="Log lines as text (default) or one JSON object per line.",
    )(func)
    func = click.option(
        "-v", "--verbose", count=True, help="Log details (-v) or everything (-vv)."
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Path to config.toml (default: $PUBLISHER_CONFIG or ./config.toml).",
    )(func)


def shared_options(
    config_path: Path | None, verbose: int, log_format: str | None
) -> tuple[Path | None, int, str]:
    """Merge the command's options with the ones given to ``publisher`` before it."""
    ctx = click.get_current_context(silent=True)
    outer = ctx.find_object(Options) if ctx is not None else None
    outer = outer or Options()
    # None: load_settings falls back to $PUBLISHER_CONFIG, then ./config.toml
    path = config_path or outer.config_path
    return path, verbose + outer.verbose, log_format or outer.log_format or "text"


def logs_progress(func: F) -> F:
    """Mark a command whose job lines are logged at the default level (the daemon, ``run
    --once``, ``serve``); other commands print their own report and log only warnings."""
    func.logs_progress = True  # type: ignore[attr-defined]
    return func


def with_settings(func: F) -> F:
    """Add the shared options to a command and hand it validated settings and a store."""
    return _store_command(func, _full_store)


def with_store_on_demand(func: F) -> F:
    """As ``with_settings``, for the commands run most often (``collect``, ``subscribers
    list``): they get a ``store.ondemand.StoreOnDemand``, which answers what it can without
    importing SQLAlchemy and opens ``Store`` at the first call that needs it."""
    return _store_command(func, _store_on_demand)


StoreClass = Callable[[str], AbstractContextManager[Any]]


def _full_store() -> StoreClass:
    from ..store import Store

    return Store


def _store_on_demand() -> StoreClass:
    from ..store.ondemand import StoreOnDemand

    return StoreOnDemand


def _store_command(func: F, store_class: Callable[[], StoreClass]) -> F:
    """The wrapper both decorators make: the shared options, the settings, then ``func``
    with the store ``store_class()`` opens on the configured URL (imported only when the
    command runs, so ``--help`` stays fast)."""

    @config_options
    @functools.wraps(func)
    def wrapper(
        config_path: Path | None, verbose: int, log_format: str | None, **kwargs: Any
    ) -> Any:
        settings = _settings(config_path, verbose, log_format, func)
        opening = functools.partial(store_class(), settings.database_url)
        return _with_store(func, settings, opening, kwargs)

    return wrapper  # type: ignore[return-value]


def _settings(
    config_path: Path | None, verbose: int, log_format: str | None, func: Callable[..., Any]
) -> Settings:
    """Set up logging and load the settings a command was given (or fail, saying why)."""
    path, verbose, fmt = shared_options(config_path, verbose, log_format)
    setup_logging(verbose, fmt, progress=getattr(func, "logs_progress", False))
    from ..config import load_settings

    try:
        return load_settings(path)
    except PublisherError as exc:
        fail(exc)


def _with_store(
    func: Callable[..., Any],
    settings: Settings,
    opening: Callable[[], AbstractContextManager[Any]],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``func`` with ``settings`` and the store ``opening`` opens, turning errors into
    messages."""
    try:
        with opening() as store:
            return func(settings, store, **kwargs)
    except PublisherError as exc:
        fail(exc)
    except Exception as exc:
        if _from_the_database(exc):  # a database fault the store did not foresee
            fail(_database_error(exc))
        raise


def _from_the_database(exc: Exception) -> bool:
    """Whether ``exc`` is the database's: SQLAlchemy's (once a ``Store`` has loaded it) or,
    on the standard-library path (``store.lite``), sqlite3's."""
    import sqlite3

    loaded = sys.modules.get("sqlalchemy.exc")
    return isinstance(exc, sqlite3.Error) or (
        loaded is not None and isinstance(exc, loaded.SQLAlchemyError)
    )


def _database_error(exc: Exception) -> StoreError:
    return StoreError(
        f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
        "check [database] url; run again with -vv for details",
    )


def print_collect(report: CollectReport) -> None:
    click.echo(
        f"collect: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicates, {len(report.errors)} skipped"
    )
    for err in report.errors:
        click.secho(f"  skipped {err.message}", fg="yellow", err=True)


def print_feeds(settings: Settings, report: FeedReport) -> None:
    folder = settings.path(settings.feeds.dir).resolve()
    click.echo(
        f"feeds: {report.feeds} feeds, {len(report.written)} files written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed, in {folder}"
    )
    shown = report.written if len(report.written) <= 8 else report.written[:3]
    for path in shown:
        click.echo(f"  wrote {path.resolve()}")
    if len(shown) < len(report.written):
        click.echo(
            f"  ... and {len(report.written) - len(shown)} more; every feed is listed in {folder / 'index.html'}"
        )
    for path in report.removed:
        click.echo(f"  removed {path.resolve()}")
    if report.pings.sent or report.pings.failed:
        click.echo(f"  WebSub: {report.pings.sent} pings sent, {len(report.pings.failed)} to retry")
    for line in report.pings.failed:
        click.secho(f"  ping failed: {line}", fg="yellow", err=True)


def exit_if_incomplete(report: SendReport) -> None:
    """Exit 3 when mail was left for a retry: a script or timer can tell "done" from "try
    again later" (nothing is lost either way: it stays queued)."""
    if report.retry and not report.interrupted:
        fail(
            DeliveryIncomplete(
                f"{report.retry:,} deliveries could not be delivered now and wait for a retry",
                "see `publisher deliveries --status retry`; the daemon retries them, or run "
                "`publisher send` again",
            )
        )


def print_digest(report: DigestReport, dry_run: bool) -> None:
    for plan in report.planned:
        what = f"{plan.article_count} articles for {len(plan.subscriber_ids)} subscribers"
        if dry_run:
            click.echo(f"digest: would queue {what}")
        elif plan.edition is not None:
            click.echo(f"digest: edition {plan.edition.id} queued {what}")
    if not report.planned:
        click.echo("digest: nobody is due, or nothing new for those who are")
    if not dry_run:
        s = report.sent
        skipped = f", {s.suppressed} skipped (subscriber suppressed)" if s.suppressed else ""
        click.echo(
            f"digest: {s.sent} sent, {s.retry} to retry, {s.failed} failed{skipped}, "
            f"via {report.transport}"
        )
        for email in s.newly_suppressed:
            click.secho(f"  suppressed {email} (too many hard bounces)", fg="yellow", err=True)
        for line in s.errors:
            click.secho(f"  {line}", fg="yellow", err=True)
