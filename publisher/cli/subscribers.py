"""Subscriber commands: ``publisher subscribers add|list|set|reactivate``."""

from __future__ import annotations

from datetime import datetime

import click

from ..config import Settings
from ..digest.schedule import reschedule
from ..errors import PublisherError
from ..store import Store
from ..subscribers import validate_email
from .app import main
from .common import with_settings

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


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
    subscriber, created = store.add_subscriber(validate_email(email), name.strip())
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


@subscribers.command("set")
@click.argument("email")
@click.option("--timezone", default=None, help="IANA zone, e.g. Europe/London.")
@click.option("--hour", type=click.IntRange(0, 23), default=None, help="Local send hour, 0-23.")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default=None)
@click.option("--weekday", type=click.Choice(WEEKDAYS), default=None, help="Day of weekly digests.")
@click.option("--sections", default=None, help="Comma-separated sections; 'all' for every one.")
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
) -> None:
    """Change a subscriber's digest preferences; their next due time is recomputed.

    \b
    Example:
      publisher subscribers set ann@example.com --timezone Europe/London --hour 7
      publisher subscribers set ann@example.com --frequency weekly --weekday friday
      publisher subscribers set ann@example.com --sections politics,business
    """
    subscriber = store.subscriber_by_email(email)
    if subscriber is None:
        raise PublisherError(f"no subscriber {email}", "check `publisher subscribers list`")
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
    updated = reschedule(settings, store, subscriber, datetime.now().astimezone(), **prefs)
    due = updated.next_due_at.isoformat() if updated.next_due_at else "now"
    click.echo(f"{updated.email}: preferences saved; next digest due {due}")


@subscribers.command("reactivate")
@click.argument("email")
@with_settings
def subscribers_reactivate(settings: Settings, store: Store, email: str) -> None:
    """Make a suppressed subscriber active again, with their bounce count reset.

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
    click.echo(f"{address}: active (was {before})")
