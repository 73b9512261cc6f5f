"""Digests: each article once per subscriber, failures kept for retry, never dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect, run_digest

from .conftest import SmtpSink, free_port, next_digest_time, write_config


class FlakySink(SmtpSink):
    """Answers 451 to the first ``failures`` recipients, 550 to addresses starting with 'bad'."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("bad"):
            return "550 5.1.1 no such user"
        if self.failures > 0:
            self.failures -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def smtp_settings(project: Path, port: int):  # type: ignore[no-untyped-def]
    extra = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10\n'
    return load_settings(write_config(project, extra=extra), environ={})


def add_article(project: Path, name: str, title: str) -> None:
    (project / "content" / f"{name}.md").write_text(
        f"---\ntitle: {title}\ndate: 2024-10-01T09:00:00\nsection: national\nauthor: Desk\n---\nBody.\n",
        encoding="utf-8",
    )


def test_each_article_once_and_temporary_failure_retried(project: Path) -> None:
    sink = FlakySink(failures=1)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = smtp_settings(project, controller.port)
        with open_store(settings) as store:
            store.add_subscriber("ann@example.com", "Ann")
            store.add_subscriber("bad@example.com", "Bad")
            run_collect(settings, store)
            first = run_digest(settings, store)
            assert (first.sent.sent, first.sent.retry, first.sent.failed) == (0, 1, 1)
            assert len(sink.messages) == 0
            counts = store.delivery_counts()
            assert counts == {"retry": 1, "failed": 1}

            # The next run sends the retried delivery and plans nothing new.
            second = run_digest(settings, store)
            assert second.planned == []
            assert second.sent.sent == 1
            assert [m.rcpt_tos for m in sink.messages] == [["ann@example.com"]]
            assert "US Under Secretary John Bass" in sink.messages[0].data.decode()

            # A late article goes in the next digest (due a day later), and only it.
            add_article(project, "late", "A late arrival")
            run_collect(settings, store)
            assert run_digest(settings, store).planned == []  # not due again yet
            tomorrow = next_digest_time(store)
            third = run_digest(settings, store, now=tomorrow)
            assert third.sent.sent == 1
            latest = sink.messages[-1].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "A late arrival" in latest
            assert "John Bass" not in latest
            assert run_digest(settings, store, now=next_digest_time(store)).sent.sent == 0
    finally:
        controller.stop()


def test_new_subscriber_gets_only_articles_collected_after_subscribing(settings) -> None:  # type: ignore[no-untyped-def]
    with open_store(settings) as store:
        run_collect(settings, store)
        store.add_subscriber("late@example.com")
        assert run_digest(settings, store).planned == []
        subscriber, created = store.add_subscriber("LATE@example.com")
        assert not created and subscriber.email == "late@example.com"
