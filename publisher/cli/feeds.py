"""Feed commands: ``publisher feeds``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .app import main
from .common import print_feeds, with_settings

if TYPE_CHECKING:  # loaded by the commands that need them: the CLI starts fast
    from ..config import Settings
    from ..store import Store


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
    from ..feeds.check import check_feeds
    from ..jobs import run_feeds

    print_feeds(settings, run_feeds(settings, store))
    if check:
        checked, problems = check_feeds(settings)
        for problem in problems:
            click.secho(f"  {problem}", fg="red", err=True)
        click.echo(f"check: {checked} feeds read back, {len(problems)} problems")
        if problems:
            sys.exit(1)
