"""A TCP proxy to put between the app and a database server, whose faults a test switches
at run time: what a frozen server, a network partition, a restart or a slow link does to the
app, without touching the server itself.

Modes (`proxy.mode = ...`):
- "pass": bytes flow both ways.
- "latency": every chunk waits `proxy.latency` seconds before it is passed on.
- "blackhole": connections are accepted and nothing is ever answered; bytes on live
  connections stop flowing (held, not lost) until the mode changes.
- "refuse": nothing listens (connection refused) and live connections are reset.
- "cut": live connections are reset, and every new one is reset once accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

MODES = ("pass", "latency", "blackhole", "refuse", "cut")


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self.port = 0
        self.latency = 0.0
        self._mode = "pass"
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self.accepted = 0  # connections the proxy accepted, in any mode

    async def start(self) -> None:
        await self._listen()

    async def stop(self) -> None:
        await self._close_listener()
        self._reset_live()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self._mode = mode
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode in ("refuse", "cut"):
            self._reset_live()
        task = asyncio.get_running_loop().create_task(
            self._close_listener() if mode == "refuse" else self._listen()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def url_for(self, url):
        """A SQLAlchemy URL like `url` but through this proxy."""
        return url.set(host=self.host, port=self.port)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)

    def _reset_live(self) -> None:
        for writer in list(self._live):
            _reset(writer)
        self._live.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._mode in ("cut", "refuse"):
            _reset(writer)
            return
        self._live.add(writer)
        try:
            await self._flowing.wait()  # blackhole: accepted, never answered
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            self._live.discard(writer)
            _reset(writer)
            return
        self._live.add(up_writer)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._live.difference_update({writer, up_writer})
            _reset(writer)
            _reset(up_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                if self._mode == "latency" and self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close at once with a reset (SO_LINGER 0), as a crashed server or a middlebox does."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
