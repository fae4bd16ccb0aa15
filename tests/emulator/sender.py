"""The emulator's webhook POSTs, at little CPU on the machine they are sent to.

GitHub sends a delivery from its own machines; the emulator runs beside the App (bench/e2e.py
on a 2-core machine), so what sending costs here is taken from the App. An HTTP client library
costs ~0.7 ms of CPU per POST (httpx), and 64 threads sending a burst at once fight over the
GIL; here every POST is a plain HTTP/1.1 request written on its own connection (as GitHub
opens one per delivery, `Connection: close`), and a burst is sent from one thread, all its
connections at once (`selectors`).
"""

from __future__ import annotations

import errno
import http.client
import selectors
import socket
import time
from urllib.parse import urlsplit

Answer = tuple[int, str]  # status (0: no answer) and the body, or why there was none


def request_bytes(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}",
             f"Content-Length: {len(body)}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _dechunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def parse_answer(raw: bytes) -> Answer:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return 0, "RemoteProtocolError: incomplete answer"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    try:
        code = int(status_line.split()[1])
    except (IndexError, ValueError):
        return 0, f"RemoteProtocolError: bad status line {status_line[:80]!r}"
    fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif fields.get("content-length", "").isdigit():
        body = body[:int(fields["content-length"])]
    return code, body.decode("utf-8", errors="replace")


class _Conn:
    def __init__(self, data: bytes) -> None:
        self.data, self.sent, self.got = data, 0, bytearray()
        self.sock: socket.socket | None = None
        self.answer: Answer | None = None
        self.done_at: float | None = None


def post_all(url: str, requests: list[tuple[bytes, dict[str, str]]],
             timeout: float = 30.0) -> list[tuple[Answer, float]]:
    """POST each (body, headers) to `url` at once, each on its own connection, from this one
    thread; an answer each, in order, with the seconds it took."""
    start = time.monotonic()
    answers = _post_all(url, requests, timeout)
    return [(a, (at or time.monotonic()) - start) for a, at in answers]


def _post_all(url: str, requests: list[tuple[bytes, dict[str, str]]],
              timeout: float) -> list[tuple[Answer, float | None]]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        return [(_post_tls(url, body, headers, timeout), time.monotonic())
                for body, headers in requests]
    try:
        addr = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        return [((0, f"ConnectError: {exc}"), None)] * len(requests)
    conns = [_Conn(request_bytes(url, body, headers)) for body, headers in requests]
    sel = selectors.DefaultSelector()
    for c in conns:
        try:
            c.sock = socket.socket(addr[0], addr[1])
            c.sock.setblocking(False)
            err = c.sock.connect_ex(addr[4])
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, f"connect: {errno.errorcode.get(err, err)}")
            sel.register(c.sock, selectors.EVENT_WRITE, c)
        except OSError as exc:
            _finish(sel, c, (0, f"ConnectError: {exc}"))
    deadline = time.monotonic() + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            for key in list(sel.get_map().values()):
                _finish(sel, key.data, (0, "ReadTimeout: no answer in time"))
            break
        for key, _events in sel.select(left):
            _step(sel, key.data)
    sel.close()
    return [(c.answer or (0, "no answer"), c.done_at) for c in conns]


def _step(sel: selectors.BaseSelector, c: _Conn) -> None:
    assert c.sock is not None
    try:
        if c.sent < len(c.data):
            if c.sent == 0 and (err := c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)):
                raise ConnectionRefusedError(err, errno.errorcode.get(err, str(err)))
            c.sent += c.sock.send(memoryview(c.data)[c.sent:])
            if c.sent == len(c.data):
                sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        chunk = c.sock.recv(65536)
    except BlockingIOError:
        return
    except OSError as exc:
        _finish(sel, c, (0, f"{'ConnectError' if c.sent == 0 else 'NetworkError'}: {exc}"))
        return
    if chunk:
        c.got += chunk
    else:
        _finish(sel, c, parse_answer(bytes(c.got)))


def _finish(sel: selectors.BaseSelector, c: _Conn, answer: Answer) -> None:
    c.answer, c.done_at = answer, time.monotonic()
    if c.sock is not None:
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()


def _post_tls(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                     body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
