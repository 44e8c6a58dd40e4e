"""Runs the ported upstream cases against a live preview: each distinct site deployed once.

Requests go over a real socket with :mod:`http.client`, which sends the path byte for byte (a
higher-level client would re-encode ``/[boop]`` or resolve ``..`` before the preview could see it).
Sites without a Worker are published with the API's own calls; a case with a Worker
(:mod:`.worker_apps`, :mod:`.routing_cases`) is deployed through assetsync's client
(``assetsync.sync``) from a folder, into an emulator that runs Worker code on workerd.
"""

from __future__ import annotations

import http.client
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetsync.emulator.preview.compose import Route, Router
from assetsync.emulator.preview.resolve import Site, SiteConfig
from assetsync.engine import SyncOptions, sync
from assetsync.folder.build import BuildOptions
from assetsync.folder.hashing import HashScheme
from assetsync.protocol import AssetsConfig, Module, WorkerSpec
from assetsync.protocol.assetrules.staticrouting import StaticRoutingError, glob_matches, parse_static_routing
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..emulator.test_api import publish
from ..helpers import LiveEmulator, make_tree
from .asset_worker_cases import CASES as WORKER_CASES, Case
from .fixture_cases import CASES as FIXTURE_CASES
from .html_handling_cases import ENCODING, HTML_HANDLING, HtmlCase
from .routing_cases import CASES as ROUTING_CASES, Probe, RoutingCase, deployed_date
from .worker_apps import App, Script

CASES = WORKER_CASES + FIXTURE_CASES
PREVIEW = "/__preview/"
FILLER = "/unrelated.txt"  # a site must hold some file; this one no case asks for
ANSWERED_BY = "x-answered-by"
# The Worker beside a routing case's assets: it marks every answer as its own.
PROBE_WORKER = """
export default {
  fetch(request) {
    return new Response("the user Worker", { headers: { "x-answered-by": "worker" } });
  },
};
"""
OUTPUT_WAIT = 10.0  # seconds a case waits for a Worker's console line (it comes on workerd's stdout)


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


class Output:
    """The Workers' console lines, as workerd prints them, for cases that look for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def add(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = OUTPUT_WAIT) -> bool:
        """Whether a line holding ``text`` was printed, waiting up to ``timeout`` seconds for it."""
        with self._changed:
            return self._changed.wait_for(lambda: any(text in line for line in self.lines), timeout)


class Previews:
    """Deploys each distinct site or app once to ``live`` and answers requests to it."""

    def __init__(self, live: LiveEmulator) -> None:
        self.live = live
        self._scripts: dict[str, str] = {}
        self._routing_sites = 0
        self._folders = tempfile.TemporaryDirectory(prefix="assetsync-upstream-")
        self.output = Output()
        runtime = live.emulator.runtime
        if runtime is not None:
            runtime.worker_output = self.output.add

    @property
    def runs_workers(self) -> bool:
        return self.live.emulator.runtime is not None

    def close(self) -> None:
        self._folders.cleanup()

    def site(self, files: dict[str, str | None], config: dict[str, str]) -> str:
        key = repr((sorted(files.items()), sorted(config.items())))
        script = self._scripts.get(key)
        if script is None:
            script = f"u{len(self._scripts)}"
            content = {path: (path if text is None else text).encode() for path, text in files.items()}
            publish(self.live, content or {FILLER: b"x"}, script, config=config)
            self._scripts[key] = script
        return script

    def app(self, app: App) -> str:
        """Deploy ``app``'s scripts in order (once); the name requests go to."""
        key = f"app:{app.name}"
        if key not in self._scripts:
            for script in app.scripts:
                self._deploy(script)
            self._scripts[key] = app.entry
        return self._scripts[key]

    def routing_site(self, case: RoutingCase) -> str:
        """The site of a routing case: its assets and settings, beside :data:`PROBE_WORKER`."""
        key = repr(("routing", case.files, case.html_handling, case.not_found_handling,
                    case.run_worker_first, case.redirects, case.date, case.flags))  # fmt: skip
        if key not in self._scripts:
            name = f"r{self._routing_sites}"
            self._routing_sites += 1
            assets = AssetsConfig(
                html_handling=case.html_handling,
                not_found_handling=case.not_found_handling,
                run_worker_first=case.run_worker_first,
                redirects=case.redirects,
            )
            files = dict.fromkeys(case.files) or {FILLER: None}
            self._deploy(Script(name, PROBE_WORKER, files, deployed_date(case.date), case.flags, assets))
            self._scripts[key] = name
        return self._scripts[key]

    def _deploy(self, script: Script) -> None:
        folder = Path(self._folders.name) / script.name
        make_tree(folder, {p.lstrip("/"): (p if text is None else text) for p, text in script.files.items()})
        folder.mkdir(parents=True, exist_ok=True)
        spec = WorkerSpec(
            main_module="worker.js" if script.code is not None else None,
            bindings=script.bindings,
            compatibility_date=script.date,
            compatibility_flags=script.flags,
            assets=script.assets,
        )
        modules = (
            (Module("worker.js", "application/javascript+module", script.code.encode()),)
            if script.code is not None
            else ()
        )
        options = SyncOptions(
            script=script.name,
            build=BuildOptions(
                scheme=HashScheme("sha256", ""), cache_dir=str(Path(self._folders.name) / "cache")
            ),
            worker=spec,
            modules=modules,
            allow_empty=True,
        )
        sync(str(folder), options, Target("api", self.live.api, ACCOUNT, self.live.token))

    def get(
        self,
        script: str,
        path: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
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

    def follow(
        self, script: str, path: str, host: str = "", headers: Mapping[str, str] | None = None
    ) -> tuple[Answer, str, int]:
        """GET ``path`` following redirects as fetch does (on one origin, the request's headers go
        along): the final answer, its path, the hops."""
        hops = 0
        answer = self.get(script, path, host=host, headers=headers)
        while 300 <= answer.status < 400 and answer.location and hops < 10:
            path = answer.location
            hops += 1
            answer = self.get(script, path, host=host, headers=headers)
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
    script = previews.app(case.app) if case.app is not None else previews.site(case.files, _config(case))
    host = case.host or ""
    etag = ""
    if any("{etag}" in v for v in (*case.headers.values(), *case.expect_headers.values()) if v):
        etag = previews.get(script, case.request, host=host).headers.get("etag", "")
    headers = {name: value.replace("{etag}", etag) for name, value in case.headers.items()}
    if case.follow:
        answer, path, _hops = previews.follow(script, case.request, host=host, headers=headers)
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
    text = answer.body.decode("utf-8", "replace")
    problems += [f"body {answer.body[:200]!r} lacks {want!r}" for want in case.contains if want not in text]
    problems += [
        f"body {answer.body[:200]!r} holds {unwanted!r}" for unwanted in case.absent if unwanted in text
    ]
    for name, want in case.expect_headers.items():
        want = want.replace("{etag}", etag) if want is not None else None
        if answer.headers.get(name) != want:
            problems.append(f"header {name}: {answer.headers.get(name)!r}, expected {want!r}")
    problems += [f"no Worker printed {line!r}" for line in case.output if not previews.output.wait_for(line)]
    return problems


def check_routing(previews: Previews | None, case: RoutingCase) -> list[str]:
    """For each request of a routing case, whether the expected side (Worker or assets) answered:
    over a socket, or (``case.in_process``) as the router's decision function decides."""
    problems = []
    for probe in case.probes:
        if case.in_process:
            who = "the Worker" if (worker := decide(case, probe)) else "the assets"
        else:
            assert previews is not None
            answer = previews.get(previews.routing_site(case), probe.path, probe.method, probe.headers)
            worker = answer.headers.get(ANSWERED_BY) == "worker"
            who = "the Worker" if worker else f"the assets ({answer.status})"
        if worker != probe.worker:
            problems.append(f"{probe.method} {probe.path} {dict(probe.headers)}: answered by {who}")
    return problems


def decide(case: RoutingCase, probe: Probe) -> bool:
    """Whether the router sends ``probe`` to the Worker, asked in-process with upstream's inputs."""
    pathname, _, query = probe.path.partition("?")
    rules = case.run_worker_first
    if rules is not None:
        try:
            parse_static_routing(rules)
        except StaticRoutingError:  # a list no deploy holds: the matcher alone, as upstream calls it
            return glob_matches(rules, pathname)
    config: dict[str, Any] = {"not_found_handling": case.not_found_handling}
    if rules is not None:
        config["run_worker_first"] = list(rules)
    metadata = {
        "main_module": "worker.js",
        "compatibility_date": case.date,
        "compatibility_flags": list(case.flags),
        "assets": {"config": config},
    }
    site = Site(case.files, SiteConfig(case.html_handling, case.not_found_handling, case.redirects))
    headers = {k.lower(): v for k, v in probe.headers.items()}
    return Router.of(metadata).route(site, probe.method, pathname, query, headers) is not Route.ASSETS


def run_all(live: LiveEmulator) -> dict[str, Any]:
    """Every case: counts per upstream file, and the failures with what differed. Cases with a
    Worker count as failures when ``live`` runs no Worker code."""
    previews = Previews(live)
    counts: dict[str, dict[str, int]] = {}
    failures: dict[str, list[str]] = {}

    def tally(source: str, key: str) -> None:
        counts.setdefault(source, {"applicable": 0, "pass": 0, "not applicable": 0})[key] += 1

    def record(source: str, name: str, problems: list[str]) -> None:
        tally(source, "applicable")
        if problems:
            failures[f"{source}:{name}"] = problems
        else:
            tally(source, "pass")

    try:
        for table, mode, i, row in html_cases():
            tally(table, "applicable")
            problems = check_html(previews, mode, row)
            if problems:
                failures[f"{table}:{mode}:{i}:{row[0]}"] = problems
            else:
                tally(table, "pass")
        no_runtime = ["this emulator runs no Worker code (workerd not found)"]
        for case in CASES:
            if case.not_applicable:
                tally(case.source, "not applicable")
            elif case.app is not None and not previews.runs_workers:
                record(case.source, case.name, no_runtime)
            else:
                record(case.source, case.name, check_case(previews, case))
        for rcase in ROUTING_CASES:
            if rcase.not_applicable:
                tally(rcase.source, "not applicable")
            elif not previews.runs_workers and not rcase.in_process:
                record(rcase.source, rcase.name, no_runtime)
            else:
                record(rcase.source, rcase.name, check_routing(previews, rcase))
    finally:
        previews.close()
    in_process = Counter(c.in_process for c in ROUTING_CASES if c.in_process and not c.not_applicable)
    return {"counts": counts, "failures": failures, "in_process": dict(in_process)}
