"""Feed commands: ``publisher feeds``."""

from __future__ import annotations

import sys

import click

from ..config import Settings
from ..feeds.check import check_feeds
from ..jobs import run_feeds
from ..store import Store
from .app import main
from .common import print_feeds, with_settings


@main.command()
@click.option(
    "--check",
    is_flag=True,
    help="Afterwards read every feed back and verify ids, dates and self links; exit 1 on a problem.",
)
@with_settings
def feeds(settings: Settings, store: Store, check: bool) -> None:
    """Write RSS, Atom and JSON feeds (site, sections, authors), archives and the feed index.

    Unchanged feeds are not rewritten; WebSub hubs are pinged when a feed changes.

    \b
    Example:
      publisher feeds --config config.toml
      publisher feeds --check
    """
    print_feeds(settings, run_feeds(settings, store))
    if check:
        checked, problems = check_feeds(settings)
        for problem in problems:
            click.secho(f"  {problem}", fg="red", err=True)
        click.echo(f"check: {checked} feeds read back, {len(problems)} problems")
        if problems:
            sys.exit(1)
