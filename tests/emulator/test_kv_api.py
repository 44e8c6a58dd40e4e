"""Workers KV in the emulator: its REST API over a real socket, the store the runtime shares, and
real clients (the official SDK, wrangler) agreeing with both.

Expirations are judged by a clock each test sets and moves (the store's ``now``): no sleeps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from assetsync.emulator.kv import KvStore
from assetsync.protocol.kv import MAX_VALUE_BYTES

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, multipart
from .test_api import api, errors_of

OTHER = "fedcba9876543210fedcba9876543210"
T0 = 1_800_000_000  # the tests' "now": a whole second, far from the real clock


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(emulator: LiveEmulator) -> Clock:
    c = Clock()
    emulator.emulator.kv.now = c
    return c


@pytest.fixture
def c(emulator: LiveEmulator, clock: Clock) -> Iterator[httpx.Client]:
    with api(emulator) as client:
        yield client


def namespaces() -> str:
    return f"/accounts/{ACCOUNT}/storage/kv/namespaces"


def create(c: httpx.Client, title: str = "routes") -> str:
    r = c.post(namespaces(), json={"title": title})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["title"] == title
    return str(r.json()["result"]["id"])


def value_url(ns: str, key: str, what: str = "values") -> str:
    """The URL path of a key: percent-encoded whole, '/' included (a '.' is spelled %2E too, or
    the client would resolve it as a dot segment)."""
    return f"{namespaces()}/{ns}/{what}/{quote(key, safe='').replace('.', '%2E')}"


def put(c: httpx.Client, ns: str, key: str, value: bytes, **params: Any) -> httpx.Response:
    return c.put(value_url(ns, key), content=value, params=params)


def names(c: httpx.Client, ns: str, **params: Any) -> list[str]:
    r = c.get(f"{namespaces()}/{ns}/keys", params=params)
    assert r.status_code == 200, r.text
    return [k["name"] for k in r.json()["result"]]


# -- namespaces --------------------------------------------------------------------------------------


def test_namespaces_create_list_page_get_rename_and_delete(c: httpx.Client) -> None:
    ids = {title: create(c, title) for title in ("b-routes", "a-routes", "c-routes")}
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids.values())
    assert errors_of(c.post(namespaces(), json={"title": "a-routes"})) == (
        400,
        10014,
        "a namespace with this account ID and title already exists",
    )
    for body in ({}, {"title": ""}, {"title": 5}, ["a"]):
        status, code, message = errors_of(c.post(namespaces(), json=body))
        assert (status, code) == (400, 10021) and "title" in message, body

    listed = c.get(namespaces()).json()
    assert [n["title"] for n in listed["result"]] == ["a-routes", "b-routes", "c-routes"]
    assert listed["result"][0] == {"id": ids["a-routes"], "title": "a-routes", "supports_url_encoding": True}
    page2 = c.get(namespaces(), params={"per_page": 2, "page": 2, "direction": "desc"}).json()
    assert [n["title"] for n in page2["result"]] == ["a-routes"]
    assert page2["result_info"] == {"page": 2, "per_page": 2, "count": 1, "total_count": 3}
    by_id = c.get(namespaces(), params={"order": "id"}).json()["result"]
    assert [n["id"] for n in by_id] == sorted(ids.values())
    assert errors_of(c.get(namespaces(), params={"order": "size"}))[:2] == (400, 10021)

    one = f"{namespaces()}/{ids['a-routes']}"
    assert c.get(one).json()["result"]["title"] == "a-routes"
    assert errors_of(c.put(one, json={"title": "b-routes"}))[:2] == (400, 10014)
    renamed = c.put(one, json={"title": "z-routes"})
    assert renamed.json()["result"] == {
        "id": ids["a-routes"],
        "title": "z-routes",
        "supports_url_encoding": True,
    }

    assert put(c, ids["a-routes"], "k", b"v").status_code == 200
    assert c.delete(one).status_code == 200
    assert errors_of(c.get(one)) == (404, 10013, "get namespace: 'namespace not found'")
    assert errors_of(c.get(value_url(ids["a-routes"], "k"))) == (404, 10013, "get: 'namespace not found'")
    again = create(c, "z-routes")  # the title is free again, and the new namespace is empty
    assert names(c, again) == []


# -- values, metadata, keys ------------------------------------------------------------------------


KEYS = [
    "a/b",
    "/leading/slash",
    "a//b/",
    "tenant/acme é",
    "100%",
    "a%2Fb",  # a literal percent sign and 2F: not a slash
    "a?b#c&d=e",
    "  spaced  ",
    "emoji/\U0001f600",
    "x" * 512,
]


def test_values_round_trip_whatever_the_key_holds(c: httpx.Client) -> None:
    ns = create(c)
    value = bytes(range(256)) * 3
    for key in KEYS:
        r = put(c, ns, key, value + key.encode())
        assert r.status_code == 200 and r.json()["result"] == {}, (key, r.text)
    for key in KEYS:
        r = c.get(value_url(ns, key))
        assert r.status_code == 200, key
        assert r.content == value + key.encode(), key
        assert r.headers["content-type"] == "application/octet-stream"
        assert "expiration" not in r.headers
    assert names(c, ns) == sorted(KEYS, key=lambda k: k.encode())
    assert put(c, ns, "empty", b"").status_code == 200
    assert c.get(value_url(ns, "empty")).content == b""
    for key in KEYS[:3]:
        assert c.delete(value_url(ns, key)).status_code == 200
        assert errors_of(c.get(value_url(ns, key))) == (404, 10009, "get: 'key not found'")
    assert c.delete(value_url(ns, "never-there")).status_code == 200  # deleting nothing is no error
    assert set(names(c, ns)) == {*KEYS[3:], "empty"}


def test_multipart_put_carries_metadata_and_a_raw_put_replaces_it(c: httpx.Client) -> None:
    ns = create(c)
    meta = {"tenant": "acme", "weights": [1, 2.5], "nested": {"ok": True}, "note": "é"}
    ctype, body = multipart(
        [
            ("value", "blob", "application/octet-stream", b"\x00\xffv"),
            ("metadata", None, None, json.dumps(meta).encode()),
        ]
    )
    r = c.put(value_url(ns, "k/1"), content=body, headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert c.get(value_url(ns, "k/1")).content == b"\x00\xffv"
    assert c.get(value_url(ns, "k/1", "metadata")).json()["result"] == meta
    assert c.get(f"{namespaces()}/{ns}/keys").json()["result"] == [{"name": "k/1", "metadata": meta}]

    assert put(c, ns, "k/1", b"plain").status_code == 200  # value, metadata and expiration all replaced
    assert c.get(value_url(ns, "k/1", "metadata")).json()["result"] is None
    assert c.get(f"{namespaces()}/{ns}/keys").json()["result"] == [{"name": "k/1"}]
    assert errors_of(c.get(value_url(ns, "nope", "metadata"))) == (404, 10009, "metadata: 'key not found'")

    ctype, body = multipart([("metadata", None, None, b"{}")])
    status, _, message = errors_of(c.put(value_url(ns, "k/2"), content=body, headers={"Content-Type": ctype}))
    assert status == 400 and "'value' part" in message
    ctype, body = multipart([("value", None, None, b"v"), ("metadata", None, None, b"{not json")])
    status, _, message = errors_of(c.put(value_url(ns, "k/2"), content=body, headers={"Content-Type": ctype}))
    assert status == 400 and "'metadata' part is not valid JSON" in message
    assert names(c, ns) == ["k/1"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", (400, "Key names must not be empty")),
        (".", (400, 'Illegal key name ".". Please use a different name.')),
        ("..", (400, 'Illegal key name "..". Please use a different name.')),
        ("é" * 257, (414, "UTF-8 encoded length of 514 exceeds key length limit of 512.")),
    ],
    ids=["empty", "dot", "dot-dot", "514-bytes"],
)
def test_bad_keys_are_refused_in_the_platforms_words(
    c: httpx.Client, key: str, expected: tuple[int, str]
) -> None:
    ns = create(c)
    for r in (put(c, ns, key, b"v"), c.get(value_url(ns, key)), c.delete(value_url(ns, key))):
        status, _, message = errors_of(r)
        assert (status, message) == expected
    raw = f"{namespaces()}/{ns}/values/%C3%28"  # not UTF-8 once decoded
    assert errors_of(c.put(raw, content=b"v"))[:2] == (400, 10021)
    assert names(c, ns) == []


def test_metadata_and_value_size_limits(c: httpx.Client) -> None:
    ns = create(c)

    def with_metadata(meta: Any) -> httpx.Response:
        ctype, body = multipart(
            [("value", None, None, b"v"), ("metadata", None, None, json.dumps(meta).encode())]
        )
        return c.put(value_url(ns, "m"), content=body, headers={"Content-Type": ctype})

    fits = {"p": "x" * (1024 - len('{"p":""}'))}  # 1024 bytes as compact JSON
    assert with_metadata(fits).status_code == 200
    assert errors_of(with_metadata({"p": fits["p"] + "x"})) == (
        413,
        10027,
        "Metadata length of 1025 exceeds limit of 1024.",
    )
    assert c.get(value_url(ns, "m", "metadata")).json()["result"] == fits

    assert put(c, ns, "big", b"\x01" * MAX_VALUE_BYTES).status_code == 200  # exactly 25 MiB
    assert len(c.get(value_url(ns, "big")).content) == MAX_VALUE_BYTES
    over = errors_of(put(c, ns, "big2", b"\x01" * (MAX_VALUE_BYTES + 1)))
    assert over == (413, 10027, f"Value length of {MAX_VALUE_BYTES + 1} exceeds limit of {MAX_VALUE_BYTES}.")
    assert set(names(c, ns)) == {"m", "big"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"expiration_ttl": 59}, "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
        ({"expiration_ttl": 0}, "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        (
            {"expiration_ttl": "soon"},
            "Invalid expiration_ttl of soon. Please specify integer greater than 0.",
        ),
        (
            {"expiration": T0 + 59},
            f"Invalid expiration of {T0 + 59}. Expiration times must be at least 60 seconds in the future.",
        ),
        (
            {"expiration": T0},
            f"Invalid expiration of {T0}. Please specify integer greater than the current number of "
            "seconds since the UNIX epoch.",
        ),
    ],
)
def test_bad_expirations_are_refused(c: httpx.Client, params: dict[str, Any], message: str) -> None:
    ns = create(c)
    assert errors_of(put(c, ns, "k", b"v", **params)) == (400, 10021, message)
    assert names(c, ns) == []


def test_expired_keys_vanish_and_are_deleted_when_read_or_listed(c: httpx.Client, clock: Clock) -> None:
    ns = create(c)
    assert put(c, ns, "at", b"1", expiration=T0 + 60).status_code == 200  # exactly 60 s ahead: allowed
    assert put(c, ns, "ttl", b"2", expiration_ttl=120).status_code == 200
    assert put(c, ns, "both", b"3", expiration=1, expiration_ttl=600).status_code == 200  # the ttl wins
    assert put(c, ns, "forever", b"4").status_code == 200
    r = c.get(value_url(ns, "at"))
    assert r.content == b"1" and r.headers["expiration"] == str(T0 + 60)
    listed = c.get(f"{namespaces()}/{ns}/keys").json()["result"]
    assert listed == [
        {"name": "at", "expiration": T0 + 60},
        {"name": "both", "expiration": T0 + 600},
        {"name": "forever"},
        {"name": "ttl", "expiration": T0 + 120},
    ]

    clock.t = T0 + 59.9  # still there
    assert c.get(value_url(ns, "at")).status_code == 200
    clock.t = T0 + 60  # gone from its expiration on: to get, to metadata and to a listing
    assert errors_of(c.get(value_url(ns, "at")))[:2] == (404, 10009)
    assert errors_of(c.get(value_url(ns, "at", "metadata")))[:2] == (404, 10009)
    assert names(c, ns) == ["both", "forever", "ttl"]
    clock.t = T0 + 120
    assert names(c, ns) == ["both", "forever"]
    clock.t = T0  # back in time: the expired keys were deleted, not just hidden
    assert names(c, ns) == ["both", "forever"]
    assert errors_of(c.get(value_url(ns, "ttl")))[:2] == (404, 10009)


def test_listing_pages_by_cursor_in_utf8_byte_order(c: httpx.Client) -> None:
    ns = create(c)
    # U+FF01 sorts before U+1F600 in UTF-8 (and code points) but after it in UTF-16: the order
    # tells the platform's byte order from a JavaScript string sort.
    keys = [f"t/{i:02d}" for i in range(23)] + ["t/\uff01", "t/\U0001f600", "t/Z", "t/é", "u/0", "s/9"]
    for key in keys:
        assert put(c, ns, key, key.encode()).status_code == 200
    url = f"{namespaces()}/{ns}/keys"
    seen: list[str] = []
    cursors: list[str] = []
    cursor = ""
    while True:
        body = c.get(
            url, params={"prefix": "t/", "limit": 10, **({"cursor": cursor} if cursor else {})}
        ).json()
        assert body["result_info"]["count"] == len(body["result"])
        seen += [k["name"] for k in body["result"]]
        cursor = body["result_info"]["cursor"]
        if not cursor:
            break
        cursors.append(cursor)
        if len(cursors) == 1:  # a key deleted behind the cursor, one added ahead: the cursor holds
            assert c.delete(value_url(ns, "t/00")).status_code == 200
            assert put(c, ns, "t/99", b"late").status_code == 200
    expected = sorted([k for k in keys if k.startswith("t/")] + ["t/99"], key=lambda k: k.encode())
    assert seen == expected
    assert expected.index("t/\uff01") < expected.index("t/\U0001f600")
    assert len(cursors) == 2 and len(set(cursors)) == 2
    assert names(c, ns, limit=1000) == sorted(set(keys + ["t/99"]) - {"t/00"}, key=lambda k: k.encode())
    assert names(c, ns, prefix="t/\U0001f600") == ["t/\U0001f600"]
    assert names(c, ns, prefix="v/") == []


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"limit": 9}, 400, "Invalid limit of 9. Please specify an integer from 10 to 1000."),
        ({"limit": 1001}, 400, "Invalid limit of 1001."),
        ({"limit": "ten"}, 400, "Invalid limit of ten."),
        ({"cursor": "not a cursor!"}, 400, "Invalid cursor"),
        ({"prefix": "p" * 513}, 414, "UTF-8 encoded length of 513 exceeds key length limit of 512."),
    ],
)
def test_bad_listings_are_refused(c: httpx.Client, params: dict[str, Any], status: int, needle: str) -> None:
    ns = create(c)
    got = errors_of(c.get(f"{namespaces()}/{ns}/keys", params=params))
    assert got[0] == status and needle in got[2]


# -- bulk ------------------------------------------------------------------------------------------


def test_bulk_write_get_and_delete(c: httpx.Client, clock: Clock) -> None:
    ns = create(c)
    pairs = [
        {"key": "tenant/a", "value": "worker-a", "metadata": {"plan": "pro"}},
        {"key": "tenant/b", "value": base64.b64encode(b"\x00\xff binary").decode(), "base64": True},
        {"key": "tenant/c", "value": '{"json": [1, 2]}', "expiration_ttl": 600},
        {"key": "tenant/d", "value": "d", "expiration": T0 + 3600},
    ]
    r = c.put(f"{namespaces()}/{ns}/bulk", json=pairs)
    assert r.status_code == 200 and r.json()["result"] == {"successful_key_count": 4, "unsuccessful_keys": []}
    assert c.get(value_url(ns, "tenant/b")).content == b"\x00\xff binary"
    assert c.get(value_url(ns, "tenant/a", "metadata")).json()["result"] == {"plan": "pro"}
    assert c.get(value_url(ns, "tenant/c")).headers["expiration"] == str(T0 + 600)
    assert c.get(value_url(ns, "tenant/d")).headers["expiration"] == str(T0 + 3600)

    get = f"{namespaces()}/{ns}/bulk/get"
    plain = c.post(get, json={"keys": ["tenant/a", "tenant/c", "missing"]}).json()["result"]
    assert plain == {"values": {"tenant/a": "worker-a", "tenant/c": '{"json": [1, 2]}', "missing": None}}
    parsed = c.post(get, json={"keys": ["tenant/c"], "type": "json", "withMetadata": True}).json()["result"]
    assert parsed == {
        "values": {"tenant/c": {"value": {"json": [1, 2]}, "metadata": None, "expiration": T0 + 600}}
    }
    status, _, message = errors_of(c.post(get, json={"keys": ["tenant/a"], "type": "json"}))
    assert status == 400 and "non-json value" in message
    assert errors_of(c.post(get, json={"keys": ["tenant/b"]}))[0] == 400  # not UTF-8: no text value
    assert errors_of(c.post(get, json={"keys": [f"k{i}" for i in range(101)]}))[0] == 400

    r = c.post(f"{namespaces()}/{ns}/bulk/delete", json=["tenant/a", "tenant/b", "never-there"])
    assert r.json()["result"] == {"successful_key_count": 3, "unsuccessful_keys": []}
    assert c.request("DELETE", f"{namespaces()}/{ns}/bulk", json=["tenant/c"]).status_code == 200
    assert names(c, ns) == ["tenant/d"]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"key": "", "value": "v"}, "pair 1 (key ''): Key names must not be empty"),
        ({"key": "k", "value": "@@@", "base64": True}, "pair 1's value is not valid base64"),
        ({"key": "k", "value": "v", "expiration_ttl": 30}, "pair 1 (key 'k'): Invalid expiration_ttl of 30."),
        ({"key": "k", "value": 5}, "pair 1's value must be a string"),
        ({"value": "v"}, 'pair 1: expected {"key": string, "value": string, ...}'),
    ],
)
def test_a_bad_pair_refuses_the_whole_bulk_write(c: httpx.Client, bad: dict[str, Any], needle: str) -> None:
    ns = create(c)
    r = c.put(f"{namespaces()}/{ns}/bulk", json=[{"key": "good", "value": "v"}, bad])
    status, _, message = errors_of(r)
    assert status == 400 and needle in message
    assert names(c, ns) == []  # all or nothing


def test_bulk_requests_past_10000_are_refused(c: httpx.Client) -> None:
    ns = create(c)
    pairs = [{"key": f"k{i}", "value": ""} for i in range(10_001)]
    status, _, message = errors_of(c.put(f"{namespaces()}/{ns}/bulk", json=pairs))
    assert status == 400 and "at most 10,000 pairs" in message
    assert (
        c.put(f"{namespaces()}/{ns}/bulk", json=pairs[:10_000]).json()["result"]["successful_key_count"]
        == 10_000
    )
    status, _, message = errors_of(c.post(f"{namespaces()}/{ns}/bulk/delete", json=[p["key"] for p in pairs]))
    assert status == 400 and "at most 10,000 keys" in message
    assert errors_of(c.post(f"{namespaces()}/{ns}/bulk/delete", json={"keys": []}))[0] == 400


# -- credentials -----------------------------------------------------------------------------------


@pytest.fixture
def scoped(tmp_path: Path) -> Iterator[LiveEmulator]:
    tokens = {"all-accounts": None, "token-a": ACCOUNT, "token-b": OTHER}
    with LiveEmulator(tmp_path / "d", api_tokens=tokens) as live:
        live.token = "all-accounts"
        yield live


def test_kv_routes_need_a_token_for_the_account_and_keep_accounts_apart(scoped: LiveEmulator) -> None:
    with api(scoped, "token-a") as a:
        ns = create(a)
        assert put(a, ns, "k", b"secret-of-a").status_code == 200
    routes = [
        ("GET", namespaces()),
        ("POST", namespaces()),
        ("GET", f"{namespaces()}/{ns}"),
        ("GET", value_url(ns, "k")),
        ("PUT", value_url(ns, "k")),
        ("DELETE", value_url(ns, "k")),
        ("GET", value_url(ns, "k", "metadata")),
        ("GET", f"{namespaces()}/{ns}/keys"),
        ("PUT", f"{namespaces()}/{ns}/bulk"),
        ("POST", f"{namespaces()}/{ns}/bulk/delete"),
    ]
    for method, path in routes:
        r = httpx.request(method, scoped.api + path, content=b"[]")
        assert errors_of(r)[:2] == (401, 10000), (method, path)
        r = httpx.request(
            method, scoped.api + path, content=b"[]", headers={"Authorization": "Bearer token-b"}
        )
        assert errors_of(r)[:2] == (403, 10000), (method, path)
    # Under another account's URL the namespace does not exist, even for a token of every account.
    with api(scoped) as every:
        elsewhere = f"/accounts/{OTHER}/storage/kv/namespaces/{ns}"
        assert errors_of(every.get(elsewhere + "/values/k")) == (404, 10013, "get: 'namespace not found'")
        assert errors_of(every.put(elsewhere + "/values/k", content=b"x"))[:2] == (404, 10013)
        assert errors_of(every.delete(elsewhere))[:2] == (404, 10013)
        assert every.get(f"/accounts/{OTHER}/storage/kv/namespaces").json()["result"] == []
        assert every.get(value_url(ns, "k")).content == b"secret-of-a"


# -- the store the runtime shares ------------------------------------------------------------------


def test_the_api_and_the_runtime_share_one_store(
    emulator: LiveEmulator, c: httpx.Client, tmp_path: Path
) -> None:
    """A routing table written through the API is what a Worker's binding reads (the runtime
    calls the store directly), and what a binding writes the API shows."""
    kv = emulator.emulator.kv
    assert emulator.emulator.api.kv is kv
    ns = create(c)
    assert put(c, ns, "host/acme.example", b"worker-acme", expiration_ttl=3600).status_code == 200
    got = kv.get(ns, "host/acme.example")
    assert got is not None and (got.value, got.metadata, got.expiration) == (b"worker-acme", None, T0 + 3600)
    assert kv.namespace(ns) is not None and kv.namespace(ns).account == ACCOUNT  # type: ignore[union-attr]
    kv.put(ns, "host/globex.example", b"worker-globex", metadata={"v": 2}, expiration=T0 + 7200)
    assert c.get(value_url(ns, "host/globex.example")).content == b"worker-globex"
    page = kv.list(ns, prefix="host/", limit=1)  # the binding's floor is 1, the REST listing's 10
    assert page.keys == [{"name": "host/acme.example", "expiration": T0 + 3600}] and not page.list_complete
    rest = kv.list(ns, prefix="host/", cursor=page.cursor)
    assert rest.keys == [{"name": "host/globex.example", "expiration": T0 + 7200, "metadata": {"v": 2}}]
    assert rest.list_complete and rest.cursor is None
    with pytest.raises(ValueError, match="Expiration TTL must be at least 60"):
        kv.put(ns, "k", b"v", expiration_ttl=10)
    with pytest.raises(ValueError, match="namespace not found"):
        kv.put("0" * 32, "k", b"v")
    # Another emulator over the same folder (a restart) finds it all.
    again = KvStore(emulator.emulator.config.data_dir, now=lambda: T0)
    try:
        assert [n.title for n in again.namespaces(ACCOUNT)] == ["routes"]
        assert again.get(ns, "host/globex.example") == kv.get(ns, "host/globex.example")
    finally:
        again.close()
