"""Many syncs at once against one emulator over a real socket: 8 tenants of a dispatch namespace,
each with its own salt, plus two syncs of one script racing to deploy different content.

All succeed; the script both raced for serves exactly what the deploy the emulator activated last
sent; the store stays consistent (SQLite's integrity check, every blob of every version present,
of the right size, and hashing to its name under its tenant's salt).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import assetsync
from assetsync.emulator.store import scope_of
from assetsync.folder.build import BuildOptions
from assetsync.folder.hashing import HashScheme
from assetsync.wire.target import Target

from ..conftest import ACCOUNT, soak_runs
from ..helpers import LiveEmulator, make_tree

NAMESPACE = "customers"
TENANTS = [f"tenant-{i}" for i in range(8)]
RACED = "shared-site"  # the script two syncs deploy at the same time


class DeployGate:
    """ASGI middleware that holds the deploys of one script until ``count`` of them have arrived,
    then lets them all through at once, so they really race inside the emulator."""

    def __init__(self, app: Any, script_path: str, count: int) -> None:
        self.app = app
        self.script_path = script_path
        self.count = count
        self.arrived = 0
        self.all_here: asyncio.Event | None = None  # made on the server's own event loop

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "PUT" and scope["path"].endswith(self.script_path):
            if self.all_here is None:
                self.all_here = asyncio.Event()
            self.arrived += 1
            if self.arrived == self.count:
                self.all_here.set()
            await asyncio.wait_for(self.all_here.wait(), 60)
        await self.app(scope, receive, send)


def tenant_files(name: str, round_: int) -> dict[str, str]:
    files = {f"page{i}.html": f"<p>{name} page {i}, round {round_}</p>" for i in range(12)}
    files["css/site.css"] = "body{margin:0}"  # the same bytes in every tenant: salts keep them apart
    files["empty.txt"] = ""
    files["img/logo.svg"] = f"<svg>{name}</svg>"
    return files


def raced_files(side: str, round_: int) -> dict[str, str]:
    files = {f"common{i}.txt": f"shared {i}" for i in range(10)}  # both sides upload these
    files["index.html"] = f"<h1>side {side}, round {round_}</h1>"
    files[f"only-{side}.txt"] = f"{side} {round_}"
    return files


def sync_one(
    live: LiveEmulator, folder: Path, script: str, cache: Path, start: threading.Barrier
) -> assetsync.SyncReport:
    options = assetsync.SyncOptions(
        script=script,
        namespace=NAMESPACE,
        build=BuildOptions(scheme=HashScheme("sha256", script), cache_dir=str(cache)),
        concurrency=2,
        timeout=60,
    )
    target = Target("api", live.api, ACCOUNT, live.token)
    start.wait(timeout=60)  # every sync sets off together
    return assetsync.sync(str(folder), options, target)


def preview(client: httpx.Client, script: str, path: str) -> httpx.Response:
    return client.get(path, headers={"Host": f"{script}.{NAMESPACE}.localhost"})


def check_store(live: LiveEmulator) -> None:
    """SQLite is intact, no upload was left half-written, and every version's every blob is stored
    in its namespace's scope, whole, under the hash of its bytes with that tenant's salt."""
    store = live.emulator.store
    db = sqlite3.connect(os.path.join(store.data_dir, "emulator.sqlite3"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT id, namespace, script FROM versions").fetchall()
        blobs = {(scope, h): size for scope, h, size in db.execute("SELECT scope, hash, size FROM blobs")}
    finally:
        db.close()
    assert os.listdir(store.tmp_dir) == []
    for vid, namespace, script in rows:
        version = store.version(vid)
        assert version is not None and version.manifest
        scope = scope_of(ACCOUNT, namespace)
        scheme = HashScheme("sha256", script)
        for path, (digest, size, ctype) in version.manifest.items():
            assert blobs.get((scope, digest)) == size, (script, path)
            with open(store.blob_path(scope, digest), "rb") as f:
                data = f.read()
            hasher = scheme.new(path, ctype)
            hasher.update(data)
            assert (len(data), hasher.hexdigest()[:32]) == (size, digest), (script, path)


@pytest.mark.timeout(max(120, 5 * soak_runs(2)))  # about a second a round; a soak runs many
def test_eight_tenants_and_two_syncs_of_one_script_at_once(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    rounds = soak_runs(2)
    tried("concurrency", "8 tenants syncing at once plus 2 syncs of the same script", rounds)
    live = LiveEmulator(tmp_path / "emulator-data")
    gate = DeployGate(live.emulator, f"/scripts/{RACED}", 2)
    live.app = gate
    with (
        live,
        ThreadPoolExecutor(len(TENANTS) + 2) as pool,
        httpx.Client(base_url=live.origin, timeout=30) as web,
    ):
        for round_ in range(rounds):
            gate.arrived, gate.all_here = 0, None
            jobs: dict[str, tuple[Path, str]] = {}
            for name in TENANTS:
                jobs[name] = (make_tree(tmp_path / f"r{round_}" / name, tenant_files(name, round_)), name)
            for side in ("a", "b"):
                jobs[side] = (
                    make_tree(tmp_path / f"r{round_}" / f"raced-{side}", raced_files(side, round_)),
                    RACED,
                )
            start = threading.Barrier(len(jobs))
            futures = {
                key: pool.submit(sync_one, live, folder, script, tmp_path / "cache", start)
                for key, (folder, script) in jobs.items()
            }
            reports = {key: future.result(timeout=120) for key, future in futures.items()}

            # Every tenant serves its own bytes, salted apart from the others'.
            for name in TENANTS:
                for rel, content in tenant_files(name, round_).items():
                    r = preview(web, name, "/" + rel.removesuffix(".html"))
                    assert (r.status_code, r.text) == (200, content), (name, rel)
            assert len({reports[n].deployment_id for n in TENANTS}) == len(TENANTS)

            # The raced script: exactly what the deploy activated last sent, nothing of the other.
            store = live.emulator.store
            raced = store.script(ACCOUNT, NAMESPACE, RACED)
            assert raced is not None and raced.version is not None
            winner = next(side for side in ("a", "b") if reports[side].deployment_id == raced.version)
            loser = "b" if winner == "a" else "a"
            numbers = store.db.query(
                "SELECT id, number FROM versions WHERE namespace=? AND script=? ORDER BY number DESC",
                [NAMESPACE, RACED],
            )
            assert numbers[0][0] == raced.version  # the newest version is the live one
            for rel, content in raced_files(winner, round_).items():
                r = preview(web, RACED, "/" + rel.removesuffix(".html").removesuffix("index"))
                assert (r.status_code, r.text) == (200, content), rel
            assert preview(web, RACED, f"/only-{loser}.txt").status_code == 404
            check_store(live)
