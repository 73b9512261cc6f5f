"""Feed commands: ``publisher feeds``."""

from __future__ import annotations

from ..config import Settings
from ..jobs import run_feeds
from ..store import Store
from .app import main
from .common import print_feeds, with_settings


@main.command()
@with_settings
def feeds(settings: Settings, store: Store) -> None:
    """Write the RSS and Atom feeds from the stored articles.

    \b
    Example:
      publisher feeds --config config.toml
    """
    print_feeds(settings, run_feeds(settings, store))
