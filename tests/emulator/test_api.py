"""The emulated API over a real socket: sessions, uploads, deploys, scripts, errors."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from assetsync.folder.hashing import HashScheme, digest_bytes
from assetsync.protocol.contenttypes import content_type

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, multipart

FILES = {
    "/index.html": b"<h1>home</h1>",
    "/css/site.css": b"body{}",
    "/empty.txt": b"",
    "/docs/caf\u00e9 men\u00fc.html": "<p>caf\u00e9</p>".encode(),
    "/blob.bin": bytes(range(256)) * 40,
}


def manifest_of(files: dict[str, bytes], salt: str = "") -> dict[str, Any]:
    scheme = HashScheme("sha256", salt)
    return {
        p: {"hash": digest_bytes(b, scheme, p, content_type(p)), "size": len(b)} for p, b in files.items()
    }


def api(live: LiveEmulator, token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=live.api, headers={"Authorization": f"Bearer {token or live.token}"}, timeout=30
    )


def session(
    c: httpx.Client, manifest: dict[str, Any], script: str = "site", ns: str | None = None
) -> httpx.Response:
    where = f"dispatch/namespaces/{ns}/scripts" if ns else "scripts"
    return c.post(
        f"/accounts/{ACCOUNT}/workers/{where}/{script}/assets-upload-session", json={"manifest": manifest}
    )


def upload(
    live: LiveEmulator,
    jwt: str,
    files: dict[str, bytes],
    manifest: dict[str, Any],
    hashes: list[str],
    layout: str = "wrangler",
) -> httpx.Response:
    by_hash = {manifest[p]["hash"]: p for p in files}
    parts: list[tuple[str, str | None, str | None, bytes]] = []
    for h in hashes:
        path = by_hash[h]
        body = base64.b64encode(files[path])
        if layout == "wrangler":
            parts.append((h, h, content_type(path), body))
        else:  # the official Python SDK: no filename, no part type
            parts.append((h, None, None, body))
    ctype, body = multipart(parts)
    return httpx.post(
        f"{live.api}/accounts/{ACCOUNT}/workers/assets/upload?base64=true",
        content=body,
        headers={"Authorization": f"Bearer {jwt}", "Content-Type": ctype},
        timeout=30,
    )


def deploy(
    c: httpx.Client,
    metadata: dict[str, Any],
    script: str = "site",
    ns: str | None = None,
    modules: dict[str, bytes] | None = None,
) -> httpx.Response:
    where = f"dispatch/namespaces/{ns}/scripts" if ns else "scripts"
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        ("metadata", None, None, json.dumps(metadata).encode())
    ]
    parts += [(name, name, "application/javascript+module", body) for name, body in (modules or {}).items()]
    ctype, body = multipart(parts)
    return c.put(
        f"/accounts/{ACCOUNT}/workers/{where}/{script}", content=body, headers={"Content-Type": ctype}
    )


def publish(
    live: LiveEmulator,
    files: dict[str, bytes],
    script: str = "site",
    ns: str | None = None,
    config: dict[str, Any] | None = None,
    layout: str = "wrangler",
) -> dict[str, Any]:
    """Session, every bucket, deploy: returns the deploy result."""
    m = manifest_of(files, salt=script if ns else "")
    with api(live) as c:
        r = session(c, m, script, ns)
        assert r.status_code == 200, r.text
        res = r.json()["result"]
        jwt = res["jwt"]
        for bucket in res["buckets"]:
            up = upload(live, res["jwt"], files, m, bucket, layout)
            assert up.status_code in (201, 202), up.text
            if up.status_code == 201:
                jwt = up.json()["result"]["jwt"]
        d = deploy(
            c,
            {
                "assets": {"jwt": jwt, "config": config or {}},
                "compatibility_date": "2025-01-01",
                "compatibility_flags": [],
            },
            script,
            ns,
        )
        assert d.status_code == 200, d.text
        return d.json()["result"]  # type: ignore[no-any-return]


def preview(live: LiveEmulator, script: str, path: str, ns: str = "", **kw: Any) -> httpx.Response:
    host = f"{script}.{ns}.localhost" if ns else f"{script}.localhost"
    return httpx.get(
        f"{live.origin}{path}", headers={"Host": host, **kw.pop("headers", {})}, timeout=30, **kw
    )


def test_first_session_lists_every_blob_then_nothing(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        r = session(c, m)
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True and body["errors"] == []
        buckets = body["result"]["buckets"]
        assert sorted(h for b in buckets for h in b) == sorted({e["hash"] for e in m.values()})
        token = body["result"]["jwt"]
        claims = pyjwt.decode(token, options={"verify_signature": False})
        assert claims["kind"] == "upload" and claims["exp"] > time.time() + 3000
    publish(emulator, FILES)
    with api(emulator) as c:
        again = session(c, m).json()["result"]
        assert again["buckets"] == []
        assert pyjwt.decode(again["jwt"], options={"verify_signature": False})["kind"] == "completion"


@pytest.mark.parametrize("layout", ["wrangler", "sdk"])
def test_upload_deploy_and_preview_byte_for_byte(emulator: LiveEmulator, layout: str) -> None:
    result = publish(emulator, FILES, layout=layout)
    assert result["id"] == "site" and result["has_assets"] is True and result["has_modules"] is False
    for path, data in FILES.items():
        r = preview(emulator, "site", path.replace(" ", "%20"))
        if path.endswith(".html"):
            # auto-trailing-slash serves /x.html at /x
            assert r.status_code == 307
            r = preview(emulator, "site", r.headers["location"])
        assert r.status_code == 200, path
        assert r.content == data
        ctype = content_type(path)
        assert r.headers.get("content-type") == (None if ctype == "application/null" else ctype)
        assert r.headers["etag"] == f'"{manifest_of(FILES)[path]["hash"]}"'


def test_buckets_respect_limits(tmp_path: Any) -> None:
    from assetsync.emulator.api import Limits

    files = {f"/f{i}.txt": bytes([i]) * 100 for i in range(25)}
    with (
        LiveEmulator(tmp_path / "d", limits=Limits(bucket_files=10, bucket_bytes=450)) as live,
        api(live) as c,
    ):
        buckets = session(c, manifest_of(files)).json()["result"]["buckets"]
        assert [len(b) for b in buckets] == [4] * 6 + [1]
        assert sorted(h for b in buckets for h in b) == sorted(e["hash"] for e in manifest_of(files).values())


def test_partial_uploads_answer_202_then_201(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        res = session(c, m).json()["result"]
    hashes = [h for b in res["buckets"] for h in b]
    first = upload(emulator, res["jwt"], FILES, m, hashes[:2])
    assert (first.status_code, first.json()["result"]) == (202, {})
    again = upload(emulator, res["jwt"], FILES, m, hashes[:2])  # idempotent re-upload
    assert again.status_code == 202
    last = upload(emulator, res["jwt"], FILES, m, hashes[2:])
    assert last.status_code == 201
    assert (
        pyjwt.decode(last.json()["result"]["jwt"], options={"verify_signature": False})["kind"]
        == "completion"
    )


def test_reopened_session_resumes_with_what_is_missing(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        res = session(c, m).json()["result"]
        hashes = [h for b in res["buckets"] for h in b]
        assert upload(emulator, res["jwt"], FILES, m, hashes[:3]).status_code == 202
        resumed = session(c, m).json()["result"]
        assert sorted(h for b in resumed["buckets"] for h in b) == sorted(hashes[3:])


def test_first_upload_of_a_hash_sets_its_content_type(emulator: LiveEmulator) -> None:
    files = {"/a.txt": b"same"}
    m = manifest_of(files)
    with api(emulator) as c:
        res = session(c, m).json()["result"]
    h = m["/a.txt"]["hash"]
    ctype, body = multipart([(h, h, "text/x-first", base64.b64encode(b"same"))])
    r = httpx.post(
        f"{emulator.api}/accounts/{ACCOUNT}/workers/assets/upload?base64=true",
        content=body,
        headers={"Authorization": f"Bearer {res['jwt']}", "Content-Type": ctype},
    )
    assert r.status_code == 201
    with api(emulator) as c:
        assert deploy(c, {"assets": {"jwt": r.json()["result"]["jwt"]}}).status_code == 200
    assert preview(emulator, "site", "/a.txt").headers["content-type"] == "text/x-first"


def errors_of(r: httpx.Response) -> tuple[int, int, str]:
    body = r.json()
    assert body["success"] is False and body["result"] is None
    return r.status_code, body["errors"][0]["code"], body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("manifest", "needle"),
    [
        ([], "expected"),
        ({"/a": {"hash": "XYZ", "size": 1}}, "not 32 lowercase hex"),
        ({"/a": {"hash": "A" * 32, "size": 1}}, "not 32 lowercase hex"),
        ({"/a": {"hash": "a" * 32, "size": -1}}, "non-negative"),
        ({"/a": {"hash": "a" * 32, "size": True}}, "non-negative"),
        ({"a": {"hash": "a" * 32, "size": 1}}, "must start with '/'"),
        ({"/a": {"hash": "a" * 32, "size": 26_214_401}}, "over the 26,214,400-byte limit"),
        ({"/a": {"hash": "a" * 32, "size": 1}, "/b": {"hash": "a" * 32, "size": 2}}, "two sizes"),
    ],
)
def test_bad_manifests_are_400_envelopes(emulator: LiveEmulator, manifest: Any, needle: str) -> None:
    with api(emulator) as c:
        status, _, message = errors_of(session(c, manifest))
    assert status == 400 and needle in message


def test_exactly_25_mib_and_file_count_limit(tmp_path: Any) -> None:
    from assetsync.emulator.api import Limits

    with LiveEmulator(tmp_path / "d", limits=Limits(max_files=3)) as live, api(live) as c:
        ok = session(c, {"/a": {"hash": "a" * 32, "size": 26_214_400}})
        assert ok.status_code == 200
        many = {f"/{i}": {"hash": f"{i:032x}", "size": 1} for i in range(4)}
        status, code, message = errors_of(session(c, many))
        assert (status, code) == (400, 10304)
        assert (
            message
            == "Invalid manifest: manifest contains 4 files which exceeds the limit of 3 files per version"
        )


def test_not_json_and_unknown_routes_are_envelopes(emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        r = c.post(f"/accounts/{ACCOUNT}/workers/scripts/x/assets-upload-session", content=b"{nope")
        assert errors_of(r)[:2] == (400, 10021)
        assert errors_of(c.get("/no/such/route"))[:2] == (404, 7003)
        assert errors_of(c.delete(f"/accounts/{ACCOUNT}/workers/assets/upload"))[:2] == (405, 7001)
        status, code, msg = errors_of(session(c, {}, script="Bad_Name"))
        assert (status, code) == (400, 10016) and "invalid Worker name" in msg


def upload_raw(
    live: LiveEmulator, jwt: str, body: bytes, ctype: str, query: str = "?base64=true"
) -> httpx.Response:
    return httpx.post(
        f"{live.api}/accounts/{ACCOUNT}/workers/assets/upload{query}",
        content=body,
        headers={"Authorization": f"Bearer {jwt}", "Content-Type": ctype},
        timeout=30,
    )


def test_bad_parts_are_named_and_leave_nothing_behind(emulator: LiveEmulator) -> None:
    files = {"/a.txt": b"hello world"}
    m = manifest_of(files)
    h = m["/a.txt"]["hash"]
    with api(emulator) as c:
        jwt = session(c, m).json()["result"]["jwt"]
    cases = [
        ([(h, h, "text/plain", b"not*base64!")], "not valid base64"),
        (
            [(h, h, "text/plain", base64.b64encode(b"hello"))],
            "5 bytes after decoding, but the manifest lists 11",
        ),
        ([(h, h, "text/plain", base64.b64encode(b"hello world, and more"))], "more than the 11 bytes"),
        ([("f" * 32, "x", "text/plain", b"")], "not a hash this upload session asked for"),
        ([(h, h, "text/plain", base64.b64encode(b"hello world")[:-1])], "ends mid-quantum"),
    ]
    for parts, needle in cases:
        ctype, body = multipart(parts)
        status, code, message = errors_of(upload_raw(emulator, jwt, body, ctype))
        assert status == 400 and needle in message, message
    for ctype, body in [
        ("text/plain", b"x"),
        ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
        ("multipart/form-data; boundary=zz", b""),
    ]:
        assert errors_of(upload_raw(emulator, jwt, body, ctype))[0] == 400
    assert os.listdir(emulator.app.store.tmp_dir) == []  # no partial upload left behind
    assert emulator.app.store.present(f"acct:{ACCOUNT}", [h]) == {}


def test_body_size_cap_is_413(tmp_path: Any) -> None:
    from assetsync.emulator.api import Limits

    files = {"/a.bin": b"x" * 100_000}
    m = manifest_of(files)
    limits = Limits(max_upload_body=4096, bucket_bytes=2048, bucket_files=1, max_file_size=100_000)
    with LiveEmulator(tmp_path / "d", limits=limits) as live:
        with api(live) as c:
            jwt = session(c, m).json()["result"]["jwt"]
        # The cap always admits a full bucket of the largest allowed file...
        assert upload(live, jwt, files, m, [m["/a.bin"]["hash"]]).status_code == 201
        # ...and refuses more.
        junk = b"--b\r\n" + b"x" * 300_000
        r = upload_raw(live, jwt, junk, "multipart/form-data; boundary=b")
        assert errors_of(r)[:2] == (413, 10027)


def test_deploy_metadata_is_stored_and_scripts_api(emulator: LiveEmulator) -> None:
    publish(emulator, {"/x.txt": b"x"}, script="t1", ns="ns1")
    m = manifest_of({"/x.txt": b"x"}, salt="t2")
    with api(emulator) as c:
        jwt = session(c, m, "t2", "ns1").json()["result"]
        assert jwt["buckets"]  # another tenant's salt: its own blob
        res = jwt
        up = upload(emulator, res["jwt"], {"/x.txt": b"x"}, m, res["buckets"][0])
        meta = {
            "main_module": "index.js",
            "bindings": [
                {"name": "ASSETS", "type": "assets"},
                {"type": "plain_text", "name": "X", "text": "y"},
            ],
            "compatibility_date": "2025-01-01",
            "compatibility_flags": ["nodejs_compat"],
            "tags": ["assetsync", "tenant:t2"],
            "assets": {"jwt": up.json()["result"]["jwt"], "config": {"html_handling": "none"}},
        }
        d = deploy(c, meta, "t2", "ns1", {"index.js": b"export default {}"})
        assert d.status_code == 200, d.text
        r = d.json()["result"]
        assert r["has_modules"] and r["has_assets"] and r["compatibility_flags"] == ["nodejs_compat"]
        got = c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts/t2").json()["result"]
        assert got["script"]["tags"] == ["assetsync", "tenant:t2"]
        listing = c.get(
            f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts", params={"per_page": 1}
        )
        body = listing.json()
        assert [s["id"] for s in body["result"]] == ["t1"]
        assert body["result_info"] == {"page": 1, "per_page": 1, "count": 1, "total_count": 2}
        page2 = c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts?per_page=1&page=2").json()
        assert [s["id"] for s in page2["result"]] == ["t2"]
        tagged = c.get(
            f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts?tags=tenant:t2:yes"
        ).json()
        assert [s["id"] for s in tagged["result"]] == ["t2"]
        assert (
            c.delete(
                f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts?tags=assetsync:yes"
            ).status_code
            == 200
        )
        assert [
            s["id"]
            for s in c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts").json()["result"]
        ] == ["t1"]
        assert c.delete(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts/t1").status_code == 200
        status, code, _ = errors_of(c.get(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts/t1"))
        assert (status, code) == (404, 10092)
        assert errors_of(c.delete(f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns1/scripts/t1"))[:2] == (
            404,
            10092,
        )


def test_keep_assets_and_sdk_json_body(emulator: LiveEmulator) -> None:
    publish(emulator, {"/k.txt": b"keep me"})
    with api(emulator) as c:
        r = c.put(
            f"/accounts/{ACCOUNT}/workers/scripts/site",
            json={"metadata": {"compatibility_date": "2025-02-02", "keep_assets": True, "assets": {}}},
        )
        assert r.status_code == 200, r.text
    assert preview(emulator, "site", "/k.txt").content == b"keep me"
    with api(emulator) as c:
        r = c.put(
            f"/accounts/{ACCOUNT}/workers/scripts/other",
            json={"metadata": {"keep_assets": True, "assets": {}}},
        )
        assert errors_of(r)[0] == 400


def test_incomplete_session_cannot_deploy(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        res = session(c, m).json()["result"]
        # Forge nothing: take a real completion token of another, complete session and check the
        # upload token itself is refused as a completion token.
        status, code, message = errors_of(deploy(c, {"assets": {"jwt": res["jwt"]}}))
        assert status == 401 and "expected a completion token" in message


def test_the_column_check_of_a_manifest_agrees_with_the_entry_check() -> None:
    """A whole manifest is checked a column at a time; whatever that cannot vouch for goes to the
    entry-by-entry check, which names the bad entry. Both give each hash's size and first path,
    in the manifest's order."""
    from assetsync.emulator.api.uploads import well_formed

    limit = 26_214_400
    a, b, c = "a" * 32, "0123456789abcdef" * 2, "f" * 32
    good = {
        "/z.txt": {"hash": b, "size": 2},
        "/a.txt": {"hash": a, "size": 1},
        "/é/ü.txt": {"hash": a, "size": 1, "extra": True},
        "/b.txt": {"hash": c, "size": limit},
        "/a-again.txt": {"hash": b, "size": 2},
    }
    want = {b: (2, "/z.txt"), a: (1, "/a.txt"), c: (limit, "/b.txt")}
    got = well_formed(good, limit)
    assert got == want and list(got or {}) == list(want)
    assert well_formed({}, limit) == {}
    bad: list[dict[str, Any]] = [
        {"/a": {"hash": "XYZ", "size": 1}},
        {"/a": {"hash": "A" * 32, "size": 1}},
        {"/a": {"hash": "a" * 31 + " ", "size": 1}},
        {"/a": {"hash": "a" * 31, "size": 1}, "/b": {"hash": "a" * 33, "size": 1}},
        {"/a": {"hash": "a" * 32, "size": -1}},
        {"/a": {"hash": "a" * 32, "size": True}},
        {"/a": {"hash": "a" * 32, "size": 1.0}},
        {"/a": {"hash": "a" * 32, "size": limit + 1}},
        {"a": {"hash": "a" * 32, "size": 1}},
        {"/a\0b": {"hash": "a" * 32, "size": 1}},
        {"/\ud800": {"hash": "a" * 32, "size": 1}},
        {"/a": {"hash": "a" * 32}},
        {"/a": ["a" * 32, 1]},
        {"/a": {"hash": "a" * 32, "size": 1}, "/b": {"hash": "a" * 32, "size": 2}},
    ]
    for manifest in bad:
        assert well_formed(manifest, limit) is None, manifest
