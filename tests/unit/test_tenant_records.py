"""sync-all's deploy records, verdicts and plan, without a server: digests, the SQLite store,
the verdict of each record against the list, and the plan's arithmetic."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from assetsync import protocol
from assetsync.deployrecords import (
    BATCH,
    DeployRecord,
    Digests,
    RecordStore,
    Scope,
    manifest_digest,
    settings_digest,
)
from assetsync.errors import ServerError, UsageError
from assetsync.namespace import ScriptInfo
from assetsync.protocol import BUCKET_BYTES, AssetsConfig, Module, WorkerSpec
from assetsync.tenantcheck import CHANGED, LiveScripts, live_verdict, local_verdict, pages_for
from assetsync.tenantplan import RateBudget, TenantPlan, duration, estimate_uploads

SCOPE = Scope("https://api.example/client/v4", "0" * 32, "platform")
DIGESTS = Digests("a" * 64, "b" * 64)


def record(etag: str | None = "e1", modified: str | None = "2026-01-01T00:00:00.000000Z") -> DeployRecord:
    return DeployRecord(DIGESTS, etag, modified)


def script(etag: str | None = "e1", modified: str | None = "2026-01-01T00:00:00.000000Z") -> ScriptInfo:
    return ScriptInfo("t", ("assetsync",), None, modified, True, False, etag)


# -- digests -----------------------------------------------------------------------------------


def test_the_settings_digest_covers_what_the_deploy_says_but_not_a_defaulted_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = WorkerSpec(
        main_module="index.js",
        tags=("assetsync",),
        bindings=({"type": "plain_text", "name": "A", "text": "1"},),
    )
    modules = (Module("index.js", "application/javascript+module", b"export default {}"),)
    base = settings_digest(spec, modules)
    assert base == settings_digest(spec, modules) and len(base) == 64
    others = [
        settings_digest(replace(spec, tags=("assetsync", "blue")), modules),
        settings_digest(replace(spec, assets=AssetsConfig(headers="/*\n  X: y\n")), modules),
        settings_digest(replace(spec, bindings=({"type": "plain_text", "name": "A", "text": "2"},)), modules),
        settings_digest(replace(spec, compatibility_date="2024-01-02"), modules),
        settings_digest(spec, (Module("index.js", "application/javascript+module", b"export default 1"),)),
        settings_digest(WorkerSpec(tags=("assetsync",)), ()),
    ]
    assert len({base, *others}) == len(others) + 1
    monkeypatch.setattr(protocol, "api_today", lambda: "2099-12-31")  # another day
    assert settings_digest(spec, modules) == base
    assert manifest_digest('{"manifest":{}}') != manifest_digest('{"manifest":{"/a":{}}}')


# -- the store ---------------------------------------------------------------------------------


def test_records_are_kept_in_batches_and_survive_a_reopen(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = RecordStore.in_folder(str(tmp_path / "state"), SCOPE, warnings.append)
    assert store.path is not None and Path(store.path).name == SCOPE.file_name()
    for i in range(BATCH):
        store.put(f"t{i}", record(etag=f"e{i}"))
    with sqlite3.connect(store.path) as other:  # a full batch is committed at once
        assert other.execute("SELECT count(*) FROM tenants").fetchone() == (BATCH,)
    other.close()
    store.put("late", record())
    store.put("t1", record(etag=None, modified=None))  # nothing to vouch with: the record goes
    store.close()
    again = RecordStore.in_folder(str(tmp_path / "state"), SCOPE, warnings.append)
    assert again.get("t0") == record(etag="e0") and again.get("late") == record()
    assert again.get("t1") is None and again.get("nobody") is None
    again.close()
    assert warnings == []


def test_another_schema_is_rebuilt_quietly_and_another_scope_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    with RecordStore.in_folder(str(tmp_path), SCOPE, warnings.append) as store:
        store.put("t", record())
    assert store.path is not None
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    db.close()
    with RecordStore(store.path, SCOPE, warnings.append) as old:
        assert old.get("t") is None and warnings == []
        old.put("t", record())
    with RecordStore(store.path, replace(SCOPE, account_id="1" * 32), warnings.append) as foreign:
        assert foreign.get("t") is None
    assert len(warnings) == 1 and "another API, account or namespace" in warnings[0]


def test_a_folder_that_cannot_hold_records_is_a_warning_never_an_error(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the folder should be")
    warnings: list[str] = []
    with RecordStore.in_folder(str(tmp_path / "blocked" / "state"), SCOPE, warnings.append) as store:
        store.put("t", record())
        assert store.get("t") is None
    assert len(warnings) == 1 and "full check" in warnings[0] and "--cache-dir" in warnings[0]


# -- verdicts ----------------------------------------------------------------------------------


def test_a_record_vouches_only_for_what_the_list_still_shows() -> None:
    assert local_verdict(record(), DIGESTS) is None  # only the list can tell now
    assert local_verdict(record(), replace(DIGESTS, settings="c" * 64)) == CHANGED
    assert live_verdict(record(), script()) == "unchanged"
    assert live_verdict(record(), None) == "not-listed"
    assert live_verdict(record(), script(etag="e2")) == "changed-elsewhere"
    assert live_verdict(record(), script(modified="2026-01-02T00:00:00.000000Z")) == "changed-elsewhere"
    assert live_verdict(record(etag=None), script()) == "unchanged"  # the modified time alone
    assert live_verdict(record(modified=None), script(etag=None)) == "changed-elsewhere"  # nothing to compare
    assert [pages_for(n) for n in (0, 1, 100, 101, 10_000)] == [1, 1, 1, 2, 100]


def test_the_list_is_read_once_for_every_tenant_that_asks() -> None:
    calls = 0

    async def fetch() -> list[ScriptInfo]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return [replace(script(), name=f"t{i}") for i in range(150)]

    async def main() -> list[tuple[bool, ScriptInfo | None]]:
        live = LiveScripts(fetch)
        found = await asyncio.gather(*(live.find(f"t{i}") for i in (0, 5, 149, 150)))
        assert live.pages == 2
        return list(found)

    found = asyncio.run(main())
    assert calls == 1 and [(listed, s and s.name) for listed, s in found] == [
        (True, "t0"),
        (True, "t5"),
        (True, "t149"),
        (True, None),
    ]

    async def failing() -> list[ScriptInfo]:
        raise ServerError("listing scripts: server error (HTTP 500)")

    async def broken() -> tuple[tuple[bool, ScriptInfo | None], str]:
        live = LiveScripts(failing)
        result = await live.find("t0")
        return result, str(live.error)

    assert asyncio.run(broken()) == ((False, None), "listing scripts: server error (HTTP 500)")


# -- the plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "1200", "0/300", "1200/0", "a/b", "1200/-5", "12.5/3", "1200/inf"])
def test_a_bad_rate_limit_says_how_to_write_one(text: str) -> None:
    with pytest.raises(UsageError, match="REQUESTS/SECONDS"):
        RateBudget.parse(text)


def test_the_plan_counts_requests_and_time_at_the_rate() -> None:
    budget = RateBudget.parse(" 120/10 ")
    assert budget == RateBudget(120, 10.0) and budget.per_second == 12
    assert budget.shared_by(4).per_second == 3 and str(budget.shared_by(4)) == "1/4 of 120 requests / 10 s"
    assert (
        estimate_uploads([]) == 0 and estimate_uploads([1] * 2000) == 1 and estimate_uploads([1] * 2001) == 2
    )
    assert estimate_uploads([BUCKET_BYTES // 2 + 1] * 3) == 3  # two never fit in one bucket
    plan = TenantPlan(budget, list_pages=2)
    plan.add_deploy("changed", uploads=3)
    plan.add_deploy("no-record", uploads=1, other=1, estimated=True)
    plan.add_unchanged("unchanged")
    plan.add_failed()
    assert (plan.tenants, plan.deploy, plan.unchanged, plan.failed) == (4, 2, 1, 1)
    assert plan.requests == 2 + 2 + 4 + 2 + 1 and plan.seconds == pytest.approx(11 / 12)
    doc = plan.to_json()
    assert doc["requests"]["total"] == 11 and doc["checks"] == {"changed": 1, "no-record": 1, "unchanged": 1}
    lines = plan.lines()
    assert lines[0] == (
        "Plan: 2 of 4 tenants would deploy (1 changed, 1 no-record), 1 unchanged would be skipped, "
        "1 failed before any request"
    )
    assert lines[1].startswith("Requests: 11 = 2 list pages + 2 sessions + 4 uploads (estimated")
    assert lines[2] == "Time at 120 requests / 10 s: about 0.9 s (this dry run made 0 requests)"
    assert [duration(s) for s in (0.42, 42, 250, 50_000)] == ["0.4 s", "42 s", "4 min 10 s", "13 h 53 min"]
