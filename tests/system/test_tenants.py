"""sync-all as a library, against the emulator over 127.0.0.1: many tenants, shards, prune."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.engine import Syncer, SyncOptions, UploadSlots
from assetsync.errors import ConfigError, NotConfirmed, ServerError, SourceNotFound, UsageError
from assetsync.events import SyncAllReport, TenantFinished
from assetsync.folder.build import BuildOptions
from assetsync.namespace import delete_from_namespace, list_namespace
from assetsync.retry import Backoff, Concurrency, Retries
from assetsync.settings import Settings
from assetsync.tenants import Shard, SyncAllOptions, Tenant, discover, resolve_tenant, sync_all
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, envelope_error, make_tree

NS = "platform"
FAST = Backoff(base=0.001, cap=0.005)


def target(live: LiveEmulator, token: str | None = None) -> Target:
    return Target("api", live.api, ACCOUNT, token or live.token or "")


def template(tmp_path: Path, **kw: Any) -> SyncOptions:
    kw.setdefault("backoff", FAST)
    return SyncOptions(namespace=NS, build=BuildOptions(cache_dir=str(tmp_path / "cache")), **kw)


def flags(tmp_path: Path, **kw: Any) -> Settings:
    """The settings of a sync-all run, as its flags give them."""
    return Settings(namespace=NS, cache_dir=str(tmp_path / "cache"), backoff=FAST, **kw)


def tenant_files(name: str) -> dict[str, str]:
    return {"index.html": f"<h1>{name}</h1>", "css/site.css": "body{}", "robots.txt": f"tenant {name}"}


def make_tenants(root: Path, names: list[str]) -> Path:
    for name in names:
        make_tree(root / name, tenant_files(name))
    return root


def served(live: LiveEmulator, script: str, path: str) -> httpx.Response:
    return httpx.get(live.origin + path, headers={"Host": f"{script}.{NS}.localhost"})


def names_in(live: LiveEmulator, ns: str = NS) -> list[str]:
    return [s.name for s in list_namespace(target(live), ns)]


def run(root: Path, tmp_path: Path, live: LiveEmulator, **kw: Any) -> SyncAllReport:
    opts = SyncAllOptions(flags(tmp_path, **kw.pop("sync", {})), **kw)
    return sync_all(str(root), opts, target(live))


# -- shards and discovery ----------------------------------------------------------------------


def test_shards_partition_any_set_exactly_and_stay_put_when_tenants_are_added(
    tried: Callable[..., None],
) -> None:
    tried(
        "concurrency",
        "shards of a CI matrix: every tenant in exactly one shard, stable when tenants are added",
    )
    names = [f"tenant-{i:04d}" for i in range(2000)]
    for count in (1, 2, 3, 7, 16):
        shards = [Shard(i, count) for i in range(1, count + 1)]
        owners = [[s for s in shards if s.holds(n)] for n in names]
        assert all(len(o) == 1 for o in owners)  # exactly one shard each
        sizes = [sum(1 for o in owners if o[0] is s) for s in shards]
        assert min(sizes) > len(names) / count * 0.8  # and roughly even
        before = {n: o[0] for n, o in zip(names, owners, strict=True)}
        more = names + [f"new-{i}" for i in range(300)]
        assert all(next(s for s in shards if s.holds(n)) == before[n] for n in more[: len(names)])


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "abc", "1/", "/2", "-1/2", "1.5/2"])
def test_bad_shard_is_a_usage_error_that_says_shards_count_from_one(text: str) -> None:
    with pytest.raises(UsageError, match="I/N"):
        Shard.parse(text)
    assert Shard.parse(" 2/8 ") == Shard(2, 8) and str(Shard(2, 8)) == "2/8"


def test_discovery_skips_dot_folders_and_files_but_keeps_a_broken_symlink(tmp_path: Path) -> None:
    root = make_tenants(tmp_path / "root", ["b", "a"])
    (root / ".git").mkdir()
    (root / "README.md").write_text("not a tenant")
    (root / "gone").symlink_to(tmp_path / "nowhere")
    assert [t.name for t in discover(str(root))] == ["a", "b", "gone"]
    with pytest.raises(SourceNotFound, match="no such folder"):
        discover(str(tmp_path / "missing"))


def test_tenant_config_decides_what_no_flag_says_and_is_never_an_asset(tmp_path: Path) -> None:
    root = make_tenants(tmp_path / "root", ["plain", "custom", "split"])
    (root / "custom" / "wrangler.jsonc").write_text(
        '// per tenant\n{"compatibility_date": "2024-02-03", "assets": {"not_found_handling": "404-page"},}'
    )
    make_tree(root / "split", {"public/index.html": "x", "worker/index.js": "export default {}"})
    (root / "split" / "wrangler.toml").write_text(
        'main = "worker/index.js"\n[assets]\ndirectory = "public"\n'
    )
    (root / "split" / "_headers").write_text("/*\n  X-Root: no\n")
    shared = flags(tmp_path, html_handling="none", tags=("blue",))
    folder, plain = resolve_tenant(Tenant("plain", str(root / "plain")), shared)
    assert folder == str(root / "plain") and plain.script == "plain" and plain.build.scheme.salt == "plain"
    assert plain.worker.tags == ("assetsync", "tenant:plain", "blue")
    assert plain.worker.compatibility_date is None and "/wrangler.jsonc" in plain.build.ignore
    _, custom = resolve_tenant(Tenant("custom", str(root / "custom")), shared)
    assert custom.worker.compatibility_date == "2024-02-03"
    assert custom.worker.assets.not_found_handling == "404-page"
    _, flagged = resolve_tenant(
        Tenant("custom", str(root / "custom")), replace(shared, compatibility_date="2025-01-01")
    )
    assert flagged.worker.compatibility_date == "2025-01-01"  # a flag wins over the tenant's config
    folder, split = resolve_tenant(Tenant("split", str(root / "split")), shared)
    assert folder == str(root / "split" / "public") and split.worker.main_module == "index.js"
    assert [m.name for m in split.modules] == ["index.js"] and split.worker.assets.headers is None
    assert split.build.ignore == () and split.worker.assets.html_handling == "none"
    _, unsalted = resolve_tenant(Tenant("plain", str(root / "plain")), replace(shared, salt=False))
    assert unsalted.build.scheme.salt == ""
    (root / "plain" / "worker.js").write_text("export default {}")
    (root / "plain" / "wrangler.toml").write_text('main = "worker.js"\n')
    with pytest.raises(ConfigError, match="served as an asset"):  # its own source, among its assets
        resolve_tenant(Tenant("plain", str(root / "plain")), shared)


# -- many tenants against the emulator ---------------------------------------------------------


def test_fifty_tenants_with_failures_that_stay_in_their_own_rows(
    tmp_path: Path, recorded: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried(
        "faults",
        "50 tenants in one run: an over-size file, a server fault and a bad folder name each fail "
        "only their own row",
    )
    names = [f"t{i:02d}" for i in range(48)]
    root = make_tenants(tmp_path / "root", [*names, "Bad_Name"])
    make_tree(root / "big-one", {"index.html": "big"})
    with open(root / "big-one" / "huge.bin", "wb") as f:
        f.truncate(25 * 1024 * 1024 + 1)  # sparse: over the limit, and never read (checked before reading)
    recorded.app.faults += [("PUT", f"/namespaces/{NS}/scripts/t13", envelope_error(500, 10013, "boom"))] * 2
    events: list[Any] = []
    opts = SyncAllOptions(flags(tmp_path, attempts=2), tenants_at_once=8)
    report = sync_all(str(root), opts, target(recorded), on_event=events.append)

    rows = {t.tenant: t for t in report.tenants}
    assert len(rows) == 50 and report.tenants_found == 50
    failed = {t.tenant: t.exit_code for t in report.failed}
    assert failed == {"Bad_Name": 2, "big-one": 5, "t13": 7}
    assert "rename the folder" in (rows["Bad_Name"].error or "")
    assert "huge.bin" in (rows["big-one"].error or "") and "Gave up after 2" in (rows["t13"].error or "")
    assert not report.ok and report.aborted is None
    live = sorted(n for n in names if n != "t13")
    assert names_in(recorded) == live  # nothing half deployed, nothing missing
    for name in live:
        r = served(recorded, name, "/robots.txt")
        assert r.status_code == 200 and r.text == f"tenant {name}"
    scripts = {s.name: s for s in list_namespace(target(recorded), NS)}
    assert scripts["t00"].tags == ("assetsync", "tenant:t00")
    assert sum(isinstance(e, TenantFinished) for e in events) == 50
    doc = report.to_json()
    assert doc["summary"]["succeeded"] == 47 and doc["summary"]["failed"] == 3
    assert recorded.token not in json.dumps(doc)

    again = sync_all(str(root), opts, target(recorded))  # a rerun uploads nothing for the deployed ones
    assert {t.tenant for t in again.failed} == {"Bad_Name", "big-one"}
    assert all(t.report and t.report.uploaded == 0 for t in again.tenants if t.ok and t.tenant != "t13")


def test_tenants_with_identical_files_get_separate_blobs(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = tmp_path / "root"
    for name in ("a", "b"):
        make_tree(root / name, {"same.txt": "identical bytes"})
    report = run(root, tmp_path, recorded)
    assert report.ok
    sessions = [
        json.loads(r["body"]) for r in recorded.app.requests if r["path"].endswith("assets-upload-session")
    ]
    hashes = {s["manifest"]["/same.txt"]["hash"] for s in sessions}
    assert len(hashes) == 2  # salted with each tenant's name
    assert all(t.report and t.report.uploaded == 1 for t in report.tenants)


class UploadCounter:
    """ASGI middleware: how many uploads are in the server at once. Each upload is held until
    ``hold`` are in together (never, while the limit works) or a short timeout passes, so that
    uploads overlap as much as the client lets them."""

    def __init__(self, app: Any, hold: int) -> None:
        self.app = app
        self.hold = hold
        self.now = self.most = self.total = 0
        self._full: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        upload = scope["type"] == "http" and scope["path"].endswith("/workers/assets/upload")
        if not upload:
            await self.app(scope, receive, send)
            return
        if self._full is None:
            self._full = asyncio.Event()
        self.now += 1
        self.total += 1
        self.most = max(self.most, self.now)
        if self.now >= self.hold:
            self._full.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), 0.05)
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


def test_one_upload_limit_for_every_tenant(tmp_path: Path, tried: Callable[..., None]) -> None:
    tried("concurrency", "30 tenants at once share one limit of 2 uploads in flight")
    root = make_tenants(tmp_path / "root", [f"t{i:02d}" for i in range(30)])
    live = LiveEmulator(tmp_path / "data")
    counter = UploadCounter(live.emulator, hold=3)
    live.app = counter
    with live:
        report = run(root, tmp_path, live, sync={"concurrency": 2}, tenants_at_once=30)
    assert report.ok and counter.total == 30
    assert 1 <= counter.most <= 2


def test_syncers_share_injected_slots(tmp_path: Path) -> None:
    sites = [make_tree(tmp_path / f"s{i}", {f"f{j}.txt": f"{i}-{j}" for j in range(3)}) for i in range(4)]
    live = LiveEmulator(tmp_path / "data")
    counter = UploadCounter(live.emulator, hold=2)
    live.app = counter
    with live:

        async def main() -> None:
            slots = UploadSlots(Concurrency(1))
            client = target(live).client()
            try:
                runs = [
                    Syncer(
                        str(site), template(tmp_path, script=f"s{i}"), target(live), client, slots=slots
                    ).run()
                    for i, site in enumerate(sites)
                ]
                await asyncio.gather(*runs)
            finally:
                await client.aclose()

        asyncio.run(main())
    assert counter.total == 4 and counter.most == 1


def test_shards_together_deploy_every_tenant_exactly_once(tmp_path: Path, recorded: LiveEmulator) -> None:
    names = [f"site-{i}" for i in range(20)]
    root = make_tenants(tmp_path / "root", names)
    seen: list[str] = []
    for i in (1, 2, 3):
        report = run(root, tmp_path, recorded, shard=Shard(i, 3))
        assert report.ok and report.tenants_found == 20 and report.shard == f"{i}/3"
        seen += [t.tenant for t in report.tenants]
    assert sorted(seen) == sorted(names)
    deploys = [r["path"].rsplit("/", 1)[1] for r in recorded.app.requests if r["method"] == "PUT"]
    assert sorted(deploys) == sorted(names)
    assert names_in(recorded) == sorted(names)


def test_prune_deletes_only_tagged_scripts_whose_folder_is_gone(
    tmp_path: Path, emulator: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("bad input", "prune: an untagged script, a renamed folder and an empty root never lose a live site")
    root = make_tenants(tmp_path / "root", ["keep", "gone", "other"])
    assert run(root, tmp_path, emulator).ok
    hand = make_tree(tmp_path / "hand", {"index.html": "by hand"})  # deployed by someone else, untagged
    from assetsync.engine import sync

    sync(str(hand), template(tmp_path, script="manual"), target(emulator))
    import shutil

    shutil.rmtree(root / "gone")
    shutil.rmtree(root / "other")
    asked: list[list[str]] = []

    def confirm(names: list[str]) -> bool:
        asked.append(names)
        return False

    opts = SyncAllOptions(flags(tmp_path), prune=True)
    with pytest.raises(NotConfirmed):
        sync_all(str(root), opts, target(emulator), confirm_prune=confirm)
    assert asked == [["gone", "other"]] and names_in(emulator) == ["gone", "keep", "manual", "other"]

    dry = sync_all(str(root), SyncAllOptions(flags(tmp_path, dry_run=True), prune=True), target(emulator))
    assert dry.prune_candidates == ["gone", "other"] and dry.prune_results == []
    assert names_in(emulator) == ["gone", "keep", "manual", "other"]

    gone_shard = next(s for s in (Shard(1, 2), Shard(2, 2)) if s.holds("gone"))
    one = sync_all(str(root), SyncAllOptions(flags(tmp_path), prune=True, shard=gone_shard), target(emulator))
    assert [p["script"] for p in one.prune_results] == ["gone"] + (
        ["other"] if gone_shard.holds("other") else []
    )
    report = sync_all(str(root), opts, target(emulator), confirm_prune=lambda names: True)
    assert report.ok and names_in(emulator) == ["keep", "manual"]

    for child in root.iterdir():
        shutil.rmtree(child)
    with pytest.raises(UsageError, match="refusing to prune"):
        sync_all(str(root), opts, target(emulator))
    assert names_in(emulator) == ["keep", "manual"]


def test_a_refused_token_stops_the_run(tmp_path: Path, emulator: LiveEmulator) -> None:
    root = make_tenants(tmp_path / "root", [f"t{i}" for i in range(6)])
    opts = SyncAllOptions(flags(tmp_path), tenants_at_once=1)
    report = sync_all(str(root), opts, target(emulator, token="wrong-token"))
    assert report.aborted is not None and len(report.failed) == 6
    assert report.tenants[0].error_type == "AuthError"
    assert all((t.error or "").startswith("not attempted") for t in report.tenants[1:])
    assert "wrong-token" not in json.dumps(report.to_json())


def test_listing_follows_every_page(tmp_path: Path, emulator: LiveEmulator) -> None:
    names = [f"n{i:03d}" for i in range(130)]
    root = tmp_path / "root"
    for name in names:
        make_tree(root / name, {"a.txt": name})
    assert run(root, tmp_path, emulator, tenants_at_once=32).ok
    assert names_in(emulator) == names  # two pages of 100
    tagged = list_namespace(target(emulator), NS, with_tags=["tenant:n007"])
    assert [s.name for s in tagged] == ["n007"]
    assert [s.name for s in list_namespace(target(emulator), NS, without_tags=["assetsync"])] == []


def test_listing_and_deleting_retry_as_a_sync_does(tmp_path: Path, recorded: LiveEmulator) -> None:
    assert run(make_tenants(tmp_path / "root", ["a", "b"]), tmp_path, recorded).ok
    listing = f"/namespaces/{NS}/scripts"
    recorded.app.faults += [("GET", listing, envelope_error(503, 10013, "busy"))] * 2
    assert [s.name for s in list_namespace(target(recorded), NS, retries=Retries(3, FAST))] == ["a", "b"]
    recorded.app.faults += [("GET", listing, envelope_error(500, 10013, "down"))] * 2
    with pytest.raises(ServerError, match="Gave up after 2"):
        list_namespace(target(recorded), NS, retries=Retries(2, FAST))
    recorded.app.faults.clear()
    recorded.app.faults += [
        ("DELETE", f"{listing}/a", envelope_error(500, 10013, "boom")),
        ("DELETE", f"{listing}/b", envelope_error(400, 10021, "refused")),  # not worth asking again
    ]
    done = delete_from_namespace(target(recorded), NS, ["a", "b"], Retries(3, FAST))
    assert [(d.name, d.ok) for d in done] == [("a", True), ("b", False)]
    assert names_in(recorded) == ["b"]


def test_per_tenant_config_reaches_the_deploy(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = make_tenants(tmp_path / "root", ["a", "b", "c"])
    (root / "b" / "wrangler.json").write_text(json.dumps({"compatibility_date": "2024-06-07"}))
    (root / "c" / "wrangler.json").write_text(
        json.dumps({"assets": {"not_found_handling": "single-page-application"}})
    )
    (root / "a" / "_redirects").write_text("/old /new 301\n")
    report = run(root, tmp_path, recorded, sync={"not_found_handling": "404-page"})
    assert report.ok
    meta: dict[str, Any] = {}
    for r in recorded.app.requests:
        if r["method"] == "PUT":
            body = r["body"].decode()
            start = body.index("{")
            meta[r["path"].rsplit("/", 1)[1]] = json.JSONDecoder().raw_decode(body[start:])[0]
    assert (
        meta["a"]["compatibility_date"] == datetime.datetime.now(datetime.UTC).date().isoformat()
        and meta["b"]["compatibility_date"] == "2024-06-07"
    )
    # The flag, over c's config.
    assert [meta[t]["assets"]["config"]["not_found_handling"] for t in "abc"] == ["404-page"] * 3
    assert meta["a"]["assets"]["config"]["_redirects"] == "/old /new 301\n"
    assert meta["b"]["tags"] == ["assetsync", "tenant:b"]
    assert served(recorded, "b", "/wrangler.json").status_code == 404  # config, never an asset
    mismatch = tmp_path / "root2"
    make_tenants(mismatch, ["c"])
    (mismatch / "c" / "wrangler.toml").write_text('name = "someone-else"\n')
    bad = run(mismatch, tmp_path, recorded)
    assert bad.failed[0].exit_code == 3 and "rename the folder" in (bad.failed[0].error or "")


def test_each_tenant_has_its_own_hash_cache(tmp_path: Path, emulator: LiveEmulator) -> None:
    root = make_tenants(tmp_path / "root", ["a", "b", "c"])
    opts = SyncAllOptions(flags(tmp_path), builds_at_once=1)
    first = sync_all(str(root), opts, target(emulator))
    assert first.ok and all(t.report and t.report.durations["build"] >= 0 for t in first.tenants)
    assert len([n for n in os.listdir(tmp_path / "cache") if n.startswith("hashes-")]) == 3
    (root / "b" / "robots.txt").write_text("changed")
    again = sync_all(str(root), opts, target(emulator))
    uploaded = {t.tenant: t.report.uploaded for t in again.tenants if t.report}
    assert uploaded == {"a": 0, "b": 1, "c": 0}
    assert served(emulator, "b", "/robots.txt").text == "changed"


def test_emulator_namespace_routes_check_the_name_and_report_pages(emulator: LiveEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}"}
    base = f"{emulator.api}/accounts/{ACCOUNT}/workers/dispatch/namespaces"
    for method in ("GET", "DELETE"):
        r = httpx.request(method, f"{base}/bad%20ns/scripts", headers=headers, params={"tags": "a:yes"})
        assert r.status_code == 400 and "namespace" in r.json()["errors"][0]["message"]
    r = httpx.get(f"{base}/{NS}/scripts", headers=headers, params={"page": 3, "per_page": 10})
    assert r.json()["result"] == []
    assert r.json()["result_info"] == {"page": 3, "per_page": 10, "count": 0, "total_count": 0}
