"""Digest commands: ``publisher digest plan|send|preview|test-send`` and ``publisher dkim show``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PublisherError
from .app import main
from .common import exit_if_incomplete, print_digest, with_settings

if TYPE_CHECKING:  # loaded by the commands that need them: the CLI starts fast
    from ..config import Settings
    from ..store import Store


@main.group()
def digest() -> None:
    """Plan, preview and send email digests.

    \b
    Example:
      publisher digest plan --dry-run
    """


@digest.command("send")
@click.option("--dry-run", is_flag=True, help="Show who would get what; queue and send nothing.")
@with_settings
def digest_send(settings: Settings, store: Store, dry_run: bool) -> None:
    """Queue the digest of every subscriber who is due, then send all queued mail.

    Mail goes over SMTP when [smtp] is configured, otherwise into the outbox maildir.

    \b
    Example:
      publisher digest send --config config.toml
      publisher digest send --dry-run
    """
    from ..jobs import run_digest

    report = run_digest(settings, store, dry_run=dry_run)
    print_digest(report, dry_run)
    exit_if_incomplete(report.sent)


@digest.command("plan")
@click.option("--dry-run", is_flag=True, help="Show who is due and with what; queue nothing.")
@with_settings
def digest_plan(settings: Settings, store: Store, dry_run: bool) -> None:
    """Queue the digest of every subscriber due now (their zone, hour and frequency).

    Each line is one edition variant: subscribers due now with the same articles share it.
    Queued digests are sent by `publisher digest send` (or the daemon).

    \b
    Example:
      publisher digest plan --dry-run
      publisher digest plan --config /etc/publisher/config.toml
    """
    from ..jobs import run_plan

    planned = run_plan(settings, store, dry_run=dry_run)
    if not planned:
        click.echo("plan: nobody is due with anything new")
    for plan in planned:
        label = "would queue" if dry_run else f"edition {plan.edition.id if plan.edition else '?'}"
        click.echo(
            f"plan: {label} {plan.variant}: {plan.article_count} articles "
            f"for {len(plan.subscriber_ids)} subscribers"
        )
        if dry_run:
            shown = store.subscribers_by_ids(plan.subscriber_ids[:10])
            more = len(plan.subscriber_ids) - len(shown)
            emails = ", ".join(shown[i].email for i in plan.subscriber_ids[:10] if i in shown)
            click.echo(f"  {emails}" + (f" and {more} more" if more > 0 else ""))


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-09-18") from None


@digest.command("preview")
@click.option("--subscriber", "email", default=None, help="Preview what this subscriber is owed.")
@click.option(
    "--date", "day", default=None, help="Show articles published on this day (YYYY-MM-DD)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("preview"),
    show_default=True,
    help="Folder for digest.html, digest.txt and digest.eml.",
)
@with_settings
def digest_preview(
    settings: Settings, store: Store, email: str | None, day: str | None, out: Path
) -> None:
    """Write a digest's HTML, text and .eml to a folder without queuing or sending anything.

    \b
    Example:
      publisher digest preview --subscriber ann@example.com --out /tmp/preview
      publisher digest preview --date 2024-09-18
    """
    from ..digest.preview import build_preview

    subscriber = None
    if email:
        subscriber = store.subscriber_by_email(email)
        if subscriber is None:
            raise PublisherError(f"no subscriber {email}", "check `publisher subscribers list`")
    preview = build_preview(settings, store, subscriber, _date(day))
    click.echo(
        f"preview: {len(preview.edition.article_ids)} articles for {preview.subscriber.email}"
    )
    for path in preview.write(out):
        click.echo(f"  wrote {path.resolve()}")


@digest.command("test-send")
@click.option("--to", "to", required=True, help="Address that receives the test digest.")
@click.option(
    "--date", "day", default=None, help="Show articles published on this day (YYYY-MM-DD)."
)
@with_settings
def digest_test_send(settings: Settings, store: Store, to: str, day: str | None) -> None:
    """Send one digest of the newest articles to an address; nothing is queued or recorded.

    \b
    Example:
      publisher digest test-send --to editor@example.com
    """
    from ..digest.preview import sample_message
    from ..jobs import check_sending
    from ..mail.transports import make_transport
    from ..subscribers import validate_email

    check_sending(settings)  # a test send over SMTP reaches a real inbox: same rules
    message = sample_message(settings, store, validate_email(to), _date(day))
    transport = make_transport(settings)
    try:
        reply = transport.send(message)
    finally:
        transport.close()
    click.echo(f"test-send: sent to {to} via {transport.description}: {reply}")


@main.group()
def dkim() -> None:
    """DKIM signing of digests.

    \b
    Example:
      publisher dkim show
    """


@dkim.command("show")
@with_settings
def dkim_show(settings: Settings, store: Store) -> None:
    """Print the DNS TXT records to publish for the configured [dkim] keys (the RSA key,
    then the Ed25519 key when ed25519_key_path is set), one zone-file line each.

    \b
    Example:
      publisher dkim show --config config.toml
    """
    from ..mail.dkim import dns_records, txt_strings

    for name, value in dns_records(settings):
        click.echo(f"{name}. IN TXT {txt_strings(value)}")
