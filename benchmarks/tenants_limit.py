"""The rate-limit part of ``benchmarks/tenants.py`` (``--part limit``): a platform published within
the API's rate limit, against ``assetsync serve --rate-limit``, with the issue's targets.

One emulator with ``--rate-limit`` (default ``120/3``: Cloudflare's 1,200 requests per 300 s
with a tenth of the requests per a hundredth of the time, 40 requests a second) and a
:class:`~common.countproxy.CountingProxy` in front of it, which counts every request on the
wire: its route, the script it names, its credential, the status it was answered with. In order:

1. first deploy: ``sync-all ROOT --namespace bench --cache-dir C --json`` (paced by its
   client); targets: no 429, wall time within 1.1x of (requests / rate);
2. nothing changed: the same command again; targets: at most ceil(N / 100) + 10 requests, none
   of them for one tenant (only the namespace's list pages);
3. one tenant changed (one file of the middle tenant rewritten): the same again; target: the list
   pages and that tenant's requests, nothing else;
4. today, nothing changed: ``sync-all --verify full`` (a session and a deploy per tenant) with the
   proxy hiding ``Ratelimit`` and ``Ratelimit-Policy`` from the client, so that it sends unpaced,
   as before the client paced itself (it has no switch to turn pacing off); ``Retry-After``
   still reaches it, so each refused request retries on its own after it, as then;
5. today, first deploy: a fresh emulator, unpaced in the same way.

Each command's output is checked (tenants deployed or unchanged, files uploaded, its own count
of requests against the proxy's); a miss is a WARNING line. Rows 4 and 5 are a comparison, not
targets: their failed tenants are a result, shown in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import BenchError
from common.clients import NAMESPACE, Clients, assetsync_json
from common.countproxy import CountingProxy, Tally
from common.lifecycle import note
from common.processes import Run
from common.servers import Emulator, Servers
from common.tables import Target, TargetTable, markdown, missed

DEFAULT_RATE = "120/3"
DEFAULT_TENANTS = 10_000
QUICK_TENANTS = 300
DEFAULT_FILES = 2
WALL_TARGET = 1.10  # first deploy: wall time over (requests / rate)
LIST_PAGE = 100  # scripts per page of the namespace's list
LIST_SLACK = 10  # requests beyond the list pages an unchanged platform may cost
PACED = "sync-all"
TODAY = "today: unpaced"
TODAY_FULL = "today: --verify full, unpaced"


@dataclass(frozen=True)
class Rate:
    """``serve --rate-limit REQUESTS/SECONDS``."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, _, seconds = text.partition("/")
        try:
            rate = cls(int(count), float(seconds))
        except ValueError:
            rate = cls(0, 0.0)
        if rate.requests < 1 or not rate.seconds > 0:
            raise argparse.ArgumentTypeError(f"{text!r}: use REQUESTS/SECONDS, e.g. {DEFAULT_RATE}")
        return rate

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


@dataclass
class Outcome:
    """One scenario's run: the command's own account of it and the proxy's count."""

    label: str
    client: str
    run: Run
    tally: Tally
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def deployed(self) -> int:
        return int(self.summary.get("succeeded", 0)) - int(self.summary.get("unchanged", 0))


@dataclass(frozen=True)
class LimitPlatform:
    """The tenants, as symlinks in a root of this run's own (one of them may be replaced)."""

    root: Path
    tenants: list[str]
    files: int  # per tenant

    @property
    def changed(self) -> str:
        """The tenant whose file scenario 3 rewrites: the middle one."""
        return self.tenants[len(self.tenants) // 2]


def link_platform(scratch: Path, source: Path, tenants: list[str], files: int) -> LimitPlatform:
    """A root of symlinks to ``source``'s tenant folders (sync-all follows them), so a tenant can
    be changed without touching the generated platform that later runs reuse."""
    root = scratch / f"limit-{len(tenants)}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in tenants:
        (root / name).symlink_to(source / name, target_is_directory=True)
    return LimitPlatform(root, tenants, files)


def change_one(p: LimitPlatform) -> str:
    """Replace the middle tenant's symlink by a copy of its folder with one file rewritten; the
    relative path of that file."""
    link = p.root / p.changed
    target = link.resolve()
    link.unlink()
    shutil.copytree(target, link)
    first = min(str(f.relative_to(link)) for f in link.rglob("*") if f.is_file())
    with open(link / first, "ab") as f:
        f.write(b"\nchanged by the benchmark\n")
    return first


class LimitBench:
    """The scenarios, each run through a counting proxy in front of a rate-limited emulator."""

    def __init__(self, clients: Clients, servers: Servers, rate: Rate) -> None:
        self.clients = clients
        self.servers = servers
        self.rate = rate
        self.problems = clients.problems

    @contextlib.contextmanager
    def emulator(self, label: str) -> Iterator[tuple[Emulator, CountingProxy]]:
        """A fresh emulator with the rate limit, and the proxy in front of it; both stopped after."""
        emu = self.servers.emulator(label, options=["--rate-limit", str(self.rate)])
        try:
            with CountingProxy(emu.port, emu.token) as proxy:
                yield emu.via(proxy.api), proxy
                if proxy.failures:
                    shown = "; ".join(proxy.failures[:3])
                    self.problems.append(
                        f"{label}: the proxy dropped {len(proxy.failures)} exchanges: {shown}"
                    )
        finally:
            self.servers.stop(emu)

    def sync_all(
        self, emu: Emulator, proxy: CountingProxy, p: LimitPlatform, label: str, client: str, *extra: str
    ) -> Outcome:
        args = [
            "sync-all",
            str(p.root),
            "--namespace",
            NAMESPACE,
            "--cache-dir",
            str(emu.data.parent / "cache"),
        ]
        proxy.take()  # nothing before this run counts
        run = self.clients.assetsync(emu, [*args, *extra, "--json"], label, memory=False, check=False)
        tally = proxy.take()
        doc = assetsync_json(run) or {}
        summary = doc.get("summary") or {}
        if not summary:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-5:])
            self.problems.append(f"{label}: exit {run.code}, no JSON summary:\n{tail}")
        elif summary.get("requests") != tally.requests:
            self.problems.append(
                f"{label}: the client counted {summary.get('requests')} requests, the proxy {tally.requests}"
            )
        return Outcome(label, client, run, tally, summary)

    def expect(self, o: Outcome, tenants: int, *, unchanged: int, uploaded: int | None) -> None:
        """A WARNING unless every tenant succeeded, ``unchanged`` of them as such, and (unless
        None) ``uploaded`` files went up."""
        s = o.summary
        if not s:
            return
        if o.run.code != 0 or s.get("succeeded") != tenants or s.get("unchanged") != unchanged:
            counts = {k: s.get(k) for k in ("succeeded", "unchanged", "failed")}
            self.problems.append(
                f"{o.label}: expected {tenants:,} tenants to succeed, {unchanged:,} of them unchanged; "
                f"exit {o.run.code}, {json.dumps(counts)}"
            )
        elif uploaded is not None and s.get("uploaded") != uploaded:
            self.problems.append(f"{o.label}: expected {uploaded:,} files uploaded, got {s.get('uploaded')}")

    def measure(self, p: LimitPlatform) -> list[Outcome]:
        n, files = len(p.tenants), len(p.tenants) * p.files
        out: list[Outcome] = []
        with self.emulator(f"limit-{n}") as (emu, proxy):
            note(f"  first deploy of {n:,} tenants, paced: about {self.eta(3 * n)} ...")
            first = self.sync_all(emu, proxy, p, f"first deploy ({n})", PACED)
            self.expect(first, n, unchanged=0, uploaded=files)
            note("  nothing changed ...")
            again = self.sync_all(emu, proxy, p, f"nothing changed ({n})", PACED)
            self.expect(again, n, unchanged=n, uploaded=0)
            rel = change_one(p)
            note(f"  one tenant changed ({p.changed}/{rel}) ...")
            one = self.sync_all(emu, proxy, p, f"one tenant changed ({n})", PACED)
            self.expect(one, n, unchanged=n - 1, uploaded=1)
            proxy.hide_limit = True
            note(f"  today's behaviour, nothing changed: --verify full, unpaced ({2 * n:,} requests) ...")
            full = self.sync_all(
                emu, proxy, p, f"today, nothing changed ({n})", TODAY_FULL, "--verify", "full"
            )
            out += [first, again, one, full]
        with self.emulator(f"limit-{n}-today") as (emu, proxy):
            proxy.hide_limit = True
            note(f"  today's behaviour, first deploy: unpaced ({3 * n:,} requests) ...")
            out.append(self.sync_all(emu, proxy, p, f"today, first deploy ({n})", TODAY))
        return out

    def eta(self, requests: int) -> str:
        seconds = requests / self.rate.per_second
        return f"{requests:,} requests at {self.rate.per_second:g}/s, {seconds / 60:.1f} min"


def targets(outcomes: list[Outcome], p: LimitPlatform, rate: Rate) -> list[Target]:
    """The issue's targets, judged from the paced runs; today's runs shown beside them."""
    first, again, one, full, today = outcomes
    n = len(p.tenants)
    floor = first.tally.requests / rate.per_second
    ratio = first.run.seconds / floor if floor else math.inf
    token_floor = first.tally.api_token / rate.per_second
    token_ratio = first.run.seconds / token_floor if token_floor else math.inf
    pages = math.ceil(n / LIST_PAGE)
    # Besides the list pages, only the changed tenant's requests: its session, uploads and deploy.
    one_ok = set(one.tally.scripts) == {p.changed} and one.tally.requests == (
        one.tally.routes["list"] + one.tally.per_tenant
    )
    paced_refused = sum(o.tally.refused for o in (first, again, one))
    return [
        Target("first deploy: 429 answers", f"{first.tally.refused:,}", "0", first.tally.refused == 0),
        Target(
            "first deploy: wall / (requests / rate)",
            f"{ratio:.3f}x",
            f"<= {WALL_TARGET:.2f}x",
            ratio <= WALL_TARGET,
        ),
        # The limiter counts each credential on its own: a session's upload token is not the API token.
        Target("first deploy: wall / (API-token requests / rate)", f"{token_ratio:.3f}x", "-", None),
        Target(
            "nothing changed: requests",
            f"{again.tally.requests:,}",
            f"<= {pages + LIST_SLACK:,}",
            again.tally.requests <= pages + LIST_SLACK,
        ),
        Target(
            "nothing changed: requests for one tenant",
            f"{again.tally.per_tenant:,}",
            "0",
            again.tally.per_tenant == 0,
        ),
        Target(
            "one changed: requests besides the list pages",
            f"{one.tally.requests - one.tally.routes['list']:,}",
            f"{p.changed}'s",
            one_ok,
        ),
        Target("429 answers, all paced runs", f"{paced_refused:,}", "0", paced_refused == 0),
        Target(
            "today, nothing changed: requests / sync-all's",
            f"{_ratio(full.tally.requests, again.tally.requests)}",
            "-",
            None,
        ),
        Target(
            "today, nothing changed: wall / sync-all's",
            f"{_ratio(full.run.seconds, again.run.seconds)}",
            "-",
            None,
        ),
        Target("today, first deploy: 429 answers", f"{today.tally.refused:,}", "-", None),
    ]


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def print_table(outcomes: list[Outcome], rate: Rate) -> None:
    """The Markdown table of every scenario, as the README quotes it."""
    head = [
        "scenario",
        "client",
        "requests",
        "for one tenant",
        "API token",
        "429 answers",
        "wall time",
        "requests / rate",
        "wall / (requests / rate)",
        "deployed / unchanged / failed",
    ]
    rows = []
    for o in outcomes:
        t, s = o.tally, o.summary
        floor = t.requests / rate.per_second
        rows.append(
            [
                o.label,
                o.client,
                f"{t.requests:,}",
                f"{t.per_tenant:,}",
                f"{t.api_token:,}",
                f"{t.refused:,}",
                f"{o.run.seconds:.1f} s",
                f"{floor:.1f} s",
                f"{o.run.seconds / floor:.2f}x" if floor else "-",
                f"{o.deployed:,} / {int(s.get('unchanged', 0)):,} / {int(s.get('failed', 0)):,}"
                if s
                else "-",
            ]
        )
    print()
    print(markdown(head, rows))


def report(outcomes: list[Outcome], p: LimitPlatform, rate: Rate) -> list[str]:
    """Print the table and the targets; the labels of the targets missed."""
    print_table(outcomes, rate)
    judged = targets(outcomes, p, rate)
    print()
    TargetTable(value_width=11, limit_width=12).print(judged)
    return missed(judged)


def measure_limit(
    clients: Clients,
    servers: Servers,
    scratch: Path,
    source: Path,
    tenants: list[str],
    files: int,
    rate: Rate,
) -> tuple[list[Outcome], LimitPlatform]:
    """Run the scenarios on the tenants of ``source`` (generated folders, reused by later runs)."""
    if len(tenants) < 2:
        raise BenchError("--part limit needs at least 2 tenants (one of them is changed)")
    p = link_platform(scratch, source, tenants, files)
    return LimitBench(clients, servers, rate).measure(p), p
