"""Cloudflare's html_handling and encoding tables, as data.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a,
``fixtures/workers-shared-asset-config/test-cases/html-handling-test-cases.ts`` (HTML_HANDLING) and
``fixtures/workers-shared-asset-config/test-cases/encoding-test-cases.ts`` (ENCODING), both run by
``fixtures/workers-shared-asset-config/html-handling.test.ts``: a site holding ``files`` (with
``not_found_handling: none``) gets a GET for ``request``; the client follows redirects. With a
matched file, the final answer is 200 with that file, at ``final`` (redirected iff ``final`` differs
from ``request``); without one, the answer is 404 and no asset was read.

The rows are in ``html_handling_cases.json`` (its ``upstream`` key names the files and commit);
each is (upstream title, files, request, matched file or None, final path or None).
"""

from __future__ import annotations

import json
from pathlib import Path

HtmlCase = tuple[str, tuple[str, ...], str, str | None, str | None]

_DATA = json.loads((Path(__file__).parent / "html_handling_cases.json").read_text(encoding="utf-8"))


def _table(name: str) -> dict[str, tuple[HtmlCase, ...]]:
    return {
        mode: tuple(
            (title, tuple(files), request, matched, final) for title, files, request, matched, final in rows
        )
        for mode, rows in _DATA[name].items()
    }


HTML_HANDLING = _table("html_handling")
ENCODING = _table("encoding")
