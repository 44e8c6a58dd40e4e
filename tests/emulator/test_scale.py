"""The emulator with 100,000 scripts in one dispatch namespace: a list page, a deploy, a preview
and a page of the index each read what they answer with, not the namespace.

Nothing here is timed. Every SQL statement the emulator runs for a request is captured (SQLite's
trace callback, values bound) and its query plan must search by key: no "SCAN" of a table. The
work SQLite does for it is counted in virtual-machine steps (its progress handler); reading every
script of the namespace costs at least one step per script, so a bound far below 100,000 steps
shows that no request walked them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.emulator.schema import VERSION
from assetsync.emulator.store import Store

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator
from .test_api import api, preview, publish

BIG = 100_000
NS = "big"
FEW_STEPS = 20_000  # a fifth of the namespace: what a request that reads a page of it stays under
PAGE_HTML = b"<h1>tenant</h1>"


def tenant(i: int) -> str:
    return f"t-{i:06d}"


@dataclass
class Cost:
    """What the emulator's SQLite connection ran while one request was answered."""

    statements: list[str] = field(default_factory=list)
    steps: int = 0


class Meter:
    """Watches the store's one connection (the emulator runs every query on it, under its lock)."""

    def __init__(self, live: LiveEmulator) -> None:
        self.store = live.emulator.store

    @contextmanager
    def measure(self) -> Iterator[Cost]:
        cost = Cost()

        def step() -> int:
            cost.steps += 1
            return 0

        with self.store.db.read() as db:
            db.set_trace_callback(cost.statements.append)
            db.set_progress_handler(step, 1)
        try:
            yield cost
        finally:
            with self.store.db.read() as db:
                db.set_trace_callback(None)
                db.set_progress_handler(None, 1)

    def scans(self, cost: Cost) -> list[str]:
        """Each statement of ``cost`` whose plan scans a table or a whole index, with the plan."""
        path = Path(self.store.data_dir) / "emulator.sqlite3"
        ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        bad = []
        try:
            for sql in cost.statements:
                if sql.split(None, 1)[0].upper() not in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
                    continue  # BEGIN, COMMIT, PRAGMA, "-- TRIGGER ..." lines
                plan = [row[3] for row in ro.execute("EXPLAIN QUERY PLAN " + sql)]
                if any(_scans_a_table(line) for line in plan):
                    bad.append(f"{sql[:300]}\n    " + "\n    ".join(plan))
        finally:
            ro.close()
        return bad


def _scans_a_table(line: str) -> bool:
    """A plan line that reads a whole table or index: "SCAN <table>" (a common table expression
    of the query itself, a JSON table-valued function or a constant row is no table)."""
    if not line.startswith("SCAN "):
        return False
    name = line.split()[1]
    return name not in ("page", "ns", "CONSTANT") and "VIRTUAL TABLE" not in line


def seeded(store: Store) -> None:
    store.seed_live(
        ACCOUNT,
        NS,
        (tenant(i) for i in range(BIG)),
        {"/index.html": (PAGE_HTML, "text/html; charset=utf-8")},
        tags=lambda name: ["assetsync", f"tenant:{name}"],
    )
    store.seed_live(ACCOUNT, "small", ["a", "b", "c"], {"/index.html": (b"small", "text/html")})


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEmulator]:
    data = tmp_path_factory.mktemp("scale") / "data"
    store = Store(str(data))
    seeded(store)
    store.close()
    with LiveEmulator(data) as live:
        yield live


def scripts_page(c: httpx.Client, ns: str = NS, **params: Any) -> dict[str, Any]:
    r = c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/{ns}/scripts", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_list_page_is_one_query_by_key(big: LiveEmulator) -> None:
    meter = Meter(big)
    with api(big) as c:
        with meter.measure() as cost:
            first = scripts_page(c, per_page=100)
        assert [s["id"] for s in first["result"]] == [tenant(i) for i in range(100)]
        assert first["result_info"] == {"page": 1, "per_page": 100, "count": 100, "total_count": BIG}
        assert first["result"][0]["has_assets"] is True and first["result"][0]["etag"]
        assert meter.scans(cost) == []
        # The page's rows and the count: two queries, however many scripts the page shows.
        assert len([s for s in cost.statements if s.startswith(("SELECT", "WITH"))]) == 2

        with meter.measure() as cost:
            middle = scripts_page(c, page=500, per_page=100)
        assert [s["id"] for s in middle["result"]][:2] == [tenant(49_900), tenant(49_901)]
        assert meter.scans(cost) == []

        # A tag only one script carries: that script's row is read, not the namespace's.
        with meter.measure() as cost:
            one = scripts_page(c, tags=f"tenant:{tenant(50_000)}:yes")
        assert [s["id"] for s in one["result"]] == [tenant(50_000)] and one["result_info"]["total_count"] == 1
        assert cost.steps < FEW_STEPS and meter.scans(cost) == []

        # A wanted tag and an unwanted one: the filter the engine's prune sends, and its inverse.
        both = scripts_page(c, tags=f"assetsync:yes,tenant:{tenant(1)}:no", per_page=3)
        assert [s["id"] for s in both["result"]] == [tenant(0), tenant(2), tenant(3)]
        assert both["result_info"]["total_count"] == BIG - 1

        # Another namespace of the account costs what it holds, not what the big one holds.
        with meter.measure() as cost:
            small = scripts_page(c, "small")
        assert [s["id"] for s in small["result"]] == ["a", "b", "c"]
        assert cost.steps < FEW_STEPS and meter.scans(cost) == []

        with meter.measure() as cost:
            namespaces = c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces").json()["result"]
        assert [n["namespace_name"] for n in namespaces] == ["big", "small"]
        assert cost.steps < FEW_STEPS and meter.scans(cost) == []


def test_a_deploy_into_the_namespace_reads_only_its_script(big: LiveEmulator) -> None:
    meter = Meter(big)
    for name in ("u-newcomer", tenant(7)):  # a new script, and a redeploy of one already there
        with meter.measure() as cost:
            result = publish(big, {"/index.html": f"<p>{name}</p>".encode()}, name, NS)
        assert result["id"] == name
        assert cost.steps < FEW_STEPS, cost.steps
        assert meter.scans(cost) == []
        assert preview(big, name, "/", NS).content == f"<p>{name}</p>".encode()


def test_a_preview_request_finds_its_script_by_key(big: LiveEmulator) -> None:
    meter = Meter(big)
    with meter.measure() as cost:
        by_host = preview(big, tenant(54_321), "/", NS)
    assert by_host.status_code == 200 and by_host.content == PAGE_HTML
    assert cost.steps < FEW_STEPS and meter.scans(cost) == []
    with meter.measure() as cost:
        by_path = httpx.get(f"{big.origin}/__preview/{tenant(99_999)}.{NS}/")
    assert by_path.status_code == 200 and by_path.content == PAGE_HTML
    assert cost.steps < FEW_STEPS and meter.scans(cost) == []


def index_names(page: str) -> list[str]:
    return re.findall(r"<td>(t-\d{6}|[abc])</td>", page)


def link(page: str, text: str) -> str | None:
    found = re.search(rf"<a href='(\?[^']*)'>{text}</a>", page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_index_pages_by_key(big: LiveEmulator) -> None:
    meter = Meter(big)
    with meter.measure() as cost:
        first = httpx.get(f"{big.origin}/")
    assert first.status_code == 200
    assert index_names(first.text) == [tenant(i) for i in range(100)]
    assert link(first.text, "&larr; Previous") is None and cost.steps < FEW_STEPS and meter.scans(cost) == []

    following = link(first.text, "Next &rarr;")
    assert following is not None
    with meter.measure() as cost:
        second = httpx.get(f"{big.origin}/{following}")
    assert index_names(second.text) == [tenant(i) for i in range(100, 200)]
    assert cost.steps < FEW_STEPS and meter.scans(cost) == []
    back = link(second.text, "&larr; Previous")
    assert back is not None and index_names(httpx.get(f"{big.origin}/{back}").text) == index_names(first.text)

    # Deep in the namespace, and its last page, which leads on to the next namespace.
    with meter.measure() as cost:
        deep = httpx.get(f"{big.origin}/", params={"after": f"{ACCOUNT}/{NS}/{tenant(70_000)}"})
    assert index_names(deep.text) == [tenant(i) for i in range(70_001, 70_101)]
    assert cost.steps < FEW_STEPS and meter.scans(cost) == []
    last = httpx.get(f"{big.origin}/__preview/", params={"after": f"{ACCOUNT}/{NS}/{tenant(BIG - 2)}"})
    assert index_names(last.text) == [tenant(BIG - 1), "a", "b", "c"]
    assert link(last.text, "Next &rarr;") is None

    bad = httpx.get(f"{big.origin}/", params={"after": "no-slashes"})
    assert bad.status_code == 400 and "is not account/namespace/script" in bad.text


def test_tags_are_found_by_key_after_every_kind_of_change(tmp_path: Path) -> None:
    """The tag table follows a script's tags through a deploy, a settings edit and a deletion."""
    store = Store(str(tmp_path))

    def tagged(tag: str) -> list[str]:
        return store.names_matching(ACCOUNT, NS, [(tag, True)])

    version = store.create_version(ACCOUNT, NS, "s", None, {}, [])
    assert tagged("old") == []  # a draft: no live version, not listed
    store.activate(ACCOUNT, NS, "s", version.id, ["old", "both"])
    assert (tagged("old"), tagged("both")) == (["s"], ["s"])
    store.activate(ACCOUNT, NS, "s", store.create_version(ACCOUNT, NS, "s", None, {}, []).id, ["new", "both"])
    assert (tagged("old"), tagged("new"), tagged("both")) == ([], ["s"], ["s"])
    store.update_script(ACCOUNT, NS, "s", tags=["patched"])
    assert (tagged("new"), tagged("patched")) == ([], ["s"])
    assert store.names_matching(ACCOUNT, NS, [("patched", False)]) == []
    store.delete_script(ACCOUNT, NS, "s")
    assert tagged("patched") == [] and store.db.query("SELECT COUNT(*) FROM script_tags") == [(0,)]
    store.close()


def test_an_older_data_folder_gains_the_tag_table_and_indexes(tmp_path: Path) -> None:
    """A data folder written before the tag table existed: its scripts' tags are filled in once,
    and its new indexes are built, when a new emulator opens it."""
    data = tmp_path / "old"
    data.mkdir()
    db = sqlite3.connect(data / "emulator.sqlite3")
    db.executescript(
        "CREATE TABLE scripts (account TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
        "version TEXT, tags TEXT NOT NULL DEFAULT '[]', settings TEXT NOT NULL DEFAULT '{}', "
        "subdomain INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, modified REAL NOT NULL, "
        "deployment TEXT, PRIMARY KEY (account, namespace, name)) WITHOUT ROWID;"
        "CREATE TABLE versions (id TEXT PRIMARY KEY, account TEXT NOT NULL, namespace TEXT NOT NULL, "
        "script TEXT NOT NULL, number INTEGER NOT NULL, manifest TEXT, metadata TEXT NOT NULL, "
        "created REAL NOT NULL);"
    )
    for name, version, tags in (("live", "v1", ["keep", "x"]), ("draft", None, ["keep"])):
        db.execute(
            "INSERT INTO scripts (account, namespace, name, version, tags, created, modified) "
            "VALUES (?, ?, ?, ?, ?, 0, 0)",
            (ACCOUNT, NS, name, version, json.dumps(tags)),
        )
    db.execute("INSERT INTO versions VALUES ('v1', ?, ?, 'live', 1, NULL, '{}', 0)", (ACCOUNT, NS))
    db.commit()
    db.close()

    store = Store(str(data))
    assert store.names_matching(ACCOUNT, NS, [("keep", True)]) == ["live"]  # the draft is not live
    assert store.count_live(ACCOUNT, NS, [("x", True), ("keep", True)]) == 1
    assert store.live_for_preview("live", NS)[0].name == "live"
    indexes = {r[0] for r in store.db.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"scripts_by_name", "versions_by_script", "versions_migrating"} <= indexes
    assert store.db.query("PRAGMA user_version") == [(VERSION,)]
    store.close()
    again = Store(str(data))  # opened again: nothing is filled twice
    assert again.db.query("SELECT COUNT(*) FROM script_tags") == [(2,)]
    again.close()
