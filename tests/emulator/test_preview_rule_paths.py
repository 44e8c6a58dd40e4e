"""_headers and _redirects rules over a real socket match the path as the client sent it, as on
Cloudflare (the asset worker tests each rule against ``new URL(request.url).pathname``)."""

from __future__ import annotations

from ..helpers import LiveEmulator
from .test_api import preview, publish

SITE = {"/index.html": b"home", "/100%/a.html": b"a", "/50%-off!.txt": b"sale"}
HEADERS = "/100%/*\n  X-Pct: 1\n/50%-off%21.txt\n  X-Sale: 1\n/%C3%A9t%C3%A9\n  X-Ete: 1\n"
REDIRECTS = "/50%-off%21 /sale 301\n/go/* /to/:splat 302\n"


def test_rules_with_a_bare_percent_match_the_path_as_sent(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"_headers": HEADERS, "_redirects": REDIRECTS})
    assert preview(emulator, "site", "/100%/a").headers.get("x-pct") == "1"
    assert preview(emulator, "site", "/50%-off%21.txt").headers.get("x-sale") == "1"
    r = preview(emulator, "site", "/50%-off%21")
    assert (r.status_code, r.headers["location"]) == (301, "/sale")


def test_a_rule_matches_one_spelling_of_a_path_not_every_one(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"_headers": HEADERS, "_redirects": REDIRECTS})
    # %25 is another path on Cloudflare: the rule /100%/* does not match it.
    assert "x-pct" not in preview(emulator, "site", "/100%25/a").headers
    assert "x-sale" not in preview(emulator, "site", "/50%-off!.txt").headers
    # Raw UTF-8 is percent-encoded by the URL parser before the rules see it; other hex case is not.
    assert preview(emulator, "site", "/%C3%A9t%C3%A9").headers.get("x-ete") == "1"
    assert "x-ete" not in preview(emulator, "site", "/%c3%a9t%c3%a9").headers


def test_a_splat_is_substituted_as_sent(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"_redirects": REDIRECTS})
    r = preview(emulator, "site", "/go/a%2Fb%20c?q=1")
    assert (r.status_code, r.headers["location"]) == (302, "/to/a%2Fb%20c?q=1")
