"""Cloudflare's own tests of the other asset-config parsers, as data: ``.assetsignore`` and content
types (``helpers.test.ts``) and ``run_worker_first`` rules (``parseStaticRouting.test.ts``, run
against :func:`assetsync.protocol.assetrules.staticrouting.parse_static_routing`: each message must
be upstream's, word for word).

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a,
``packages/workers-shared/utils/tests/helpers.test.ts`` and
``packages/workers-shared/utils/tests/parseStaticRouting.test.ts``. Facts only. No parser-level
tests exist for ``utils/configuration/constructConfiguration.ts`` at that commit (its behaviour is
checked through :func:`.parse_compare.construct_headers`).
"""

from __future__ import annotations

import os
import tempfile

from assetsync.folder.ignore import IgnoreRules
from assetsync.folder.scan import scan
from assetsync.protocol.assetrules.staticrouting import StaticRoutingError, parse_static_routing
from assetsync.protocol.contenttypes import content_type

from .parse_compare import RUNNERS, Case

HELPERS = "helpers.test.ts"
ROUTING = "parseStaticRouting.test.ts"

ROOT_CONFIG_NEVER_UPLOADED = (
    "deliberate difference: assetsync never uploads the root _headers, _redirects and .assetsignore, "
    "even when .assetsignore negates them (README, 'What is an asset')"
)


def _check_ignore(case: Case) -> list[str]:
    """``input``: (.assetsignore text, {path: ignored?}); the scan must skip or keep each path."""
    ignore_text, expected = case.input
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, ".assetsignore"), "w") as f:
            f.write(ignore_text)
        for rel in expected:
            path = os.path.join(root, *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not os.path.exists(path):
                open(path, "w").close()
        kept = {f.path[1:] for f in scan(root, IgnoreRules.load(root), lambda _: None)}
    verdict = {True: "ignored", False: "kept"}
    return [
        f"{rel}: {verdict[ignored]} upstream, {verdict[rel not in kept]} here"
        for rel, ignored in expected.items()
        if (rel not in kept) != ignored
    ]


def _check_content_type(case: Case) -> list[str]:
    got = content_type(case.input)
    return [] if got == case.expected else [f"{case.expected!r} upstream, {got!r} here"]


def _check_static_routing(case: Case) -> list[str]:
    """``input``: the rules; ``expected``: upstream's error message, or its parsed halves."""
    try:
        parsed = parse_static_routing(case.input)
    except StaticRoutingError as exc:
        got: object = str(exc)
    else:
        got = {"user_worker": list(parsed.user_worker), "asset_worker": list(parsed.asset_worker)}
    return [] if got == case.expected else [f"upstream {case.expected!r}, here {got!r}"]


RUNNERS.update(
    {"ignore": _check_ignore, "content-type": _check_content_type, "static-routing": _check_static_routing}
)


def _routing(test: str, rules: list[str], outcome: object) -> Case:
    """``outcome``: the error message upstream throws, or the parsed ``{user_worker, asset_worker}``."""
    return Case(ROUTING, test, "static-routing", rules, outcome)


CASES: tuple[Case, ...] = (
    Case(
        HELPERS,
        ".assetsignore should ignore metafiles by default",
        "ignore",
        (
            "",  # an empty .assetsignore: upstream asks about the name whether or not the file exists
            {
                ".assetsignore": True,
                "_redirects": True,
                "_headers": True,
                "child/.assetsignore": False,
                "child/_redirects": False,
                "child/_headers": False,
            },
        ),
    ),
    Case(
        HELPERS,
        ".assetsignore should allow users to force opt-in metafiles",
        "ignore",
        (
            "!.assetsignore\n!_redirects\n!_headers",
            {".assetsignore": False, "_redirects": False, "_headers": False},
        ),
        not_applicable=ROOT_CONFIG_NEVER_UPLOADED,
    ),
    Case(
        HELPERS,
        ".assetsignore should allow users to ignore files",
        "ignore",
        (
            "logo.png\nchild/**/*.svg\n!child/nope.svg\n/*.js",
            {
                "abc": False,
                "logo.png": True,
                "child/logo.png": True,
                "foo.js": True,
                "child/foo.js": False,
                "child/yup.svg": True,
                "child/a/b/c/yup.svg": True,
                "child/nope.svg": False,
            },
        ),
    ),
    Case(
        HELPERS,
        "getContentType should return 'text/javascript",
        "content-type",
        "/_astro/sponsors.CIiPz7eJ.js",
        "text/javascript; charset=utf-8",
    ),
    _routing(
        "throws when given empty rules",
        [],
        "No `run_worker_first` rules were provided; must provide at least 1 rule.",
    ),
    _routing(
        "throws when given only negative rules",
        ["!/assets"],
        "Only negative `run_worker_first` rules were provided; must provide at least 1 non-negative rule",
    ),
    _routing(
        "throws when too many rules are provided (120 positive)",
        [f"/rule/{i}" for i in range(120)],
        "Too many `run_worker_first` rules were provided; 120 rules provided exceeds max of 100.",
    ),
    _routing(
        "throws when too many rules are provided (60 positive, 60 negative)",
        [*(f"/rule/{i}" for i in range(60)), *(f"!/rule/{60 + i}" for i in range(60))],
        "Too many `run_worker_first` rules were provided; 120 rules provided exceeds max of 100.",
    ),
    _routing(
        "throws when a rule is too long",
        [f"/api/{'a' * 130}"],
        f"Invalid routes in `run_worker_first`:\n'/api/{'a' * 130}': all rules must be less than 100 "
        "characters in length",
    ),
    _routing(
        "throws when rule doesn't begin with /",
        ["api/*", "!asset"],
        "Invalid routes in `run_worker_first`:\n'api/*': rules must start with '/' or '!/'\n"
        "'!asset': negative rules must start with '!/'",
    ),
    _routing(
        "throws when given redundant rules",
        ["/api/*", "/oauth/callback", "/api/some/route", "!/api/assets/*"],
        "Invalid routes in `run_worker_first`:\n'/api/some/route': rule '/api/*' makes it redundant",
    ),
    _routing(
        "throws when given duplicate routes",
        ["/api/some/route", "/oauth/callback", "/api/some/route", "!/api/assets/*"],
        "Invalid routes in `run_worker_first`:\n'/api/some/route': rule is a duplicate; rules must be unique",
    ),
    _routing(
        "correctly parses valid rules",
        ["/api/*", "/oauth/callback", "!/api/assets/*"],
        {"user_worker": ["/api/*", "/oauth/callback"], "asset_worker": ["/api/assets/*"]},
    ),
)
