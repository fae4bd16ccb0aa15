"""How the web process is served: uvicorn on uvloop + httptools, with limits an open port needs.

uvicorn bounds neither the size of request headers (with httptools) nor the time a peer may
take to send them: a connection that trickles a byte a second, or never sends a request at
all, stays open. `GuardedHttpTools` adds both: headers over `MAX_HEADER_BYTES` are answered
431, and a connection whose request line and headers are not complete within
`HEADER_TIMEOUT` seconds of its first byte (or of opening) is answered 408 and closed. The
body's own time and size limits are the app's (app.main). Behind a reverse proxy these are a
second line; see README "Running behind a proxy".

uvicorn writes a response's status line and headers, then its body, as two writes: two
system calls and two TCP segments for every small answer. `_OneWrite` holds the headers of a
fixed-length answer until its body, so that they leave together.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT = 10.0
LIMIT_CONCURRENCY = 512  # connections + requests in flight; over it uvicorn answers 503
KEEP_ALIVE = 5  # seconds an idle keep-alive connection is kept

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadersTooLarge(Exception):
    pass


class _OneWrite:
    """The transport as one request's `RequestResponseCycle` sees it (it calls `write`,
    `close` and `is_closing`): the status line and headers of an answer with a
    Content-Length are held until its first body bytes or `close`. An interim 100 Continue
    (written before the response starts), chunked answers and HEAD pass straight through."""

    __slots__ = ("_transport", "_cycle", "_held", "_started")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport, self._cycle = transport, cycle
        self._held: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif not self._started and self._cycle.response_started:
            self._started = True  # this write is the status line and headers
            cycle = self._cycle
            if (cycle.chunked_encoding is False and cycle.expected_content_length
                    and cycle.scope["method"] != "HEAD"):
                self._held = data
                return
        self._transport.write(data)

    def close(self) -> None:
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpTools(HttpToolsProtocol):
    header_timeout = HEADER_TIMEOUT
    max_header_bytes = MAX_HEADER_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_bytes = 0  # received while the headers are incomplete
        self._in_headers = True
        self._oversize = False
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self._answer(408, "request headers not received in time")

    def _answer(self, status: int, message: str) -> None:
        body = message.encode()
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                             % (status, _REASONS[status], len(body), body))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self._oversize:  # the parser stopped because on_header raised
            self._answer(431, f"request headers over {self.max_header_bytes} bytes")
        else:
            super().send_400_response(msg)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # httptools hands a header over only once it is complete: one that never ends would
        # be buffered without bound, so count what arrives while the headers are incomplete.
        if self._in_headers and not self.transport.is_closing():
            self._raw_bytes += len(data)
            if self._raw_bytes > self.max_header_bytes:
                self._answer(431, f"request headers over {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:  # idle keep-alive time between requests is uvicorn's
        self._raw_bytes = 0
        self._in_headers = True
        self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        # Counted once the headers are complete, from what uvicorn collected (one pass, not
        # a Python call per header); what arrives before they are is counted by
        # data_received, so at most one read past the limit is ever held.
        headers = self.headers
        size = len(self.url) + 4 * len(headers) + sum([len(n) + len(v) for n, v in headers])
        if size > self.max_header_bytes:
            self._oversize = True
            raise _HeadersTooLarge  # the parser stops: send_400_response answers 431
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # a new request's cycle (not an upgrade)
            self.cycle.transport = _OneWrite(self.transport, self.cycle)  # type: ignore[assignment]


def serve(app: Any, host: str, port: int) -> None:
    """Run `app` with the limits above (uvloop and httptools: `uvicorn[standard]`)."""
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                loop="uvloop", http=GuardedHttpTools, limit_concurrency=LIMIT_CONCURRENCY,
                timeout_keep_alive=KEEP_ALIVE, server_header=False)
