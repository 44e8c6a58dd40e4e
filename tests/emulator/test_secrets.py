"""Secrets, settings and kept bindings of the emulated API, over a real socket."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.emulator.store import Store

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, multipart
from .test_api import api, deploy, errors_of

VALUE = "s3cr3t-value-0451"  # never in any answer
Bindings = list[dict[str, Any]]


def base(script: str, ns: str | None) -> str:
    where = f"dispatch/namespaces/{ns}/scripts" if ns else "scripts"
    return f"/accounts/{ACCOUNT}/workers/{where}/{script}"


def worker(
    c: httpx.Client,
    script: str = "w",
    ns: str | None = None,
    bindings: Bindings | None = None,
    **extra: Any,
) -> httpx.Response:
    """Deploy a Worker (a module, an empty asset set) with ``bindings`` and more metadata."""
    jwt = c.post(base(script, ns) + "/assets-upload-session", json={"manifest": {}}).json()["result"]["jwt"]
    metadata = {
        "main_module": "index.js",
        "bindings": [{"name": "ASSETS", "type": "assets"}, *(bindings or [])],
        "compatibility_date": "2025-01-01",
        "assets": {"jwt": jwt},
        **extra,
    }
    return deploy(c, metadata, script, ns, {"index.js": b"export default {}"})


def settings(c: httpx.Client, script: str = "w", ns: str | None = None) -> dict[str, Any]:
    r = c.get(base(script, ns) + "/settings")
    assert r.status_code == 200, r.text
    return r.json()["result"]  # type: ignore[no-any-return]


def names(bindings: Bindings) -> dict[str, str]:
    return {b["name"]: b["type"] for b in bindings}


def put_secret(c: httpx.Client, name: str, script: str = "w", ns: str | None = None) -> httpx.Response:
    return c.put(base(script, ns) + "/secrets", json={"name": name, "text": VALUE, "type": "secret_text"})


@pytest.mark.parametrize("ns", [None, "ns1"])
def test_secrets_put_list_get_delete_never_show_a_value(emulator: LiveEmulator, ns: str | None) -> None:
    with api(emulator) as c:
        assert worker(c, ns=ns).status_code == 200
        put = put_secret(c, "API_KEY", ns=ns)
        assert put.status_code == 200 and put.json()["result"] == {"name": "API_KEY", "type": "secret_text"}
        answers = [
            c.get(base("w", ns) + "/secrets"),
            c.get(base("w", ns) + "/secrets/API_KEY"),
            c.get(base("w", ns) + "/settings"),
        ]
        assert answers[0].json()["result"] == [{"name": "API_KEY", "type": "secret_text"}]
        assert answers[1].json()["result"] == {"name": "API_KEY", "type": "secret_text"}
        assert {"name": "API_KEY", "type": "secret_text"} in answers[2].json()["result"]["bindings"]
        assert all(VALUE not in r.text for r in [put, *answers])
        assert c.delete(base("w", ns) + "/secrets/API_KEY").status_code == 200
        assert c.get(base("w", ns) + "/secrets").json()["result"] == []
        for r in (c.get(base("w", ns) + "/secrets/API_KEY"), c.delete(base("w", ns) + "/secrets/API_KEY")):
            assert errors_of(r) == (404, 10056, "Binding 'API_KEY' not found.")


@pytest.mark.parametrize(("ns", "code"), [(None, 10007), ("ns1", 10092)])
def test_a_missing_script_has_no_secrets_or_settings(
    emulator: LiveEmulator, ns: str | None, code: int
) -> None:
    with api(emulator) as c:
        for r in (
            put_secret(c, "K", "nope", ns),
            c.get(base("nope", ns) + "/secrets"),
            c.get(base("nope", ns) + "/secrets/K"),
            c.delete(base("nope", ns) + "/secrets/K"),
            c.get(base("nope", ns) + "/settings"),
        ):
            assert errors_of(r)[:2] == (404, code), r.request.url
    assert emulator.emulator.store.all_live() == []  # no draft Worker made on the way


def test_a_secret_cannot_take_the_name_of_another_binding(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        worker(c, bindings=[{"name": "GREETING", "type": "plain_text", "text": "hi"}])
        assert errors_of(put_secret(c, "GREETING")) == (400, 10053, "Binding name 'GREETING' already in use.")
        assert names(settings(c)["bindings"]) == {"ASSETS": "assets", "GREETING": "plain_text"}
        for body in ({"text": VALUE}, {"name": "X", "type": "plain_text", "text": VALUE}, {"name": "X"}, [1]):
            status, code, message = errors_of(c.put(base("w", None) + "/secrets", json=body))
            assert (status, code) == (400, 10021) and VALUE not in message, body


def test_keep_bindings_keeps_those_kinds_and_replaces_the_rest(emulator: LiveEmulator) -> None:
    first = [
        {"name": "OLD_VAR", "type": "plain_text", "text": "a"},
        {"name": "CACHE", "type": "kv_namespace", "namespace_id": "abc"},
    ]
    with api(emulator) as c:
        worker(c, bindings=first)
        put_secret(c, "TOKEN")
        put_secret(c, "SHADOWED")
        # Secrets kept; the var and the KV namespace not named again are gone; a new binding
        # named like a kept secret replaces it.
        r = worker(
            c,
            bindings=[
                {"name": "NEW_VAR", "type": "plain_text", "text": "b"},
                {"name": "SHADOWED", "type": "json", "json": {"x": 1}},
            ],
            keep_bindings=["secret_text", "secret_key"],
        )
        assert r.status_code == 200, r.text
        got = settings(c)["bindings"]
        assert names(got) == {
            "ASSETS": "assets",
            "NEW_VAR": "plain_text",
            "SHADOWED": "json",
            "TOKEN": "secret_text",
        }
        assert {"name": "NEW_VAR", "type": "plain_text", "text": "b"} in got  # values shown, but secrets'
        # keep_vars as wrangler sends it: plain_text and json survive too.
        worker(c, keep_bindings=["plain_text", "json", "secret_text", "secret_key"])
        assert set(names(settings(c)["bindings"])) == {"ASSETS", "NEW_VAR", "SHADOWED", "TOKEN"}
        # Without keep_bindings, the secrets stay (a plain wrangler deploy sends none)...
        worker(c)
        assert names(settings(c)["bindings"]) == {"ASSETS": "assets", "TOKEN": "secret_text"}
        # ...and a keep_bindings that does not name them loses them.
        worker(c, keep_bindings=["plain_text"])
        assert names(settings(c)["bindings"]) == {"ASSETS": "assets"}
        assert c.get(base("w", None) + "/secrets").json()["result"] == []


def test_inherit_takes_a_binding_as_it_was(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        worker(c)
        put_secret(c, "TOKEN")
        renamed = [{"name": "RENAMED", "type": "inherit", "old_name": "TOKEN"}]
        r = worker(c, bindings=renamed, keep_bindings=[])
        assert r.status_code == 200, r.text
        assert c.get(base("w", None) + "/secrets").json()["result"] == [
            {"name": "RENAMED", "type": "secret_text"}
        ]
        live = emulator.emulator.store.script(ACCOUNT, "", "w")
        assert live is not None and live.version is not None
        version = emulator.emulator.store.version(live.version)
        assert (
            version is not None
            and {"name": "RENAMED", "type": "secret_text", "text": VALUE} in version.bindings
        )
        assert errors_of(worker(c, bindings=[{"name": "GONE", "type": "inherit"}]))[:2] == (400, 10056)


@pytest.mark.parametrize(
    ("bindings", "code", "needle"),
    [
        ({"name": "X"}, 10021, "metadata.bindings must be a list"),
        ([{"type": "plain_text", "text": "x"}], 10021, "metadata.bindings[1] has no name"),
        ([{"name": "X", "text": "x"}], 10021, "binding 'X' (metadata.bindings[1]) has no type"),
        (
            [{"name": "ASSETS", "type": "plain_text", "text": "x"}],
            10053,
            "Binding name 'ASSETS' already in use.",
        ),
        ([{"name": "S", "type": "secret_text"}], 10021, "secret_text binding 'S'"),
        (["X"], 10021, "metadata.bindings[1] must be an object"),
    ],
)
def test_bad_bindings_are_refused_before_anything_is_stored(
    emulator: LiveEmulator, bindings: Any, code: int, needle: str
) -> None:
    with api(emulator) as c:
        jwt = c.post(base("w", None) + "/assets-upload-session", json={"manifest": {}}).json()["result"][
            "jwt"
        ]
        full = [{"name": "ASSETS", "type": "assets"}, *bindings] if isinstance(bindings, list) else bindings
        meta = {"main_module": "index.js", "bindings": full, "assets": {"jwt": jwt}}
        status, got, message = errors_of(deploy(c, meta, "w", None, {"index.js": b"export default {}"}))
        assert (status, got) == (400, code) and needle in message, message
        bad_keep = {**meta, "bindings": [], "keep_bindings": "secret_text"}
        assert (
            "keep_bindings must be a list" in errors_of(deploy(c, bad_keep, "w", None, {"index.js": b""}))[2]
        )
    assert emulator.emulator.store.latest_version(ACCOUNT, "", "w") is None


def test_settings_show_the_live_version(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        worker(
            c,
            bindings=[{"name": "V", "type": "plain_text", "text": "x"}],
            compatibility_flags=["nodejs_compat"],
            tags=["t1"],
        )
        put_secret(c, "TOKEN")
        got = settings(c)
    assert got["compatibility_date"] == "2025-01-01" and got["compatibility_flags"] == ["nodejs_compat"]
    assert got["tags"] == ["t1"] and got["usage_model"] == "standard"
    assert got["bindings"] == [
        {"name": "ASSETS", "type": "assets"},
        {"name": "V", "type": "plain_text", "text": "x"},
        {"name": "TOKEN", "type": "secret_text"},
    ]


def test_settings_patch_as_wrangler_sends_it(emulator: LiveEmulator) -> None:
    """A multipart ``settings`` part whose name-and-type-only bindings stay as they were
    (``wrangler secret bulk``'s form), and its 10201 when the part is missing."""
    with api(emulator) as c:
        worker(c, bindings=[{"name": "V", "type": "plain_text", "text": "x"}])
        put_secret(c, "OLD")
        current = settings(c)["bindings"]
        new = [{"name": b["name"], "type": b["type"]} for b in current]
        new.append({"name": "NEW", "type": "secret_text", "text": VALUE})
        ctype, body = multipart(
            [("settings", None, None, json.dumps({"bindings": new, "tags": ["x"]}).encode())]
        )
        r = c.patch(base("w", None) + "/settings", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 200 and VALUE not in r.text, r.text
        got = settings(c)
        assert {"name": "V", "type": "plain_text", "text": "x"} in got["bindings"] and got["tags"] == ["x"]
        assert names(got["bindings"]) == {
            "ASSETS": "assets",
            "V": "plain_text",
            "OLD": "secret_text",
            "NEW": "secret_text",
        }
        ctype, body = multipart([("other", None, None, b"{}")])
        r = c.patch(base("w", None) + "/settings", content=body, headers={"Content-Type": ctype})
        assert errors_of(r)[:2] == (400, 10201)


def test_secrets_bulk_merge_patch(emulator: LiveEmulator) -> None:
    """Newer wrangler's ``secret bulk``: set and delete in one version; null deletes."""
    with api(emulator) as c:
        worker(c, bindings=[{"name": "V", "type": "plain_text", "text": "x"}])
        put_secret(c, "OLD")
        patch = {"secrets": {"OLD": None, "NEW": {"name": "NEW", "text": VALUE, "type": "secret_text"}}}
        r = c.patch(base("w", None) + "/secrets-bulk", json=patch)
        assert r.status_code == 200 and VALUE not in r.text, r.text
        assert names(settings(c)["bindings"]) == {"ASSETS": "assets", "V": "plain_text", "NEW": "secret_text"}
        clash = c.patch(base("w", None) + "/secrets-bulk", json={"secrets": {"V": {"text": VALUE}}})
        assert errors_of(clash)[:2] == (400, 10053)
        assert errors_of(c.patch(base("w", None) + "/secrets-bulk", json={"secrets": [1]}))[:2] == (
            400,
            10021,
        )


def test_an_undeployed_newer_version_blocks_secret_edits(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        worker(c)
        jwt = c.post(base("w", None) + "/assets-upload-session", json={"manifest": {}}).json()["result"][
            "jwt"
        ]
        ctype, body = multipart(
            [
                (
                    "metadata",
                    None,
                    None,
                    json.dumps({"main_module": "i.js", "assets": {"jwt": jwt}}).encode(),
                ),
                ("i.js", "i.js", "application/javascript+module", b"export default {}"),
            ]
        )
        assert (
            c.post(base("w", None) + "/versions", content=body, headers={"Content-Type": ctype}).status_code
            == 200
        )
        assert errors_of(put_secret(c, "K"))[:2] == (400, 10215)


def test_deploy_answers_carry_the_version_id(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        first = worker(c).json()["result"]["deployment_id"]
        second = worker(c).json()["result"]["deployment_id"]
        deployments = c.get(base("w", None) + "/deployments").json()["result"]["deployments"]
    live = emulator.emulator.store.script(ACCOUNT, "", "w")
    assert live is not None and second == live.version and first != second
    assert deployments[0]["versions"] == [{"version_id": second, "percentage": 100}]


def test_account_subdomain(emulator: LiveEmulator, tmp_path: Path) -> None:
    with api(emulator) as c:
        assert c.get(f"/accounts/{ACCOUNT}/workers/subdomain").json()["result"] == {
            "subdomain": "assetsync-local"
        }
    with LiveEmulator(tmp_path / "none", workers_subdomain=None) as bare, api(bare) as c:
        assert errors_of(c.get(f"/accounts/{ACCOUNT}/workers/subdomain"))[:2] == (404, 10007)


def test_versions_stored_before_bindings_were_recorded_still_read(tmp_path: Path) -> None:
    """A data folder of an older emulator: its versions table has no bindings column."""
    data = tmp_path / "old"
    data.mkdir()
    db = sqlite3.connect(data / "emulator.sqlite3")
    db.execute(
        "CREATE TABLE versions (id TEXT PRIMARY KEY, account TEXT NOT NULL, namespace TEXT NOT NULL, "
        "script TEXT NOT NULL, number INTEGER NOT NULL, manifest TEXT, metadata TEXT NOT NULL, "
        "created REAL NOT NULL)"
    )
    meta = {"main_module": "i.js", "bindings": [{"name": "V", "type": "plain_text", "text": "x"}]}
    db.execute("INSERT INTO versions VALUES ('v1', 'a', '', 's', 1, NULL, ?, 0)", [json.dumps(meta)])
    db.commit()
    db.close()
    store = Store(str(data))
    old = store.version("v1")
    assert old is not None and old.bindings == meta["bindings"]
    new = store.create_version("a", "", "s", None, {"main_module": "i.js"}, [], [{"name": "B", "type": "ai"}])
    store.close()
    again = Store(str(data))
    got = again.version(new.id)
    assert got is not None and got.number == 2 and got.bindings == [{"name": "B", "type": "ai"}]
    again.close()
