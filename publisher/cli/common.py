"""What every command shares: ``--config``/``-v`` handling, error output and report printing."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ..collect import CollectReport
from ..config import Settings, load_settings
from ..errors import PublisherError, StoreError
from ..feeds import FeedReport
from ..jobs import DigestReport, open_store

F = TypeVar("F", bound=Callable[..., Any])


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def fail(exc: PublisherError) -> None:
    """Print an error and its hint, exit 1: the operator sees what to do, not a traceback."""
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(1)


def config_options(func: F) -> F:
    """The ``--config`` and ``-v`` options every command has (passed as config_path, verbose)."""
    func = click.option(
        "-v", "--verbose", count=True, help="Log progress (-v) or everything (-vv)."
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="PUBLISHER_CONFIG",
        help="Path to config.toml (default: $PUBLISHER_CONFIG or ./config.toml).",
    )(func)


def with_settings(func: F) -> F:
    """Add ``--config`` and ``-v`` to a command and hand it validated settings and a store."""

    @config_options
    @functools.wraps(func)
    def wrapper(config_path: Path | None, verbose: int, **kwargs: Any) -> Any:
        setup_logging(verbose)
        try:
            settings = load_settings(config_path)
            with open_store(settings) as store:
                return func(settings, store, **kwargs)
        except PublisherError as exc:
            fail(exc)
        except SQLAlchemyError as exc:  # a database fault the store did not foresee
            fail(
                StoreError(
                    f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                    "check [database] url; run again with -vv for details",
                )
            )

    return wrapper  # type: ignore[return-value]


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
