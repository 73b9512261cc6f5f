"""Bounces read over IMAP: a small IMAP server speaking just what imaplib asks for."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect, run_digest

from .conftest import cli, subscriber_state, write_config
from .test_bounces import dsn


class Mailbox:
    """The folder's messages by UID, and which are flagged \\Seen."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = {uid: data for uid, data in enumerate(messages, 1)}
        self.seen: set[int] = set()
        self.logins: list[tuple[str, str]] = []


class ImapHandler(socketserver.StreamRequestHandler):
    box: Mailbox

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("* OK tiny IMAP ready")
        for raw in self.rfile:
            tag, command, *args = raw.decode().rstrip("\r\n").split(" ")
            verb = command.upper()
            if verb == "CAPABILITY":
                self.reply("* CAPABILITY IMAP4rev1")
            elif verb == "LOGIN":
                self.box.logins.append((args[0].strip('"'), args[1].strip('"')))
            elif verb == "SELECT":
                self.reply(f"* {len(self.box.messages)} EXISTS")
            elif verb == "UID" and args[0].upper() == "SEARCH":
                unseen = [str(u) for u in self.box.messages if u not in self.box.seen]
                self.reply("* SEARCH " + " ".join(unseen))
            elif verb == "UID" and args[0].upper() == "FETCH":
                uid = int(args[1])
                data = self.box.messages[uid]
                self.wfile.write(f"* {uid} FETCH (UID {uid} BODY[] {{{len(data)}}}\r\n".encode())
                self.wfile.write(data + b")\r\n")
            elif verb == "UID" and args[0].upper() == "STORE":
                self.box.seen.add(int(args[1]))
            elif verb == "LOGOUT":
                self.reply("* BYE")
                self.reply(f"{tag} OK bye")
                return
            self.reply(f"{tag} OK done")


@contextmanager
def imap_server(box: Mailbox) -> Iterator[int]:
    handler = type("BoundImapHandler", (ImapHandler,), {"box": box})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_bounces_from_an_imap_folder(project: Path) -> None:
    settings = load_settings(project / "config.toml", environ={})
    with open_store(settings) as store:
        store.add_subscriber("ann@example.com")
        run_collect(settings, store)
        assert run_digest(settings, store).sent.sent == 1
        [(delivery, _)] = store.delivery_list(status="sent")
    box = Mailbox(
        [dsn("ann@example.com", message_id=delivery.message_id), b"Subject: hi\r\n\r\nhello\r\n"]
    )
    with imap_server(box) as port:
        config = write_config(
            project,
            extra=f'\n[bounces]\nimap_host = "127.0.0.1"\nimap_port = {port}\nimap_security = "none"\n'
            'imap_username = "bounces"\n',
        )
        first = cli(
            "bounces", "process", "--config", str(config),
            env={"PUBLISHER_BOUNCES_IMAP_PASSWORD": "pw"},
        )  # fmt: skip
        assert first.exit_code == 0, first.output
        assert "2 read, 1 deliveries bounced (1 hard)" in first.output
        again = cli("bounces", "process", "--config", str(config))
        assert "0 read" in again.output
    assert box.seen == {1, 2}
    assert box.logins[0] == ("bounces", "pw")
    with open_store(settings) as store:
        assert subscriber_state(store, "ann@example.com") == ("active", 1)
        assert store.delivery_counts() == {"bounced": 1}
