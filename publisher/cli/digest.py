"""Digest commands: ``publisher digest ...``."""

from __future__ import annotations

import click

from ..config import Settings
from ..jobs import run_digest
from ..store import Store
from .app import main
from .common import print_digest, with_settings


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
    print_digest(run_digest(settings, store, dry_run=dry_run), dry_run)
