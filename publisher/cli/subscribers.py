"""Subscriber commands: ``publisher subscribers add|list|show|set|remove|unsubscribe|
reactivate|import|export|forget``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PublisherError
from ..models import SUBSCRIBER_STATUSES as STATUSES
from ..models import Subscriber
from .app import main
from .common import with_settings, with_store_on_demand

if TYPE_CHECKING:  # loaded by the commands that need them: the CLI starts fast
    from ..config import Settings
    from ..store import Store
    from ..store.protocols import SubscriberReader


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _find(store: Store, email: str) -> Subscriber:
    found = store.subscriber_by_email(email)
    if found is None:
        raise PublisherError(
            f"no subscriber with the address {email}", "list them with: publisher subscribers list"
        )
    return found


def _schedule(s: Subscriber, settings: Settings) -> dict[str, object]:
    """What list, show and --json say about a subscriber's digest."""
    return {
        "sections": s.sections or "all",
        "frequency": s.frequency,
        "weekday": WEEKDAYS[s.weekday if s.weekday is not None else settings.digest.weekday]
        if s.frequency == "weekly"
        else None,
        "timezone": s.timezone or settings.site.timezone,
        "send_hour": s.send_hour,
        "paused_until": s.paused_until.isoformat() if s.paused_until else None,
        "next_digest": s.next_due_at.isoformat() if s.next_due_at else None,
    }


@main.group()
def subscribers() -> None:
    """Manage who receives the digest.

    \b
    Example:
      publisher subscribers add reader@example.com --name "Ann Reader"
      publisher subscribers list --status active
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the greeting.")
@with_settings
def subscribers_add(settings: Settings, store: Store, email: str, name: str) -> None:
    """Add an active subscriber, owed every article collected from now on.

    You vouch for their consent; it is recorded as given now, through the command line.

    \b
    Example:
      publisher subscribers add reader@example.com --name "Ann Reader"
    """
    from ..subscribers import validate_email

    subscriber, created = store.add_subscriber(validate_email(email), name.strip())
    state = "added" if created else f"already a subscriber ({subscriber.status})"
    click.echo(f"{subscriber.email}: {state} (id {subscriber.id})")


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects instead.")
@with_store_on_demand
def subscribers_list(
    settings: Settings, store: SubscriberReader, status: str | None, as_json: bool
) -> None:
    """List subscribers with their status, sections, frequency, zone, hour and next digest.

    \b
    Example:
      publisher subscribers list
      publisher subscribers list --status pending --json
    """
    found = store.list_subscribers(status)
    if as_json:
        rows = [
            {"id": s.id, "email": s.email, "name": s.name, "status": s.status,
             **_schedule(s, settings)}
            for s in found
        ]  # fmt: skip
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for s in found:
        info = _schedule(s, settings)
        sections = info["sections"] if info["sections"] == "all" else ",".join(s.sections or [])
        when = info["frequency"] if s.frequency == "daily" else f"weekly ({info['weekday']})"
        hour = f"{s.send_hour}:00" if s.send_hour is not None else settings.digest.send_time
        paused = f"\tpaused until {s.paused_until}" if s.paused_until else ""
        click.echo(
            f"{s.id}\t{s.email}\t{s.status}\t{sections}\t{when}\t{info['timezone']} {hour}\t"
            f"next {info['next_digest'] or 'at the next run'}{paused}"
        )
    if not found:
        click.echo("no subscribers" + (f" with status {status}" if status else ""), err=True)


@subscribers.command("show")
@click.argument("email")
@with_settings
def subscribers_show(settings: Settings, store: Store, email: str) -> None:
    """Everything kept about one subscriber: status, preferences, consent, deliveries.

    \b
    Example:
      publisher subscribers show ann@example.com
    """
    s = _find(store, email)
    facts: dict[str, object] = {
        "id": s.id, "email": s.email, "name": s.name, "status": s.status,
        **_schedule(s, settings),
        "consent": f"{s.consent_at:%Y-%m-%d %H:%M} UTC via {s.consent_method}"
        + (f" from {s.consent_ip}" if s.consent_ip else "")
        if s.consent_at else "not given yet",
        "confirmed_at": s.confirmed_at, "unsubscribed_at": s.unsubscribed_at,
        "unsubscribed_via": s.unsubscribed_via or None, "hard_bounces": s.bounce_count,
        "created_at": s.created_at,
    }  # fmt: skip
    for key, value in facts.items():
        if value is not None:
            click.echo(f"{key}: {value}")
    latest = store.delivery_list(subscriber_id=s.id, limit=5)
    for delivery, _ in latest:
        click.echo(
            f"delivery {delivery.id}: edition {delivery.edition_id}, {delivery.status}, "
            f"{delivery.reply or delivery.last_error or ''}".rstrip(", ")
        )


@subscribers.command("set")
@click.argument("email")
@click.option("--timezone", default=None, help="IANA zone, e.g. Europe/London.")
@click.option("--hour", type=click.IntRange(0, 23), default=None, help="Local send hour, 0-23.")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default=None)
@click.option("--weekday", type=click.Choice(WEEKDAYS), default=None, help="Day of weekly digests.")
@click.option("--sections", default=None, help="Comma-separated sections; 'all' for every one.")
@click.option(
    "--pause-until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="No digest before this date (their zone); owed articles wait.",
)
@click.option("--resume", is_flag=True, help="End a pause now.")
@with_settings
def subscribers_set(
    settings: Settings,
    store: Store,
    email: str,
    timezone: str | None,
    hour: int | None,
    frequency: str | None,
    weekday: str | None,
    sections: str | None,
    pause_until: datetime | None,
    resume: bool,
) -> None:
    """Change a subscriber's digest preferences; their next due time is recomputed.

    \b
    Example:
      publisher subscribers set ann@example.com --timezone Europe/London --hour 7
      publisher subscribers set ann@example.com --frequency weekly --weekday friday
      publisher subscribers set ann@example.com --sections politics,business
      publisher subscribers set ann@example.com --pause-until 2026-12-27
    """
    from ..digest.schedule import reschedule

    subscriber = _find(store, email)
    prefs: dict[str, object] = {}
    if timezone is not None:
        prefs["timezone"] = timezone
    if hour is not None:
        prefs["send_hour"] = hour
    if frequency is not None:
        prefs["frequency"] = frequency
    if weekday is not None:
        prefs["weekday"] = WEEKDAYS.index(weekday)
    if sections is not None:
        names = [s.strip() for s in sections.split(",") if s.strip()]
        prefs["sections"] = None if names in ([], ["all"]) else names
    if pause_until is not None:
        prefs["paused_until"] = pause_until.date()
    if resume:
        prefs["paused_until"] = None
    updated = reschedule(settings, store, subscriber, datetime.now().astimezone(), **prefs)
    due = updated.next_due_at.isoformat() if updated.next_due_at else "now"
    click.echo(f"{updated.email}: preferences saved; next digest due {due}")


@subscribers.command("unsubscribe")
@click.argument("email")
@with_settings
def subscribers_unsubscribe(settings: Settings, store: Store, email: str) -> None:
    """Unsubscribe a reader on their behalf (they wrote in); queued mail to them is stopped.

    \b
    Example:
      publisher subscribers unsubscribe ann@example.com
    """
    s = _find(store, email)
    changed = store.unsubscribe(s.id, "cli")
    click.echo(f"{s.email}: {'unsubscribed' if changed else f'not changed (was {s.status})'}")


@subscribers.command("remove")
@click.argument("email")
@with_settings
def subscribers_remove(settings: Settings, store: Store, email: str) -> None:
    """Stop all mail to an address (status suppressed): a complaint, a role address.

    The record stays, so the address is not added back by an import; `reactivate` undoes it.

    \b
    Example:
      publisher subscribers remove abuse@example.com
    """
    s = _find(store, email)
    store.set_subscriber_status(s.id, "suppressed")
    click.echo(f"{s.email}: suppressed (was {s.status})")


@subscribers.command("reactivate")
@click.argument("email")
@with_settings
def subscribers_reactivate(settings: Settings, store: Store, email: str) -> None:
    """Make a bounced or suppressed subscriber active again, with their bounce count reset.

    A reader who unsubscribed is not brought back this way: they sign up again themselves.

    \b
    Example:
      publisher subscribers reactivate ann@example.com
    """
    found = store.reactivate_subscriber(email)
    if found is None:
        raise PublisherError(
            f"no subscriber with the address {email}", "list them with: publisher subscribers list"
        )
    address, before = found
    if before in ("unsubscribed", "pending"):
        raise PublisherError(
            f"{address} is {before}: only the reader can bring themselves back",
            "they can sign up again on the subscribe page",
        )
    click.echo(f"{address}: active (was {before})")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Also bring back addresses that left or were erased.")
@with_settings
def subscribers_import(settings: Settings, store: Store, file: Path, force: bool) -> None:
    """Import subscribers from a CSV file with a header row (the columns `export` writes).

    Only `email` is required; `status` may be active (default) or unsubscribed, bounced,
    suppressed (to carry a list's opt-outs over). Bad rows are reported with their line and
    skipped; the rest are imported. Addresses that unsubscribed, bounced, were suppressed or
    erased are never brought back without --force.

    \b
    Example:
      publisher subscribers import readers.csv
    """
    from ..readers.transfer import import_csv

    with file.open(encoding="utf-8-sig", newline="") as handle:
        report = import_csv(settings, store, handle, force=force)
    click.echo(
        f"import: {report.added} added, {report.updated} updated, {len(report.skipped)} skipped, "
        f"{len(report.bad)} bad rows"
    )
    for line in report.skipped:
        click.secho(f"  skipped {line}", fg="yellow", err=True)
    for line in report.bad:
        click.secho(f"  bad {line}", fg="red", err=True)


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@with_settings
def subscribers_export(
    settings: Settings, store: Store, file: Path | None, status: str | None
) -> None:
    """Write subscribers as CSV (status, preferences, consent) to FILE or standard output.

    \b
    Example:
      publisher subscribers export readers.csv
    """
    from ..readers.transfer import export_csv

    found = store.list_subscribers(status)
    if file is None:
        export_csv(found, sys.stdout)
        return
    with file.open("w", encoding="utf-8", newline="") as handle:
        count = export_csv(found, handle)
    click.echo(f"export: {count} subscribers written to {file}", err=True)


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_settings
def subscribers_forget(settings: Settings, store: Store, email: str, yes: bool) -> None:
    """Erase a person: their record, deliveries and attempts (a right-to-erasure request).

    Only a keyed hash of the address is kept, so an import cannot add them back (unless
    forced); they can still sign up again themselves. This cannot be undone.

    \b
    Example:
      publisher subscribers forget ann@example.com --yes
    """
    from ..readers.leave import forget
    from ..subscribers import validate_email

    address = validate_email(email)
    if not yes:
        click.confirm(f"Erase everything about {address}? This cannot be undone", abort=True)
    erased = forget(store, address)
    what = f"erased (was {erased.status})" if erased else "not a subscriber; blocked from imports"
    click.echo(f"{address}: {what}")
