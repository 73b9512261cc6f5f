"""The command line. The only place that prints to the user or exits.

Every command takes ``--config PATH`` (default: $PUBLISHER_CONFIG, then ./config.toml) and
shows an example in its ``--help``. A PublisherError becomes its message and hint on stderr
and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .collect import CollectReport
from .config import Settings, load_settings
from .errors import PublisherError
from .feeds import FeedReport
from .jobs import DigestReport, open_store, run_collect, run_digest, run_feeds
from .store import Store

F = TypeVar("F", bound=Callable[..., Any])


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def with_settings(func: F) -> F:
    """Add ``--config`` and ``-v`` to a command and hand it validated settings and a store."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="PUBLISHER_CONFIG",
        help="Path to config.toml (default: $PUBLISHER_CONFIG or ./config.toml).",
    )
    @click.option("-v", "--verbose", count=True, help="Log progress (-v) or everything (-vv).")
    @functools.wraps(func)
    def wrapper(config_path: Path | None, verbose: int, **kwargs: Any) -> Any:
        _setup_logging(verbose)
        try:
            settings = load_settings(config_path)
            with open_store(settings) as store:
                return func(settings, store, **kwargs)
        except PublisherError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
def main() -> None:
    """publisher: newly published articles in, feeds and email digests out.

    \b
    Example:
      publisher run --once --config config.toml
    """


def _print_collect(report: CollectReport) -> None:
    click.echo(
        f"collect: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicates, {len(report.errors)} skipped"
    )
    for err in report.errors:
        click.secho(f"  skipped {err.message}", fg="yellow", err=True)


def _print_feeds(settings: Settings, report: FeedReport) -> None:
    folder = settings.path(settings.feeds.dir).resolve()
    click.echo(
        f"feeds: {len(report.written)} written, {len(report.unchanged)} unchanged, in {folder}"
    )
    for path in report.written:
        click.echo(f"  wrote {path.resolve()}")


def _print_digest(report: DigestReport, dry_run: bool) -> None:
    for plan in report.planned:
        verb = (
            "would queue"
            if dry_run
            else f"edition {plan.edition.id if plan.edition else '?'} queued"
        )
        click.echo(
            f"digest: {verb} {plan.article_count} articles for {len(plan.subscriber_ids)} subscribers"
        )
    if not report.planned:
        click.echo("digest: nothing new for any subscriber")
    if not dry_run:
        s = report.sent
        click.echo(
            f"digest: {s.sent} sent, {s.retry} to retry, {s.failed} failed, via {report.transport}"
        )
        for line in s.errors:
            click.secho(f"  {line}", fg="yellow", err=True)


@main.command()
@with_settings
def collect(settings: Settings, store: Store) -> None:
    """Read every configured source and store new or edited articles.

    \b
    Example:
      publisher collect --config config.toml
    """
    _print_collect(run_collect(settings, store))


@main.command()
@with_settings
def feeds(settings: Settings, store: Store) -> None:
    """Write the RSS and Atom feeds from the stored articles.

    \b
    Example:
      publisher feeds --config config.toml
    """
    _print_feeds(settings, run_feeds(settings, store))


@main.group()
def digest() -> None:
    """Plan and send email digests.

    \b
    Example:
      publisher digest send --dry-run
    """


@digest.command("send")
@click.option("--dry-run", is_flag=True, help="Show who would get what; queue and send nothing.")
@with_settings
def digest_send(settings: Settings, store: Store, dry_run: bool) -> None:
    """Queue a digest for every subscriber owed articles, then send all queued mail.

    Mail goes over SMTP when [smtp] is configured, otherwise into the outbox maildir.

    \b
    Example:
      publisher digest send --config config.toml
      publisher digest send --dry-run
    """
    _print_digest(run_digest(settings, store, dry_run=dry_run), dry_run)


@main.command()
@click.option(
    "--once", is_flag=True, help="Collect, write feeds and send the digest once, then exit."
)
@with_settings
def run(settings: Settings, store: Store, once: bool) -> None:
    """Run the daemon (collect on a schedule, digest daily), or every step once.

    Without --once it runs until Ctrl-C or SIGTERM.

    \b
    Example:
      publisher run --once --config config.toml
      publisher run --config /etc/publisher/config.toml
    """
    if once:
        _print_collect(run_collect(settings, store))
        _print_feeds(settings, run_feeds(settings, store))
        _print_digest(run_digest(settings, store), dry_run=False)
        return
    from .scheduler import run_daemon

    click.echo(
        f"publisher daemon: collecting every {settings.scheduler.collect_every_minutes} min, "
        f"digest at {settings.digest.send_time} {settings.site.timezone}; Ctrl-C to stop"
    )
    run_daemon(settings, store)


@main.group()
def subscribers() -> None:
    """Manage who receives the digest.

    \b
    Example:
      publisher subscribers add reader@example.com --name "Ann Reader"
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the greeting.")
@with_settings
def subscribers_add(settings: Settings, store: Store, email: str, name: str) -> None:
    """Add an active subscriber, owed every article collected from now on.

    \b
    Example:
      publisher subscribers add reader@example.com --name "Ann Reader"
    """
    from .subscribers import validate_email

    address = validate_email(email)
    subscriber, created = store.add_subscriber(address, name.strip())
    state = "added" if created else "already subscribed"
    click.echo(f"{subscriber.email}: {state} (id {subscriber.id})")


@subscribers.command("list")
@with_settings
def subscribers_list(settings: Settings, store: Store) -> None:
    """List active subscribers.

    \b
    Example:
      publisher subscribers list
    """
    for s in store.active_subscribers():
        click.echo(f"{s.id}\t{s.email}\t{s.name}")
