"""Commands that run the pipeline: ``collect`` and ``run`` (once, or as the daemon)."""

from __future__ import annotations

import click

from ..config import Settings
from ..jobs import run_collect, run_digest, run_feeds
from ..store import Store
from .app import main
from .common import print_collect, print_digest, print_feeds, with_settings


@main.command()
@with_settings
def collect(settings: Settings, store: Store) -> None:
    """Read every configured source and store new or edited articles.

    \b
    Example:
      publisher collect --config config.toml
    """
    print_collect(run_collect(settings, store))


@main.command()
@click.option(
    "--once", is_flag=True, help="Collect, write feeds and send the digest once, then exit."
)
@with_settings
def run(settings: Settings, store: Store, once: bool) -> None:
    """Run the daemon (collect and plan digests on a schedule), or every step once.

    Without --once it runs until Ctrl-C or SIGTERM.

    \b
    Example:
      publisher run --once --config config.toml
      publisher run --config /etc/publisher/config.toml
    """
    if once:
        print_collect(run_collect(settings, store))
        print_feeds(settings, run_feeds(settings, store))
        print_digest(run_digest(settings, store), dry_run=False)
        return
    from ..daemon import run_daemon

    click.echo(
        f"publisher daemon: collecting every {settings.scheduler.collect_every_minutes} min, "
        f"digests planned every {settings.scheduler.plan_every_minutes} min; Ctrl-C to stop"
    )
    run_daemon(settings, store)
