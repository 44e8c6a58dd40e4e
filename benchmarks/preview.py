#!/usr/bin/env python3
"""Benchmark the emulator's preview (``assetsync serve``) against ``wrangler dev``, and check that
the two answer alike.

``wrangler dev`` serves an assets-only project with miniflare, which runs Cloudflare's own
asset-worker inside workerd: the closest local stand-in for the platform. Both servers serve one
generated site (``preview_site.py``: ~1,000 files, html pages in folders, small assets, 1 MiB
files, ``_redirects``, ``_headers``, ``404.html``; ~100 with ``--quick``) with the same
``wrangler.json`` (``assets.html_handling`` and ``assets.not_found_handling`` from the flags):
assetsync deploys it with ``assetsync sync FOLDER --config wrangler.json`` to an ``assetsync
serve`` on 127.0.0.1 and is asked as ``site.localhost``; wrangler runs ``wrangler dev --ip
127.0.0.1 --port 0`` on that config, offline (``CLOUDFLARE_CF_FETCH_ENABLED=false``: miniflare
does not fetch the ``Request.cf`` object; metrics off; no credentials; scratch HOME).

1. Throughput and latency: for each workload (small assets, html pages by their pretty URLs,
   1 MiB files, 404s, ``_redirects`` hits, ``If-None-Match`` revalidations), the same seeded
   requests go to each server over ``--clients`` keep-alive connections (an asyncio HTTP/1.1
   client, ``common.rawhttp``); requests/s (requests over the wall time from the first send to
   the last answer), and p50 and p99 of each request's latency (first byte sent to last byte
   read). The servers take turns, in rotated order, over ``--repeat`` rounds, so that the shared
   machine's load falls on both alike. A ``ThreadingHTTPServer`` on the folder is the floor for
   the small assets and the 1 MiB files. The client is one Python process: its CPU seconds per
   wall second are shown, since a client near 1.0 caps what it can measure. wrangler runs at
   ``--log-level info``, the level whose "Ready on" line says it listens, and so logs every
   request as a user sees by default (miniflare posts each log line to its loopback service;
   at ``warn`` it served some 15-25% more small requests/s here); ``assetsync serve`` logs none.
2. Agreement: a few hundred requests (files as named, html with and without trailing slash and
   ``.html``, percent-encoded and odd paths, invalid UTF-8, Range, HEAD and other methods,
   conditional requests with each server's own ETag, ``_redirects`` and ``_headers`` rules,
   misses) go to both, one at a time. Compared: status, Location (scheme and host dropped when
   they are the server's own), body (length and SHA-256), whether there is an ETag, and the
   headers Content-Type, Cache-Control, Content-Range, CF-Cache-Status and those ``_headers``
   sets. Not compared: Date, Server, Content-Length/Transfer-Encoding (framing), the ETag's value
   (each server hashes in its own way) and the like. Every disagreement is listed and saved as
   JSON in the work folder.

Usage::

    python benchmarks/preview.py [--quick] [--repeat N] [--clients N] [--requests N]
        [--html-handling MODE] [--not-found-handling MODE] [--no-wrangler] [--wrangler PATH]
        [--workdir DIR] [--keep]

Exit status 0 whatever the figures (a measurement tool); 2 when the benchmark could not run
(wrangler missing: install it or pass ``--no-wrangler``); 130 when interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import sys
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import BenchError
from common.clients import COMPAT_DATE, assetsync_json, check_wrangler, open_rig
from common.lifecycle import guarded, note
from common.machine import loadavg, tool_version
from common.options import add_wrangler, parse, parser
from common.processes import own_cpu_seconds
from common.rawhttp import Answer, Load, Request, ask_all, load
from common.servers import Servers
from common.snapshot import git_state
from common.tables import aligned, human, markdown, section
from preview_site import (
    CUSTOM_HEADERS,
    ETAG,
    FLOOR_WORKLOADS,
    Site,
    agreement_requests,
    ensure_site,
    workloads,
)

SCRIPT = "site"
WRANGLER_READY = re.compile(r"^.*Ready on (http://127\.0\.0\.1:\d+)\s*$")
FLOOR_READY = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)\s*$")
HTML_MODES = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
NOT_FOUND_MODES = ("404-page", "single-page-application", "none")
COMPARED = ("content-type", "cache-control", "content-range", "cf-cache-status", *CUSTOM_HEADERS)
BIG_SHARE = 8  # the 1 MiB workload sends this many times fewer requests
OURS, THEIRS, FLOOR = "assetsync", "wrangler dev", "http.server"

# The floor: stdlib threads serving the folder as files, HTTP/1.1 keep-alive, no logging.
FLOOR_SERVER = r"""
import functools, signal, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class Quiet(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    def log_message(self, format, *args):
        pass

signal.signal(signal.SIGINT, signal.default_int_handler)
server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
server.daemon_threads = True
print(f"listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Target:
    """A server as the client reaches it."""

    label: str
    port: int
    host: str  # the Host header sent

    def ask(self, requests: Sequence[Request]) -> list[Answer]:
        return ask_all(self.port, self.host, requests)


def target_of(label: str, url: str, host: str | None = None) -> Target:
    parts = urllib.parse.urlsplit(url)
    return Target(label, parts.port or 80, host or parts.netloc)


# -- the servers --------------------------------------------------------------------------------


def write_config(folder: Path, site: Path, html: str, not_found: str) -> Path:
    """The one ``wrangler.json`` both tools read."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = {"directory": str(site), "html_handling": html, "not_found_handling": not_found}
    config = {"name": SCRIPT, "compatibility_date": COMPAT_DATE, "assets": assets}
    path = folder / "wrangler.json"
    path.write_text(json.dumps(config, indent=1) + "\n")
    return path


def start_wrangler(
    stack: contextlib.ExitStack, servers: Servers, wrangler: Path, config: Path, env: dict[str, str]
) -> Target:
    """``wrangler dev`` on the config, stopped (and its whole session, workerd included) by
    ``stack``."""
    # wrangler says "Ready on" on stdout; the server's reader reads stderr, so it gets both.
    argv = ["sh", "-c", 'exec "$@" 1>&2', "sh", str(wrangler), "dev", "-c", str(config)]
    argv += ["--ip", "127.0.0.1", "--port", "0"]
    argv += ["--inspector-port", "0", "--show-interactive-dev-session=false", "--log-level", "info"]
    server = servers.start(
        "wrangler dev", argv, WRANGLER_READY, {**env, "CLOUDFLARE_CF_FETCH_ENABLED": "false"}
    )

    def stop() -> None:
        servers.stop(server)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)  # anything of its session still running

    stack.callback(stop)
    return target_of(THEIRS, server.url)


def deploy(rig: Any, site: Site, config: Path) -> Target:
    """An emulator with the site deployed by ``assetsync sync``; its preview's address."""
    emu = rig.servers.emulator("preview")
    args = ["sync", str(site.root), "--name", SCRIPT, "--config", str(config), "--json"]
    run = rig.clients.assetsync(emu, args, "assetsync sync", memory=False)
    doc = assetsync_json(run) or {}
    if doc.get("ok") is not True:
        raise BenchError(f"assetsync sync did not deploy the site: {run.stdout[-500:]}")
    return target_of(OURS, emu.origin, f"{SCRIPT}.localhost")


# -- agreement ----------------------------------------------------------------------------------


def with_etag(req: Request, etag: str) -> Request:
    return Request(req.method, req.target, tuple((k, v.replace(ETAG, etag)) for k, v in req.headers))


def answers(target: Target, requests: Sequence[Request]) -> list[Answer]:
    """The server's answers, ``{etag}`` in a header replaced by the ETag it gives the target."""
    needing = sorted({r.target for r in requests if any(ETAG in v for _, v in r.headers)})
    got = target.ask([Request("GET", t) for t in needing])
    etags = {t: a.headers.get("etag", '"none"') for t, a in zip(needing, got, strict=True)}
    return target.ask([with_etag(r, etags.get(r.target, "")) for r in requests])


def view(a: Answer, target: Target) -> dict[str, str]:
    """What is compared of an answer."""
    location = a.headers.get("location", "-")
    for own in (f"http://{target.host}", f"https://{target.host}"):
        if location.startswith(own + "/"):
            location = location[len(own) :]
    body = f"{len(a.body)} B {hashlib.sha256(a.body).hexdigest()[:10]}" if a.body else "empty"
    v = {"status": str(a.status), "location": location, "body": body}
    v["etag"] = "yes" if "etag" in a.headers else "no"
    v.update({h: a.headers.get(h, "-") for h in COMPARED})
    return v


# What the agreement table counts apart: CF-Cache-Status on its own, since it differs wherever the
# other headers agree while the preview does not send it.
CACHE_STATUS = "cf-cache-status"
ASPECTS = ("status", "location", "body", "headers", CACHE_STATUS)
BUT_CACHE = "all but cf-cache-status"


def aspect(key: str) -> str:
    return key if key in ("status", "location", "body", CACHE_STATUS) else "headers"


def compare(
    ours: Target, theirs: Target, cases: Sequence[tuple[str, Request]]
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """Per category, how many requests agree on each aspect (and on all); the disagreements."""
    mine = answers(ours, [r for _, r in cases])
    other = answers(theirs, [r for _, r in cases])
    counts: dict[str, dict[str, int]] = {}
    disagreements = []
    for (category, req), a, b in zip(cases, mine, other, strict=True):
        va, vb = view(a, ours), view(b, theirs)
        differs = [k for k in va if va[k] != vb[k]]
        row = counts.setdefault(category, dict.fromkeys(("requests", *ASPECTS, BUT_CACHE, "all"), 0))
        row["requests"] += 1
        row["all"] += not differs
        row[BUT_CACHE] += differs in ([], [CACHE_STATUS])
        for x in ASPECTS:
            row[x] += not any(aspect(k) == x for k in differs)
        if differs:
            disagreements.append(
                {
                    "category": category,
                    "method": req.method,
                    "target": req.target,
                    "headers": dict(req.headers),
                    "differs": differs,
                    OURS: {k: va[k] for k in differs},
                    THEIRS: {k: vb[k] for k in differs},
                }
            )
    return counts, disagreements


def print_agreement(
    counts: dict[str, dict[str, int]], disagreements: list[dict[str, Any]], saved: Path
) -> None:
    section("agreement: assetsync serve vs wrangler dev (requests that agree)")
    columns = ("requests", *ASPECTS, BUT_CACHE, "all")
    total = {k: sum(c[k] for c in counts.values()) for k in columns}
    rows = [[cat, *(str(c[k]) for k in columns)] for cat, c in [*counts.items(), ("all", total)]]
    print(markdown(["category", *columns[:-1], "all agree"], rows))
    n = total["requests"] or 1
    everything = f"{total['all']} of {total['requests']} requests agree on everything compared"
    print(f"\n{everything} ({total['all'] / n:.1%});")
    print(f"{total[BUT_CACHE]} on everything but CF-Cache-Status ({total[BUT_CACHE] / n:.1%})")
    section(f"disagreements ({len(disagreements)}; saved to {saved})")
    only_cache = [d for d in disagreements if d["differs"] == [CACHE_STATUS]]
    for d in disagreements:
        if d in only_cache:
            continue
        hdrs = " ".join(f"[{k}: {v}]" for k, v in d["headers"].items())
        print(f"{d['method']} {d['target']} {hdrs}".rstrip())
        for key in d["differs"]:
            print(f"    {key}: {OURS} {d[OURS][key]!r} | {THEIRS} {d[THEIRS][key]!r}")
    if only_cache:
        kinds = sorted(
            {f"{OURS} {d[OURS][CACHE_STATUS]!r} | {THEIRS} {d[THEIRS][CACHE_STATUS]!r}" for d in only_cache}
        )
        print(f"\n{len(only_cache)} more differ in CF-Cache-Status only ({'; '.join(kinds)}):")
        lines: list[str] = []
        for d in only_cache:
            item = " ".join([d["method"], d["target"], *(f"[{k}: {v}]" for k, v in d["headers"].items())])
            if lines and len(lines[-1]) + 2 + len(item) <= 110:
                lines[-1] += f"; {item}"
            else:
                lines.append(item)
        print("\n".join(f"  {line}" for line in lines))


# -- load ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One workload on one server: its load, and this client's CPU seconds meanwhile."""

    load: Load
    client_cpu: float = 0.0


def measure_load(
    targets: Sequence[Target], floor: Target | None, site: Site, args: Any
) -> dict[str, dict[str, Cell]]:
    """Each workload on each server, the servers taking turns, ``args.repeat`` rounds."""
    makers = workloads(site, args.html_handling)
    small = [f"/{r}" for r in site.small]
    etags = {
        t.label: {
            p: a.headers.get("etag", '"none"')
            for p, a in zip(small, t.ask([Request("GET", p) for p in small]), strict=True)
        }
        for t in targets
    }
    cells: dict[str, dict[str, Cell]] = {w: {} for w in makers}
    per_round = max(1, args.requests // args.repeat)
    for r in range(args.repeat):
        for i, (workload, make) in enumerate(makers.items()):
            count = max(args.clients, per_round // BIG_SHARE) if workload == "1 MiB files" else per_round
            order = [*targets, *([floor] if floor and workload in FLOOR_WORKLOADS else [])]
            shift = (r + i) % len(order)
            note(f"  round {r + 1}/{args.repeat}: {workload} ({count} requests each) ...")
            for t in order[shift:] + order[:shift]:
                reqs = make(random.Random(f"{r}-{workload}"), count, etags.get(t.label, {}))
                cpu0 = own_cpu_seconds()
                got = load(t.port, t.host, reqs, args.clients)
                cell = cells[workload].setdefault(t.label, Cell(Load()))
                cell.load.add(got)
                cell.client_cpu += own_cpu_seconds() - cpu0
    return cells


def fmt_cell(c: Cell | None) -> list[str]:
    if c is None:
        return ["-", "-", "-"]
    ms = 1000
    return [f"{c.load.rate:,.0f}", f"{c.load.percentile(50) * ms:.2f}", f"{c.load.percentile(99) * ms:.2f}"]


def statuses(c: Cell | None) -> str:
    return " ".join(f"{s}x{n}" for s, n in sorted(c.load.statuses.items())) if c else "-"


def print_load(cells: dict[str, dict[str, Cell]], clients: int) -> None:
    section(f"throughput and latency ({clients} keep-alive clients; req/s, p50 and p99 in ms)")
    head = ["workload"]
    for label in (OURS, THEIRS, FLOOR):
        head += [f"{label} req/s", "p50", "p99"]
    head += ["assetsync / wrangler (req/s)", "p50 ratio"]
    rows = []
    for workload, by in cells.items():
        a, w = by.get(OURS), by.get(THEIRS)
        ratio = f"{a.load.rate / w.load.rate:.2f}x" if a and w and w.load.rate else "-"
        p50 = f"{a.load.percentile(50) / w.load.percentile(50):.2f}x" if a and w else "-"
        rows.append([workload, *fmt_cell(a), *fmt_cell(w), *fmt_cell(by.get(FLOOR)), ratio, p50])
    print(markdown(head, rows))
    print()
    detail = [["workload", "server", "answers", "body bytes", "client CPU s / wall s"]]
    for workload, by in cells.items():
        for label, c in by.items():
            detail.append(
                [
                    workload,
                    label,
                    statuses(c),
                    human(c.load.body_bytes),
                    f"{c.client_cpu / c.load.seconds:.2f}",
                ]
            )
    print(aligned(detail, right=(3, 4), rule="  "))
    for workload, by in cells.items():
        a, w = by.get(OURS), by.get(THEIRS)
        if a and w and a.load.statuses != w.load.statuses:
            print(f"WARNING: {workload}: the servers answered differently ({statuses(a)} | {statuses(w)})")


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Any:
    p = parser(
        "Serve one site with assetsync serve and wrangler dev: throughput, latency and agreement.",
        "preview",
        "the generated site and the servers' data",
        "a small site and few requests (well under a minute)",
        ("rounds the servers take turns in [3]", 3),
    )
    p.add_argument("--clients", type=int, default=8, metavar="N", help="concurrent keep-alive clients [8]")
    p.add_argument(
        "--requests", type=int, metavar="N", help="requests per workload and server [3000; quick 300]"
    )
    p.add_argument("--html-handling", choices=HTML_MODES, default=HTML_MODES[0])
    p.add_argument("--not-found-handling", choices=NOT_FOUND_MODES, default=NOT_FOUND_MODES[0])
    p.add_argument("--no-wrangler", action="store_true", help="compare with http.server only; no agreement")
    add_wrangler(p)
    args = parse(p, argv)
    if args.requests is None:
        args.requests = 300 if args.quick else 3000
    if args.clients < 1 or args.requests < args.repeat:
        p.error("--clients must be at least 1 and --requests at least --repeat")
    if args.quick:
        args.repeat = min(args.repeat, 2)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    found: dict[str, Any] = {}

    def measure(stack: contextlib.ExitStack) -> None:
        if not args.no_wrangler:
            check_wrangler(args.wrangler, ", or pass --no-wrangler")
        rig = open_rig(stack, args.workdir, "preview", args.keep, args.wrangler.absolute())
        site = ensure_site(rig.work.path, args.quick)
        config = write_config(rig.runs / "project", site.root, args.html_handling, args.not_found_handling)
        wv = (
            "-" if args.no_wrangler else tool_version([str(args.wrangler), "--version"], rig.clients.node_env)
        )
        print("assetsync preview benchmark: assetsync serve vs wrangler dev (miniflare) vs http.server")
        print(f"  assetsync {git_state()}, sources {rig.digest}; wrangler {wv}; {os.cpu_count()} CPUs")
        print(f"  load average at start {loadavg()}; {args.repeat} round(s); work folder {rig.work.path}")
        print(
            f"  site: {site.tree.count:,} files, {human(site.tree.total_bytes)}; html_handling "
            f"{args.html_handling}, not_found_handling {args.not_found_handling}"
        )
        sys.stdout.flush()
        note("deploying with assetsync sync ...")
        targets = [deploy(rig, site, config)]
        if not args.no_wrangler:
            note("starting wrangler dev ...")
            targets.append(
                start_wrangler(stack, rig.servers, args.wrangler.absolute(), config, rig.clients.node_env)
            )
        fl = rig.servers.start(FLOOR, [sys.executable, "-c", FLOOR_SERVER, str(site.root)], FLOOR_READY)
        floor = target_of(FLOOR, fl.url)
        for t in [*targets, floor]:  # untimed warm-up
            load(t.port, t.host, [Request("GET", f"/{r}") for r in site.small[:50]], args.clients)
        if not args.no_wrangler:
            note("comparing answers ...")
            cases = agreement_requests(site, random.Random(7), args.quick)
            found["agreement"] = compare(targets[0], targets[1], cases)
            found["saved"] = rig.work.path / "preview-disagreements.json"
            found["saved"].write_text(json.dumps(found["agreement"][1], indent=1, ensure_ascii=False) + "\n")
        note("measuring ...")
        found["cells"] = measure_load(targets, floor, site, args)

    status = guarded(measure)
    if status:
        return status
    if "agreement" in found:
        counts, disagreements = found["agreement"]
        print_agreement(counts, disagreements, found["saved"])
    print_load(found["cells"], args.clients)
    print(f"\nload average at the end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
