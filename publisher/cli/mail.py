"""Mail commands: ``send``, ``deliveries [retry]``, ``bounces process``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from .app import main
from .common import config_options, exit_if_incomplete, with_settings

if TYPE_CHECKING:  # loaded by the commands that need them: the CLI starts fast
    from ..config import Settings
    from ..mail.queue import SendReport
    from ..store import Store


STATUSES = ["queued", "claimed", "sending", "sent", "retry", "failed", "suppressed", "bounced"]


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and Ctrl-C set an event instead of killing: in-flight mail finishes and is recorded.

    A second signal restores the default behaviour, so an impatient operator can still kill.
    """
    stop = threading.Event()
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        click.echo("stopping: finishing messages in flight, releasing the rest...", err=True)
        stop.set()
        for number, old in previous.items():
            signal.signal(number, old)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _log_lines(total: int, every: float = 10.0) -> Callable[[SendReport], None]:
    """Progress for logs and pipes: one line every ``every`` seconds."""

    last = [time.monotonic()]

    def show(report: SendReport) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            click.echo(
                f"send: {report.done}/{total} done ({report.sent} sent, {report.retry} retry, "
                f"{report.failed} failed)",
                err=True,
            )

    return show


@main.command()
@with_settings
def send(settings: Settings, store: Store) -> None:
    """Send every due delivery: queued ones, retries whose time has come, and resumed claims.

    Shows a progress bar in a terminal and a line every 10 s otherwise. SIGTERM or Ctrl-C
    stops within seconds: messages in flight finish, unsent claims go back to the queue.

    \b
    Example:
      publisher send --config config.toml
    """
    from ..jobs import run_send

    total = store.due_count()
    with stop_on_signals() as stop:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(stderr=True)) as bar:
                task = bar.add_task("sending", total=total)
                report, via = run_send(
                    settings,
                    store,
                    stop=stop,
                    progress=lambda r: bar.update(task, completed=r.done),
                )
        else:
            report, via = run_send(settings, store, stop=stop, progress=_log_lines(total))
    state = "stopped early" if report.interrupted else "done"
    click.echo(
        f"send: {state}: {report.sent} sent, {report.retry} to retry, {report.failed} failed, "
        f"{report.suppressed} skipped (subscriber suppressed), via {via}"
    )
    for address in report.newly_suppressed:
        click.echo(f"  stopped mail to {address} after repeated hard bounces")
    for line in report.errors[-20:]:
        click.secho(f"  {line}", fg="yellow", err=True)
    exit_if_incomplete(report)


def _show(settings: Settings, store: Store, edition: int | None, status: str | None) -> None:
    counts = store.delivery_counts(edition)
    scope = f"edition {edition}" if edition is not None else "all editions"
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s)) or "none"
    click.echo(f"deliveries ({scope}): {summary}")
    shown = [status] if status else ["failed", "bounced", "retry"]
    for state in shown:
        for delivery, email in store.delivery_list(edition_id=edition, status=state):
            click.echo(
                f"  {delivery.id}\tedition {delivery.edition_id}\t{email}\t{delivery.status}\t"
                f"attempts {delivery.attempts}\t{delivery.reply or delivery.last_error}"
            )
            for n, (outcome, reply) in enumerate(store.attempts_of(delivery.id), 1):
                click.echo(f"      {n}. {outcome}: {reply}")


_show_command: Callable[..., None] = with_settings(_show)


@main.group(invoke_without_command=True)
@click.option("--edition", type=int, default=None, help="Only this edition.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="List this status.")
@config_options
@click.pass_context
def deliveries(
    ctx: click.Context,
    edition: int | None,
    status: str | None,
    config_path: Path | None,
    verbose: int,
    log_format: str | None,
) -> None:
    """Show delivery counts per status, and failures with the server's reply.

    Without --status, lists the latest failed, bounced and retrying deliveries, each with
    the history of its attempts (outcome and the server's reply).

    \b
    Example:
      publisher deliveries --config config.toml
      publisher deliveries --edition 3 --status failed
      publisher deliveries retry --edition 3
    """
    if ctx.invoked_subcommand is None:
        _show_command(
            config_path=config_path,
            verbose=verbose,
            log_format=log_format,
            edition=edition,
            status=status,
        )


@deliveries.command("retry")
@click.option("--edition", type=int, default=None, help="Only this edition.")
@with_settings
def deliveries_retry(settings: Settings, store: Store, edition: int | None) -> None:
    """Put failed deliveries back in the queue with fresh attempts (sent by the next send).

    \b
    Example:
      publisher deliveries retry --edition 3 && publisher send
    """
    count = store.requeue_failed(edition)
    click.echo(f"deliveries: {count} failed deliveries queued again")


def _process_inbox(settings: Settings, store: Store) -> None:
    from ..jobs import run_inbox

    report = run_inbox(settings, store)
    click.echo(
        f"inbox: {report.read} read, {report.bounced} deliveries bounced "
        f"({report.hard} hard), {len(report.suppressed)} subscribers stopped after bounces, "
        f"{len(report.handled)} unsubscribed by mail, {len(report.ignored)} ignored, "
        f"{len(report.unreadable)} unreadable (left unseen)"
    )
    for address in report.suppressed:
        click.echo(f"  bounced {address} (no more mail)")
    for line in report.handled:
        click.echo(f"  {line}")
    for line in report.ignored:
        click.secho(f"  ignored {line}", fg="yellow", err=True)
    for line in report.unreadable:
        click.secho(f"  unreadable {line}", fg="red", err=True)


@main.group()
def inbox() -> None:
    """Read the [bounces] mailbox: bounces, and unsubscribes sent by mail.

    \b
    Example:
      publisher inbox process
    """


@inbox.command("process")
@with_settings
def inbox_process(settings: Settings, store: Store) -> None:
    """Read new mail from the [bounces] maildir or IMAP folder and act on it.

    Delivery-status notifications (RFC 3464) mark what bounced; a hard bounce (5.x.x) counts
    toward suppress_after_bounces. A message whose Subject carries a valid unsubscribe token
    (the mailto: of List-Unsubscribe) unsubscribes that reader. Processed messages are
    flagged as seen so the next run skips them; one that cannot be parsed is left unseen.
    The daemon does this every [scheduler] inbox_every_minutes.

    \b
    Example:
      publisher inbox process --config config.toml
    """
    _process_inbox(settings, store)


@main.group()
def bounces() -> None:
    """The same as `publisher inbox` (kept for scripts that use it).

    \b
    Example:
      publisher bounces process
    """


@bounces.command("process")
@with_settings
def bounces_process(settings: Settings, store: Store) -> None:
    """The same as `publisher inbox process`: bounces and mailto unsubscribes.

    \b
    Example:
      publisher bounces process --config config.toml
    """
    _process_inbox(settings, store)
