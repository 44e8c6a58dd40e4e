"""sync-all's deploy records against the emulator over 127.0.0.1: an unchanged tenant costs no
request of its own, anything else is deployed, and a record is never trusted beyond what it shows."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assetsync.engine import sync
from assetsync.errors import UsageError
from assetsync.events import SyncAllReport
from assetsync.namespace import delete_from_namespace
from assetsync.tenantplan import RateBudget
from assetsync.tenants import Shard, SyncAllOptions, records_for, sync_all

from ..helpers import LiveEmulator, make_tree
from .test_tenants import NS, flags, make_tenants, served, target, template

NAMES = [f"t{i:03d}" for i in range(150)]  # two pages of the namespace's list


def run(
    root: Path, tmp_path: Path, live: LiveEmulator, warnings: list[str] | None = None, **kw: Any
) -> SyncAllReport:
    opts = SyncAllOptions(flags(tmp_path, **kw.pop("sync", {})), tenants_at_once=32, **kw)
    return sync_all(str(root), opts, target(live), warn=(warnings.append if warnings is not None else None))


def requests(live: LiveEmulator) -> list[str]:
    """What reached the server since the last call, as ``METHOD path[?query]``, and forget it."""
    out = [f"{r['method']} {r['path']}" + (f"?{r['query']}" if r["query"] else "") for r in live.app.requests]
    live.app.requests.clear()
    return out


def list_pages(seen: list[str]) -> list[str]:
    return [
        r
        for r in seen
        if r.startswith("GET /client/v4/accounts/") and r.split("?")[0].endswith(f"/{NS}/scripts")
    ]


def checks(report: SyncAllReport) -> dict[str, str | None]:
    return {t.tenant: t.check for t in report.tenants}


def published(root: Path, tmp_path: Path, live: LiveEmulator, names: list[str] = NAMES) -> Path:
    """``names`` deployed once, with their records; the server's request log emptied."""
    make_tenants(root, names)
    first = run(root, tmp_path, live)
    assert first.ok and set(checks(first).values()) == {"no-record"}
    requests(live)
    return root


def test_an_unchanged_platform_costs_only_the_list_pages(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = published(tmp_path / "root", tmp_path, recorded)
    again = run(root, tmp_path, recorded)
    seen = requests(recorded)
    assert again.ok and set(checks(again).values()) == {"unchanged"} and len(again.unchanged) == 150
    assert seen == list_pages(seen) and len(seen) == 2  # no session, no upload, no deploy
    assert all("tags=assetsync%3Ayes" in r and "per_page=100" in r for r in seen)
    assert again.requests == 2 and again.to_json()["summary"]["unchanged"] == 150
    row = again.tenants[0]
    assert row.report is not None and row.report.sessions == 0 and row.report.skipped == row.report.files == 3
    assert served(recorded, "t007", "/robots.txt").text == "tenant t007"


def test_one_changed_tenant_costs_its_own_requests_and_the_list_pages(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    root = published(tmp_path / "root", tmp_path, recorded)
    (root / "t042" / "robots.txt").write_text("new words")
    report = run(root, tmp_path, recorded)
    seen = requests(recorded)
    assert report.ok and {n: c for n, c in checks(report).items() if c != "unchanged"} == {"t042": "changed"}
    per_tenant = [r for r in seen if r not in list_pages(seen)]
    assert len(list_pages(seen)) == 2 and len(per_tenant) == 3, seen  # session, one upload, deploy
    assert all("/t042" in r or "/workers/assets/upload" in r for r in per_tenant)
    assert served(recorded, "t042", "/robots.txt").text == "new words"

    # What the deploy says besides the manifest counts too: a root _headers (never an asset), a
    # tenant's config, a flag for every tenant.
    (root / "t001" / "_headers").write_text("/*\n  X-Shop: one\n")
    (root / "t002" / "wrangler.json").write_text(json.dumps({"compatibility_date": "2024-01-02"}))
    report = run(root, tmp_path, recorded)
    assert {n: c for n, c in checks(report).items() if c != "unchanged"} == {
        "t001": "changed",
        "t002": "changed",
    }
    assert served(recorded, "t001", "/").headers["x-shop"] == "one"
    requests(recorded)
    tagged = run(root, tmp_path, recorded, sync={"tags": ("blue",)})
    assert set(checks(tagged).values()) == {"changed"}
    assert not list_pages(requests(recorded))  # nothing to check against the list: no listing at all


def test_a_tenant_changed_by_someone_else_is_redeployed(
    tmp_path: Path, recorded: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("concurrency", "a tenant deployed or deleted by another client between runs is redeployed")
    root = published(tmp_path / "root", tmp_path, recorded)
    other = make_tree(tmp_path / "other", {"robots.txt": "someone else"})
    sync(str(other), template(tmp_path, script="t010"), target(recorded))  # another client, same script
    assert served(recorded, "t010", "/robots.txt").text == "someone else"
    assert [d.ok for d in delete_from_namespace(target(recorded), NS, ["t020"])] == [True]
    requests(recorded)
    report = run(root, tmp_path, recorded)
    changed = {n: c for n, c in checks(report).items() if c != "unchanged"}
    assert report.ok and changed == {"t010": "changed-elsewhere", "t020": "not-listed"}
    assert served(recorded, "t010", "/robots.txt").text == "tenant t010"
    assert served(recorded, "t020", "/robots.txt").text == "tenant t020"
    assert set(checks(run(root, tmp_path, recorded)).values()) == {"unchanged"}  # recorded anew


def test_verify_full_deploys_every_tenant_and_records_it(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = published(tmp_path / "root", tmp_path, recorded, NAMES[:20])
    full = run(root, tmp_path, recorded, verify="full")
    seen = requests(recorded)
    assert full.ok and set(checks(full).values()) == {"verify-full"}
    assert not list_pages(seen)
    deploys = [r for r in seen if r.startswith("PUT ")]
    sessions = [r for r in seen if r.endswith("/assets-upload-session")]
    assert len(deploys) == len(sessions) == 20
    assert set(checks(run(root, tmp_path, recorded)).values()) == {"unchanged"}
    with pytest.raises(UsageError, match="--verify 'some'"):
        run(root, tmp_path, recorded, verify="some")


def records_file(tmp_path: Path, live: LiveEmulator, namespace: str = NS) -> Path:
    store = records_for(SyncAllOptions(flags(tmp_path)), target(live), namespace)
    store.close()
    assert store.path is not None
    return Path(store.path)


def test_a_corrupt_record_file_means_a_full_check(
    tmp_path: Path, recorded: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("bad input", "sync-all's deploy records corrupt: a warning and a full check, never a wrong skip")
    root = published(tmp_path / "root", tmp_path, recorded, NAMES[:20])
    path = records_file(tmp_path, recorded)
    path.write_bytes(b"this is not a database" * 100)
    warnings: list[str] = []
    report = run(root, tmp_path, recorded, warnings)
    assert report.ok and set(checks(report).values()) == {"no-record"}
    assert any("corrupt" in w and str(path) in w for w in warnings), warnings
    assert set(checks(run(root, tmp_path, recorded)).values()) == {"unchanged"}  # written afresh


def test_a_record_that_does_not_parse_means_a_full_check_of_that_tenant(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    root = published(tmp_path / "root", tmp_path, recorded, NAMES[:20])
    with sqlite3.connect(records_file(tmp_path, recorded)) as db:
        db.execute("UPDATE tenants SET manifest = 'not a digest' WHERE name = 't005'")
        db.execute("UPDATE tenants SET etag = NULL, modified_on = NULL WHERE name = 't006'")
        db.execute("UPDATE tenants SET etag = 'f' || etag WHERE name = 't007'")  # a stale etag
    db.close()
    warnings: list[str] = []
    report = run(root, tmp_path, recorded, warnings)
    changed = {n: c for n, c in checks(report).items() if c != "unchanged"}
    assert changed == {"t005": "no-record", "t006": "no-record", "t007": "changed-elsewhere"}
    assert any("2 record(s) do not parse (t005, t006)" in w for w in warnings), warnings


def test_a_foreign_record_file_means_a_full_check(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = published(tmp_path / "root", tmp_path, recorded, NAMES[:20])
    elsewhere = "platform-two"
    shutil.copy(records_file(tmp_path, recorded), records_file(tmp_path, recorded, elsewhere))
    warnings: list[str] = []
    opts = SyncAllOptions(replace(flags(tmp_path), namespace=elsewhere))
    report = sync_all(str(root), opts, target(recorded), warn=warnings.append)
    assert report.ok and set(checks(report).values()) == {"no-record"}
    assert any("written for another API, account or namespace" in w for w in warnings), warnings

    # Another API (a second emulator) with the same cache folder: its own records, none yet.
    with LiveEmulator(tmp_path / "second") as second:
        report = run(root, tmp_path, second)
    assert report.ok and set(checks(report).values()) == {"no-record"}
    assert set(checks(run(root, tmp_path, recorded)).values()) == {"unchanged"}  # the first's still hold


def test_a_list_that_cannot_be_read_means_deploys_not_skips(tmp_path: Path, recorded: LiveEmulator) -> None:
    from ..helpers import envelope_error

    root = published(tmp_path / "root", tmp_path, recorded, NAMES[:20])
    recorded.app.faults += [("GET", f"/namespaces/{NS}/scripts", envelope_error(500, 10013, "down"))] * 2
    warnings: list[str] = []
    report = run(root, tmp_path, recorded, warnings, sync={"attempts": 2})
    assert report.ok and set(checks(report).values()) == {"unchecked"}
    assert any("could not be read" in w for w in warnings), warnings


# -- the dry run's plan ------------------------------------------------------------------------


def test_the_plan_counts_what_the_run_would_send(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = published(tmp_path / "root", tmp_path, recorded)
    (root / "t042" / "robots.txt").write_text("new words")
    make_tree(root / "t999", {"a.txt": "a", "b.txt": "b"})  # new
    dry = run(root, tmp_path, recorded, sync={"dry_run": True})
    seen = requests(recorded)
    plan = dry.plan
    assert plan is not None and dry.ok
    assert (plan.tenants, plan.deploy, plan.unchanged, plan.failed) == (151, 2, 149, 0)
    assert plan.checks == {"changed": 1, "no-record": 1, "unchanged": 149}
    assert (plan.list_pages, plan.sessions, plan.uploads, plan.deploys, plan.other) == (2, 2, 2, 2, 0)
    assert plan.requests == 8 and plan.seconds == pytest.approx(8 / (1200 / 300))
    assert not plan.uploads_estimated and plan.spent == len(seen) == 4  # 2 pages, 2 sessions
    assert not [r for r in seen if r.startswith("PUT ") or "/assets/upload" in r]
    doc = dry.to_json()["plan"]
    assert doc["requests"]["total"] == 8 and doc["rate_limit"] == {
        "requests": 1200,
        "seconds": 300.0,
        "share": 1,
    }

    real = run(root, tmp_path, recorded)  # the run the plan stood for
    assert real.requests == len(requests(recorded)) == 8
    assert served(recorded, "t999", "/a.txt").text == "a"


def test_an_offline_plan_sends_nothing_and_estimates(tmp_path: Path, recorded: LiveEmulator) -> None:
    root = published(tmp_path / "root", tmp_path, recorded)
    make_tree(root / "t999", {f"f{i}.txt": str(i) for i in range(2001)})  # two buckets' worth
    budget = RateBudget(120, 10)
    dry = run(root, tmp_path, recorded, sync={"dry_run": True, "offline": True}, budget=budget)
    assert requests(recorded) == [] and dry.requests == 0
    plan = dry.plan
    assert plan is not None and plan.unverified and plan.uploads_estimated
    assert (plan.deploy, plan.unchanged, plan.list_pages, plan.uploads) == (1, 150, 2, 2)
    assert plan.requests == 6 and plan.seconds == pytest.approx(6 / 12)
    shard = Shard(1, 4)
    sharded = run(
        root, tmp_path, recorded, sync={"dry_run": True, "offline": True}, budget=budget, shard=shard
    )
    assert sharded.plan is not None and sharded.plan.budget.share == 4  # the shards share the token
    assert sharded.plan.seconds == pytest.approx(sharded.plan.requests / 3)
    with pytest.raises(UsageError, match="--offline only goes with --dry-run"):
        run(root, tmp_path, recorded, sync={"offline": True})
    with pytest.raises(UsageError, match="--offline and --prune"):
        run(root, tmp_path, recorded, sync={"dry_run": True, "offline": True}, prune=True)
