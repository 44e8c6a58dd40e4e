"""What the platform would ignore in a site's ``_redirects`` and ``_headers``, found before a deploy.

The preview serves with the same parsers, so a line reported here is exactly a line the preview
(and, as far as its tables go, Cloudflare) drops. Each problem keeps its file and line, so the
user reads ``site/_redirects:3: why`` and can jump there.
"""

from __future__ import annotations

from collections.abc import Iterator

from .headers import parse_headers
from .redirects import parse_redirects
from .rules import ParseWarning

__all__ = ["rule_problems"]


def rule_problems(
    *, redirects: str | None, headers: str | None, html_handling: str | None = None
) -> Iterator[ParseWarning]:
    """Every line of the given ``_redirects`` and ``_headers`` texts (None: no such file) that
    would be rejected or ignored, and every limit they hit, in file order; ``html_handling`` is
    the site's setting, which decides whether ``/ /index.html`` is a valid rule."""
    if redirects is not None:
        yield from parse_redirects(redirects, html_handling=html_handling).warnings
    if headers is not None:
        yield from parse_headers(headers).warnings
