"""The preview server's own pages: the index of deployed sites and the choice between accounts.

Every name on them comes from a deploy (script, namespace, account) or from the request (its
path and query), so each is escaped; links are built from the shared address grammar
(:mod:`assetsync.protocol.previews`) so that what the pages show is what the server parses.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from starlette.responses import HTMLResponse

from ...protocol.previews import PreviewAddress
from ..store import Script

_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}td code{font-size:90%}</style>"
)


def address_of(script: Script) -> PreviewAddress:
    """The full address of one live script."""
    return PreviewAddress(script.name, script.namespace, script.account)


def _anchor(url: str) -> str:
    shown = html.escape(url)
    return f"<a href='{shown}'><code>{shown}</code></a>"


def _link(url: str | None) -> str:
    return "<td>(path only)</td>" if url is None else f"<td>{_anchor(url)}</td>"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>{_STYLE}{body}",
        status,
        headers={"cache-control": "no-store"},  # what is deployed changes under the same address
    )


INDEX_PAGE = 100  # sites on one page of the index

SiteKey = tuple[str, str, str]  # (account, namespace, script): where a page of the index starts


def key_of(script: Script) -> SiteKey:
    return script.account, script.namespace, script.name


def page_key(query: Mapping[str, str]) -> tuple[SiteKey | None, bool]:
    """The site a page of the index starts after (``?after=``) or ends before (``?before=``),
    and whether it is before; ``ValueError`` saying what is wrong with a marker."""
    for param in ("after", "before"):
        raw = query.get(param)
        if raw is None:
            continue
        account, sep, rest = raw.partition("/")
        namespace, sep2, name = rest.partition("/")
        if not (sep and sep2 and account and name):
            raise ValueError(f"?{param}={raw!r} is not account/namespace/script (the namespace may be empty)")
        return (account, namespace, name), param == "before"
    return None, False


def bad_page_key(why: str) -> HTMLResponse:
    return _page(
        "assetsync emulator",
        f"<h1>No such page</h1><p>{html.escape(why)}. <a href='/'>The first page of deployed sites</a>.</p>",
        400,
    )


def _page_link(param: str, key: SiteKey, text: str) -> str:
    return f"<a href='?{html.escape(urlencode({param: '/'.join(key)}))}'>{text}</a>"


def index_page(
    live: list[Script],
    short: list[bool],
    port: int | str,
    older: SiteKey | None = None,
    newer: SiteKey | None = None,
) -> HTMLResponse:
    """A page of live scripts (sorted by account, namespace, name), with the addresses that
    reach them; ``short[i]``: the short address reaches ``live[i]``, so it is shown too.
    ``older``/``newer``: the page's first/last site when sites lie before/after it (the links
    to the pages beside it)."""
    rows = []
    for script, reaches in zip(live, short, strict=True):
        address = address_of(script)
        host_url, path_url = address.urls("", port)
        short_cell = "<td></td>"
        if reaches:
            short_host, short_path = address.short().urls("", port)
            short_cell = f"<td>{' or '.join(_anchor(u) for u in (short_host, short_path) if u)}</td>"
        rows.append(
            f"<tr><td><code>{html.escape(script.account)}</code></td>"
            f"<td>{html.escape(script.namespace) or '&ndash;'}</td><td>{html.escape(script.name)}</td>"
            f"{_link(host_url)}{_link(path_url)}{short_cell}</tr>"
        )
    if not rows:
        return _page("assetsync emulator", "<h1>Deployed sites</h1><p>Nothing deployed yet.</p>")
    head = (
        "<tr><th>Account</th><th>Namespace</th><th>Script</th><th>Host address</th>"
        "<th>Path address</th><th>Short address (this account's)</th></tr>"
    )
    links = [
        *(["<a href='?'>First page</a>", _page_link("before", older, "&larr; Previous")] if older else []),
        *([_page_link("after", newer, "Next &rarr;")] if newer else []),
    ]
    nav = f"<nav><p>{' | '.join(links)}</p></nav>" if links else ""
    return _page(
        "assetsync emulator",
        f"<h1>Deployed sites</h1>{nav}<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        f"{nav}",
    )


def choices_page(live: list[Script], path: str, origin: str, port: int | str) -> HTMLResponse:
    """300 Multiple Choices: ``live`` share the short address asked for; ``path`` (as sent, with
    its query) is kept in each full address; ``origin`` serves the path-style ones."""
    tail = quote(path.encode("latin-1"), safe="/%:@!$&'()*+,;=?-._~")
    rows = []
    for script in live:
        host_url, path_url = address_of(script).urls(origin, port)
        rows.append(
            f"<tr><td><code>{html.escape(script.account)}</code></td>"
            f"{_link(host_url and host_url[:-1] + tail)}{_link(path_url[:-1] + tail)}</tr>"
        )
    first = live[0]
    site = html.escape(address_of(first).site)
    return _page(
        f"{address_of(first).site}: {len(live)} accounts",
        f"<h1>{len(live)} accounts have {site}</h1><p>Its short address names no one of them: "
        "use the full address of the one you mean.</p><table><thead><tr><th>Account</th>"
        f"<th>Host address</th><th>Path address</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
        300,
    )
