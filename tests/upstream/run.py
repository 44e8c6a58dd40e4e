"""Runs the ported upstream cases against a live preview: each distinct site deployed once.

Requests go over a real socket with :mod:`http.client`, which sends the path byte for byte (a
higher-level client would re-encode ``/[boop]`` or resolve ``..`` before the preview could see it).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..emulator.test_api import publish
from ..helpers import LiveEmulator
from .asset_worker_cases import CASES as WORKER_CASES, Case
from .fixture_cases import CASES as FIXTURE_CASES
from .html_handling_cases import ENCODING, HTML_HANDLING, HtmlCase

CASES = WORKER_CASES + FIXTURE_CASES
PREVIEW = "/__preview/"
FILLER = "/unrelated.txt"  # a site must hold some file; this one no case asks for


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def html_cases() -> Iterator[tuple[str, str, int, HtmlCase]]:
    """(table name, html_handling, index within the mode, row) for every row of both tables."""
    for table, rows in (("html-handling-test-cases.ts", HTML_HANDLING), ("encoding-test-cases.ts", ENCODING)):
        for mode, cases in rows.items():
            for i, row in enumerate(cases):
                yield table, mode, i, row


class Previews:
    """Deploys each distinct (files, config) once to ``live`` and answers requests to it."""

    def __init__(self, live: LiveEmulator) -> None:
        self.live = live
        self._scripts: dict[str, str] = {}

    def site(self, files: dict[str, str | None], config: dict[str, str]) -> str:
        key = repr((sorted(files.items()), sorted(config.items())))
        script = self._scripts.get(key)
        if script is None:
            script = f"u{len(self._scripts)}"
            content = {path: (path if text is None else text).encode() for path, text in files.items()}
            publish(self.live, content or {FILLER: b"x"}, script, config=config)
            self._scripts[key] = script
        return script

    def get(
        self,
        script: str,
        path: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        host: str = "",
    ) -> Answer:
        """One request; with ``host``, the site is addressed by path so the Host can be anything."""
        base = f"{PREVIEW}{script}" if host else ""
        conn = http.client.HTTPConnection("127.0.0.1", self.live.port, timeout=30)
        try:
            conn.putrequest(method, base + path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host or f"{script}.localhost")
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders()
            r = conn.getresponse()
            body = r.read()
            joined: dict[str, str] = {}
            for name, value in r.getheaders():
                name = name.lower()
                joined[name] = f"{joined[name]}, {value}" if name in joined else value
        finally:
            conn.close()
        if base and joined.get("location", "").startswith(base):
            joined["location"] = joined["location"][len(base) :]
        return Answer(r.status, joined, body)

    def follow(self, script: str, path: str, host: str = "") -> tuple[Answer, str, int]:
        """GET ``path`` following redirects as fetch does: the final answer, its path, the hops."""
        hops = 0
        answer = self.get(script, path, host=host)
        while 300 <= answer.status < 400 and answer.location and hops < 10:
            path = answer.location
            hops += 1
            answer = self.get(script, path, host=host)
        return answer, path, hops


def check_html(previews: Previews, mode: str, row: HtmlCase) -> list[str]:
    """What differs from the upstream expectation for one html_handling/encoding row ([] if none)."""
    _title, files, request, matched, final = row
    script = previews.site(dict.fromkeys(files), {"html_handling": mode, "not_found_handling": "none"})
    answer, path, hops = previews.follow(script, request)
    problems: list[str] = []
    if matched is not None and final is not None:
        if answer.status != 200 or answer.body != matched.encode():
            problems.append(f"expected {matched} with 200, got {answer.status} {answer.body[:60]!r}")
        if path.split("?", 1)[0] != final:
            problems.append(f"expected to end at {final}, ended at {path}")
        if (hops > 0) != (request != final):
            problems.append(f"redirected {hops} times, expected {'some' if request != final else 'none'}")
    elif answer.status != 404 or answer.body:
        problems.append(f"expected an empty 404, got {answer.status} {answer.body[:60]!r}")
    return problems


def _config(case: Case) -> dict[str, str]:
    config = {"html_handling": case.html_handling, "not_found_handling": case.not_found_handling}
    if case.redirects is not None:
        config["_redirects"] = case.redirects
    if case.headers_file is not None:
        config["_headers"] = case.headers_file
    return config


def check_case(previews: Previews, case: Case) -> list[str]:
    """What differs from the upstream expectation for one asset-worker case ([] if none)."""
    script = previews.site(case.files, _config(case))
    host = case.host or ""
    etag = ""
    if any("{etag}" in v for v in (*case.headers.values(), *case.expect_headers.values()) if v):
        etag = previews.get(script, case.request, host=host).headers.get("etag", "")
    headers = {name: value.replace("{etag}", etag) for name, value in case.headers.items()}
    if case.follow:
        answer, path, _hops = previews.follow(script, case.request, host=host)
    else:
        answer, path = previews.get(script, case.request, case.method, headers, host), case.request
    problems: list[str] = []
    if answer.status != case.status:
        problems.append(f"status {answer.status}, expected {case.status}")
    if case.location is not None:
        got = path if case.follow else answer.location
        if got != case.location:
            problems.append(f"location {got!r}, expected {case.location!r}")
    if case.body is not None and answer.body != case.body.encode():
        problems.append(f"body {answer.body[:80]!r}, expected {case.body!r}")
    for name, want in case.expect_headers.items():
        want = want.replace("{etag}", etag) if want is not None else None
        if answer.headers.get(name) != want:
            problems.append(f"header {name}: {answer.headers.get(name)!r}, expected {want!r}")
    return problems


def run_all(live: LiveEmulator) -> dict[str, Any]:
    """Every case: counts per upstream file, and the failures with what differed."""
    previews = Previews(live)
    counts: dict[str, dict[str, int]] = {}
    failures: dict[str, list[str]] = {}

    def tally(source: str, key: str) -> None:
        counts.setdefault(source, {"applicable": 0, "pass": 0, "not applicable": 0})[key] += 1

    for table, mode, i, row in html_cases():
        tally(table, "applicable")
        problems = check_html(previews, mode, row)
        if problems:
            failures[f"{table}:{mode}:{i}:{row[0]}"] = problems
        else:
            tally(table, "pass")
    for case in CASES:
        if case.not_applicable:
            tally(case.source, "not applicable")
            continue
        tally(case.source, "applicable")
        problems = check_case(previews, case)
        if problems:
            failures[f"{case.source}:{case.name}"] = problems
        else:
            tally(case.source, "pass")
    return {"counts": counts, "failures": failures}
