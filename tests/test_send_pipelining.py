"""SMTP pipelining (RFC 2920): where the server offers it, MAIL, RCPT and DATA leave in one
write, and every reply still decides the message's fate as in lockstep."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from publisher.config import SmtpConfig
from publisher.mail import OutgoingMessage, SmtpTransport
from publisher.mail.transports import SendFailure


class Scripted(socketserver.StreamRequestHandler):
    """Offers PIPELINING, refuses RCPT to refused@..., records every chunk it reads."""

    chunks: list[bytes]

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.sendall(b"220 scripted ESMTP\r\n")
        buffer = b""
        in_data = False
        failed_rcpt = False
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            self.server.chunks.append(chunk)  # type: ignore[attr-defined]
            buffer += chunk
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    buffer, in_data = buffer[end + 5 :], False
                    sock.sendall(b"250 2.0.0 queued\r\n")
                    continue
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    break
                line, buffer = buffer[:line_end], buffer[line_end + 2 :]
                verb = line[:4].upper()
                if verb == b"EHLO":
                    sock.sendall(b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT" and b"refused@" in line:
                    failed_rcpt = True
                    sock.sendall(b"550 5.1.1 no such user\r\n")
                elif verb == b"DATA":
                    if failed_rcpt:
                        sock.sendall(b"554 5.5.1 no valid recipients\r\n")
                    else:
                        in_data = True
                        buffer = b"\r\n" + buffer
                        sock.sendall(b"354 go ahead\r\n")
                elif verb == b"RSET":
                    failed_rcpt = False
                    sock.sendall(b"250 2.0.0 reset\r\n")
                elif verb == b"QUIT":
                    sock.sendall(b"221 bye\r\n")
                    return
                else:
                    sock.sendall(b"250 ok\r\n")


@contextmanager
def scripted_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Scripted)
    server.chunks = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def message(to: str, n: int) -> OutgoingMessage:
    data = (
        f"From: d@news.example.com\r\nTo: {to}\r\nMessage-ID: <{n}@x>\r\n\r\n.starts with a dot\r\n"
    )
    return OutgoingMessage("d@news.example.com", to, f"<{n}@x>", data.encode())


def test_commands_leave_in_one_write_and_refusals_still_count() -> None:
    with scripted_server() as server:
        port = server.server_address[1]
        transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, security="none"))
        try:
            assert transport.send(message("ann@example.com", 1)).startswith("250 2.0.0")
            with pytest.raises(SendFailure) as refused:
                transport.send(message("refused@example.com", 2))
            assert refused.value.permanent and refused.value.bounce
            assert "RCPT TO answered 550" in str(refused.value)
            # The same connection goes on after the RSET.
            assert transport.send(message("bob@example.com", 3)).startswith("250 2.0.0")
        finally:
            transport.close()
    commands = [c for c in server.chunks if c.startswith(b"MAIL FROM")]  # type: ignore[attr-defined]
    assert len(commands) == 3
    for chunk in commands:
        assert b"\r\nRCPT TO:<" in chunk and chunk.endswith(b"\r\nDATA\r\n"), chunk
    assert any(b"..starts with a dot" in c for c in server.chunks)  # type: ignore[attr-defined]
