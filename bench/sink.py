"""A minimal asyncio SMTP sink for the benchmarks, run in its own process.

aiosmtpd tops out near 450 messages/s and would be what is measured. This speaks just enough
SMTP (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP, QUIT), accepts everything and
throws it away, counting what it accepted so a benchmark can check nothing went missing.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized


class SinkProtocol(asyncio.Protocol):
    """One SMTP session that accepts every message and throws it away."""

    def __init__(self, counter: Synchronized[int]) -> None:
        self.counter = counter
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only a tail that could still hold the start of the terminator.
                    if len(self.buffer) > 8:
                        self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                with self.counter.get_lock():
                    self.counter.value += 1
                self.transport.write(b"250 2.0.0 accepted\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end], self.buffer[line_end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so a message of "." alone still ends
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.transport.write(b"250 OK\r\n")


def run_sink(port_out: Connection, counter: Synchronized[int]) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            lambda: SinkProtocol(counter), "127.0.0.1", 0, backlog=512
        )
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def start_sink() -> tuple[mp.Process, int, Synchronized[int]]:
    """(the sink's process, its port, the count of messages it accepted)."""
    counter: Synchronized[int] = mp.Value("q", 0)  # type: ignore[assignment]
    receive, send = mp.Pipe(duplex=False)
    process = mp.Process(target=run_sink, args=(send, counter), daemon=True)
    process.start()
    return process, int(receive.recv()), counter
