"""Server-rendered HTML for the operator pages: one layout, every value escaped.

No build step and no script: plain HTML and a little CSS, readable in any browser and in a
terminal browser. Everything shown may come from a pull request (names, branches, errors),
so every value goes through `esc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 24px;font-size:18px}
header b{font-weight:600} main{padding:12px 24px;max-width:1200px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 16px;padding:8px 16px}
h2{font-size:16px;margin:6px 0 8px} table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-top:1px solid #eaeef2;vertical-align:top}
td:first-child{white-space:nowrap}
th{font-weight:600;color:#57606a;border-top:0} code{font-size:13px}
.ok{color:#1a7f37;font-weight:600} .bad{color:#cf222e;font-weight:600}
.wait{color:#9a6700;font-weight:600} .muted{color:#57606a}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:16px}
button{font:inherit;padding:2px 10px;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa}
"""

CLASS_OF = {"enqueued": "ok", "approved": "ok", "pass": "ok", "succeeded": "ok",
            "rejected": "bad", "invalid": "bad", "failed": "bad", "fail": "bad",
            "pending": "wait", "duplicate": "muted", "ignored": "muted", "rejected_req": "bad"}


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def badge(word: object) -> str:
    return f"<span class='{CLASS_OF.get(str(word), '')}'>{esc(word)}</span>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """Cells are HTML already (escape with `esc` or `badge`)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f"<p class='muted'>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{body}</table>"


def section(title: str, content: str, ident: str) -> str:
    return f"<section id='{esc(ident)}'><h2>{esc(title)}</h2>{content}</section>"


def page(title: str, body: str, status: int = 200, refresh: int | None = None) -> HTMLResponse:
    meta = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    html = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{meta}"
            f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><header><b>shipcrew</b> · {esc(title)}"
            f"</header><main>{body}</main></body></html>")
    # The pages show deliveries and errors: never framed, never cached, no referrer leak.
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                          "form-action 'self' https: http:; frame-ancestors 'none'",
               "Referrer-Policy": "no-referrer"}
    return HTMLResponse(html, status_code=status, headers=headers)


async def form(request: Request, limit: int = 64 * 1024) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body, as a browser posts a plain form."""
    body = await request.body()
    return parse_qs(body[:limit].decode("utf-8", "replace"), keep_blank_values=True)
