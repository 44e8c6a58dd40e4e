#!/usr/bin/env python3
"""Benchmark the emulator as one dispatch namespace grows: 1,000, 10,000 and 100,000 scripts.

For each size a fresh data folder is filled with that many live scripts in the namespace
``bench`` (each an assets-only site of one page, tagged ``assetsync`` and ``tenant:<name>``, as
sync-all tags them), written straight into the store in one transaction (deploying 100,000
through the API would take minutes). Then ``assetsync serve`` runs on it in a process of its own
on 127.0.0.1, and each operation below is timed ``--requests`` times over one keep-alive
connection, after one untimed warm-up round; the median counts:

- list page 1: ``GET .../dispatch/namespaces/bench/scripts?page=1&per_page=100``;
- list, middle page: the page halfway through the namespace (a page by number is found by
  walking the pages ahead of it, so this one costs more as the namespace grows);
- list, one tenant's tag: ``?tags=tenant:<name>:yes`` (one script);
- deploy, new script: upload session, one bucket upload, deploy, of a one-file site under a new
  name (the three requests, timed together);
- redeploy, existing script: the same into a script the namespace already holds (its blob is
  stored after the first round: session and deploy);
- preview: ``GET /__preview/<name>.bench/`` of a script spread over the namespace;
- index, first page and index, middle page: the emulator's page of deployed sites at ``/``,
  and the one after the middle script (``?after=``).

The table shows each size's median in milliseconds, then each size's median over the first
size's (1.0x: the operation costs the same however big the namespace is). Every answer is
checked (status, what it lists); a miss is a WARNING line.

``--serve-from DIR`` runs the emulator of another checkout (``DIR/assetsync``, say a worktree of
an older commit) on the same data, to compare; the data is written by this checkout's store, whose
tables an older emulator reads as its own. Otherwise the emulator runs from a snapshot of
``<repo>/assetsync`` taken at the start. Data lives under ``<repo>/.bench/namespace`` (git-ignored;
``--workdir``) and is deleted at exit unless ``--keep``.

Usage::

    python benchmarks/namespace.py [--sizes 1000,10000,100000] [--requests N] [--serve-from DIR]
                                   [--workdir DIR] [--keep]

Exit status 0 when every answer was right (it is a measurement tool; there is no target), 1 when
one was not, 2 when the benchmark itself could not run, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common.lifecycle import guarded, note
from common.machine import REPO, loadavg
from common.options import add_workdir
from common.servers import ACCOUNT, Emulator, Servers
from common.snapshot import git_state, take_snapshot
from common.tables import markdown, print_warnings
from common.workdirs import WorkFolder

NS = "bench"
PER_PAGE = 100
PAGE_HTML = b"<!doctype html><h1>a tenant</h1>"
OPERATIONS = (
    "list page 1",
    "list, middle page",
    "list, one tenant's tag",
    "deploy, new script",
    "redeploy, existing script",
    "preview",
    "index, first page",
    "index, middle page",
)


def tenant(i: int) -> str:
    return f"t-{i:06d}"


def seed(data: Path, size: int) -> float:
    """Fill a new data folder with ``size`` live scripts in the namespace; the seconds it took."""
    if sys.path[0] != str(REPO):  # this checkout's store, not an installed one
        sys.path.insert(0, str(REPO))
    from assetsync.emulator.store import Store

    started = time.perf_counter()
    store = Store(str(data))
    try:
        store.seed_live(
            ACCOUNT,
            NS,
            (tenant(i) for i in range(size)),
            {"/index.html": (PAGE_HTML, "text/html; charset=utf-8")},
            tags=lambda name: ["assetsync", f"tenant:{name}"],
        )
    finally:
        store.close()
    return time.perf_counter() - started


@dataclass
class Namespace:
    """The operations, against one emulator holding ``size`` scripts; ``problems``: wrong answers."""

    emu: Emulator
    size: int
    client: httpx.Client
    problems: list[str] = field(default_factory=list)
    _deploys: int = 0

    def operation(self, name: str) -> Callable[[int], None]:
        return {
            "list page 1": self.list_first,
            "list, middle page": self.list_middle,
            "list, one tenant's tag": self.list_tag,
            "deploy, new script": self.deploy_new,
            "redeploy, existing script": self.redeploy,
            "preview": self.preview,
            "index, first page": self.index_first,
            "index, middle page": self.index_middle,
        }[name]

    def _expect(self, ok: bool, what: str) -> None:
        if not ok and len(self.problems) < 20:
            self.problems.append(f"{self.size:,} scripts: {what}")

    def _list(self, **params: Any) -> dict[str, Any]:
        r = self.client.get(
            f"{self.emu.api}/accounts/{ACCOUNT}/workers/dispatch/namespaces/{NS}/scripts",
            params=params,
            headers={"Authorization": f"Bearer {self.emu.token}"},
        )
        self._expect(r.status_code == 200, f"listing {params} answered {r.status_code}")
        return r.json() if r.status_code == 200 else {}

    def _ids(self, doc: dict[str, Any]) -> list[str]:
        return [s.get("id") for s in doc.get("result") or []]

    def list_first(self, i: int) -> None:
        ids = self._ids(self._list(page=1, per_page=PER_PAGE))
        self._expect(ids[:1] == [tenant(0)] and len(ids) == min(PER_PAGE, self.size), "page 1 is wrong")

    def list_middle(self, i: int) -> None:
        page = self.size // PER_PAGE // 2 + 1
        ids = self._ids(self._list(page=page, per_page=PER_PAGE))
        self._expect(ids[:1] == [tenant((page - 1) * PER_PAGE)], f"page {page} starts at {ids[:1]}")

    def list_tag(self, i: int) -> None:
        name = self._spread(i)
        ids = self._ids(self._list(tags=f"tenant:{name}:yes"))
        self._expect(ids == [name], f"the tag of {name} lists {ids[:3]}")

    def _spread(self, i: int) -> str:
        """A seeded script's name, a different one each round, spread over the namespace."""
        return tenant(i * 7919 % self.size)

    def _publish(self, name: str, body: bytes) -> None:
        """Session, the bucket it asks for (if any), deploy: a one-file site."""
        api, auth = self.emu.api, {"Authorization": f"Bearer {self.emu.token}"}
        digest = hashlib.sha256(name.encode() + b"\0" + body).hexdigest()[:32]
        where = f"{api}/accounts/{ACCOUNT}/workers/dispatch/namespaces/{NS}/scripts/{name}"
        manifest = {"/index.html": {"hash": digest, "size": len(body)}}
        r = self.client.post(f"{where}/assets-upload-session", json={"manifest": manifest}, headers=auth)
        self._expect(r.status_code == 200, f"session of {name}: {r.status_code}")
        if r.status_code != 200:
            return
        jwt, buckets = r.json()["result"]["jwt"], r.json()["result"].get("buckets") or []
        if buckets:
            part = base64_part(digest, body)
            up = self.client.post(
                f"{api}/accounts/{ACCOUNT}/workers/assets/upload?base64=true",
                content=part[1],
                headers={"Authorization": f"Bearer {jwt}", "Content-Type": part[0]},
            )
            self._expect(up.status_code == 201, f"upload of {name}: {up.status_code}")
            jwt = up.json()["result"]["jwt"] if up.status_code == 201 else jwt
        metadata = {"assets": {"jwt": jwt, "config": {}}, "compatibility_date": "2025-01-01"}
        ctype, form = metadata_form(metadata)
        d = self.client.put(where, content=form, headers={**auth, "Content-Type": ctype})
        self._expect(d.status_code == 200, f"deploy of {name}: {d.status_code} {d.text[:200]}")

    def deploy_new(self, i: int) -> None:
        self._deploys += 1
        self._publish(f"new-{self._deploys:05d}", b"<h1>new</h1>")

    def redeploy(self, i: int) -> None:
        self._publish(self._spread(i), b"<h1>redeployed</h1>")

    def preview(self, i: int) -> None:
        name = tenant((i * 104_729 + 1) % self.size)
        r = self.client.get(f"{self.emu.origin}/__preview/{name}.{NS}/")
        self._expect(
            r.status_code == 200 and r.content == PAGE_HTML, f"the preview of {name}: {r.status_code}"
        )

    def _index(self, **params: str) -> str:
        r = self.client.get(f"{self.emu.origin}/", params=params)
        self._expect(r.status_code == 200, f"the index {params} answered {r.status_code}")
        return r.text

    def index_first(self, i: int) -> None:
        page = self._index()
        self._expect(f"<td>{tenant(0)}</td>" in page, "the index's first page lacks the first script")

    def index_middle(self, i: int) -> None:
        middle = tenant(self.size // 2)
        page = self._index(after=f"{ACCOUNT}/{NS}/{middle}")
        after = tenant(self.size // 2 + 1)
        self._expect(f"<td>{after}</td>" in page, f"the index after {middle} lacks {after}")


def base64_part(digest: str, body: bytes) -> tuple[str, bytes]:
    """A bucket upload of one file: its multipart content type and body."""
    boundary = "bench-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{digest}"; filename="{digest}"\r\n'
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
    )
    form = head.encode() + base64.b64encode(body) + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", form


def metadata_form(metadata: dict[str, Any]) -> tuple[str, bytes]:
    """A deploy body holding only its ``metadata`` part (an assets-only deploy)."""
    boundary = "bench-boundary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        f"{json.dumps(metadata)}\r\n--{boundary}--\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", form


def measure_size(ns: Namespace, requests: int) -> dict[str, float]:
    """Each operation's median seconds over ``requests`` rounds, after one untimed warm-up round."""
    medians = {}
    for name in OPERATIONS:
        op = ns.operation(name)
        op(requests)  # warm-up, untimed: the first request of a kind loads code and fills caches
        times = []
        for i in range(requests):
            started = time.perf_counter()
            op(i)
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    return medians


def print_table(sizes: Sequence[int], results: dict[int, dict[str, float]]) -> None:
    """Medians in ms per size, then each size's median over the first size's."""
    first = sizes[0]
    head = ["operation", *(f"{n:,} scripts" for n in sizes), *(f"{n:,} / {first:,}" for n in sizes[1:])]
    rows = []
    for name in OPERATIONS:
        figures = [results[n][name] for n in sizes]
        rows.append(
            [
                name,
                *(f"{f * 1000:.1f} ms" for f in figures),
                *(f"{f / figures[0]:.1f}x" for f in figures[1:]),
            ]
        )
    print()
    print(markdown(head, rows))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time the emulator's list, deploy, preview and index at 1k-100k scripts."
    )
    p.add_argument(
        "--sizes",
        default="1000,10000,100000",
        metavar="N,N,...",
        help="scripts in the namespace, one emulator each; ratios are to the first [1000,10000,100000]",
    )
    p.add_argument("--requests", type=int, default=20, metavar="N", help="timed rounds per operation [20]")
    p.add_argument(
        "--serve-from",
        type=Path,
        metavar="DIR",
        help="run the emulator of the checkout in DIR (DIR/assetsync) instead of this one's",
    )
    add_workdir(p, "namespace", "the emulators' data")
    p.add_argument("--keep", action="store_true", help="keep the emulators' data (else deleted at exit)")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes {args.sizes!r}: give whole numbers separated by commas, such as 1000,10000")
    if not args.sizes or min(args.sizes) < 2 or args.requests < 1:
        p.error("--sizes must each be at least 2 and --requests at least 1")
    if args.serve_from is not None and not (args.serve_from / "assetsync" / "__main__.py").is_file():
        p.error(f"--serve-from {args.serve_from}: no assetsync package there (DIR/assetsync/__main__.py)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[int, dict[str, float]] = {}
    problems: list[str] = []

    def measure(stack: contextlib.ExitStack) -> None:
        work = stack.enter_context(WorkFolder(args.workdir, "namespace", args.keep))
        runs = work.runs()
        scratch = Path(tempfile.mkdtemp(prefix="assetsync-namespace-bench-", dir=work.path))
        work.add(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "PYTHONPATH"))}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        if args.serve_from is not None:
            cwd, served = args.serve_from.absolute(), f"the checkout in {args.serve_from}"
        else:
            cwd = scratch / "snapshot"
            served = f"assetsync {git_state()}, sources {take_snapshot(cwd, env)}"
        servers = stack.enter_context(Servers(runs, env, cwd))
        print("assetsync namespace benchmark: one dispatch namespace of assetsync serve on 127.0.0.1,")
        print(f"  filled with {', '.join(f'{n:,}' for n in args.sizes)} scripts; the emulator: {served}")
        print(f"  load average at start {loadavg()}; median of {args.requests} requests per figure")
        sys.stdout.flush()
        with httpx.Client(timeout=600, trust_env=False) as client:
            for size in args.sizes:
                data = runs / f"{size}" / "emulator"
                note(f"{size:,} scripts: writing them ...")
                took = seed(data, size)
                note(f"{size:,} scripts: written in {took:.1f} s; measuring ...")
                emu = servers.emulator(f"{size}", data)
                try:
                    ns = Namespace(emu, size, client)
                    results[size] = measure_size(ns, args.requests)
                    problems.extend(ns.problems)
                finally:
                    servers.stop(emu)

    status = guarded(measure)
    if status:
        return status
    print_table(args.sizes, results)
    print_warnings(problems)
    print()
    print(f"load average at the end: {loadavg()}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
