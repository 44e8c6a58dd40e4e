"""Durable Object migrations in the emulator: the live tag is kept, shown, and a deploy's
migrations must start from it, as the platform requires; wrangler's queue check is answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assetsync.emulator.store import Store

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator
from .test_api import api, deploy, errors_of

MODULE = {"index.js": b"export class Counter {}\nexport default {}"}


def meta(**migrations: object) -> dict[str, object]:
    return {"main_module": "index.js", "compatibility_date": "2025-01-01", "migrations": migrations}


@pytest.mark.parametrize("ns", [None, "my-ns"])
def test_migrations_start_from_the_live_tag(emulator: LiveEmulator, ns: str | None) -> None:
    with api(emulator) as c:

        def tag() -> object:
            if ns:
                path = f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/{ns}/scripts/do"
                return c.get(path).json()["result"]["script"].get("migration_tag")
            listed = c.get(f"/accounts/{ACCOUNT}/workers/scripts").json()["result"]
            service = c.get(f"/accounts/{ACCOUNT}/workers/services/do").json()["result"]
            assert [s.get("migration_tag") for s in listed if s["id"] == "do"] == [
                service["default_environment"]["script"].get("migration_tag")
            ]
            return service["default_environment"]["script"].get("migration_tag")

        first = meta(new_tag="v1", steps=[{"new_sqlite_classes": ["Counter"]}])
        assert deploy(c, first, "do", ns, MODULE).status_code == 200
        assert tag() == "v1"
        # the same migrations again, or from another tag: refused, and nothing changes
        for wrong in (first, meta(old_tag="v0", new_tag="v2", steps=[])):
            r = deploy(c, wrong, "do", ns, MODULE)
            assert errors_of(r)[:2] == (400, 10021) and "the script's migration tag is 'v1'" in r.text
        assert tag() == "v1"
        assert deploy(
            c, meta(old_tag="v1", new_tag="v2", steps=[{"deleted_classes": ["X"]}]), "do", ns, MODULE
        ).is_success
        assert tag() == "v2"
        # a deploy without migrations keeps the tag
        assert deploy(c, {"main_module": "index.js"}, "do", ns, MODULE).is_success
        assert tag() == "v2"
        bad_ones: list[dict[str, object]] = [{"steps": []}, {"new_tag": "v3", "steps": {}}]
        for bad in bad_ones:
            assert errors_of(deploy(c, {"main_module": "index.js", "migrations": bad}, "do", ns, MODULE))[
                :2
            ] == (400, 10021)


def test_a_script_without_migrations_has_no_tag(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        assert deploy(c, {"main_module": "index.js"}, "plain", None, MODULE).is_success
        (listed,) = c.get(f"/accounts/{ACCOUNT}/workers/scripts").json()["result"]
        assert listed["id"] == "plain" and "migration_tag" not in listed


def test_every_queue_asked_for_is_there(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        r = c.get(f"/accounts/{ACCOUNT}/queues", params=[("name", "jobs"), ("name", "mail"), ("page", "1")])
    assert [q["queue_name"] for q in r.json()["result"]] == ["jobs", "mail"]


def test_the_migration_tag_is_found_without_reading_every_version(tmp_path: Path) -> None:
    """Each deploy asks for the tag twice; a watch session makes thousands of versions, each with
    a large manifest stored before its metadata: the lookup must not grow with them. Counted in
    SQLite's own steps (its progress handler), not in time."""
    store = Store(str(tmp_path))
    manifest: dict[str, list[Any]] = {f"/f{i}.txt": ["0" * 32, 10, "text/plain"] for i in range(2_000)}
    migrated = meta(new_tag="v1", steps=[{"new_sqlite_classes": ["Counter"]}])
    store.create_version(ACCOUNT, "", "do", manifest, migrated, [])
    store.create_version(ACCOUNT, "", "other", manifest, meta(new_tag="x9", steps=[]), [])

    def steps_of_lookup() -> int:
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        with store.db.read() as db:
            db.set_progress_handler(count, 1)
        try:
            assert store.migration_tag(ACCOUNT, "", "do") == "v1"
        finally:
            with store.db.read() as db:
                db.set_progress_handler(None, 1)
        return steps

    def deploy_plain(times: int) -> None:
        for _ in range(times):
            store.create_version(ACCOUNT, "", "do", manifest, {"main_module": "index.js"}, [])

    deploy_plain(2)
    few = steps_of_lookup()
    deploy_plain(40)
    assert steps_of_lookup() == few
    store.create_version(ACCOUNT, "", "do", manifest, meta(old_tag="v1", new_tag="v2", steps=[]), [])
    assert store.migration_tag(ACCOUNT, "", "do") == "v2"
    store.close()
