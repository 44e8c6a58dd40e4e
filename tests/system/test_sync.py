"""The sync engine against the emulator over 127.0.0.1: what it uploads, deploys, and sends."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from assetsync.engine import Syncer, SyncOptions, sync
from assetsync.errors import AuthError, RequestRefused
from assetsync.events import SyncReport
from assetsync.folder.build import BuildOptions
from assetsync.folder.hashing import HashScheme
from assetsync.protocol import AssetsConfig, WorkerSpec
from assetsync.protocol.contenttypes import content_type
from assetsync.retry import Backoff
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import PAST, LiveEmulator, envelope_error, make_tree

SITE: dict[str, bytes | str] = {
    "index.html": "<h1>home</h1>",
    "about.html": "<h1>about</h1>",
    "css/site.css": "body{}",
    "js/app.js": "body{}",  # same bytes as the css: must be its own blob
    "img/logo.svg": "<svg/>",
    "empty.txt": "",
    "docs/café menü.txt": "unicode",
    ".well-known/security.txt": "contact",
    "big.bin": bytes(range(256)) * 4000,
}


def target(live: LiveEmulator, token: str | None = None) -> Target:
    return Target("api", live.api, ACCOUNT, token or live.token or "")


def options(
    tmp_path: Path, script: str = "site", namespace: str | None = None, salt: str = "", **kw: Any
) -> SyncOptions:
    build = BuildOptions(scheme=HashScheme("sha256", salt), cache_dir=str(tmp_path / "cache"))
    return SyncOptions(script=script, namespace=namespace, build=build, **kw)


def served(live: LiveEmulator, script: str, path: str, ns: str = "") -> httpx.Response:
    host = f"{script}.{ns}.localhost" if ns else f"{script}.localhost"
    return httpx.get(live.origin + path.replace(" ", "%20"), headers={"Host": host}, follow_redirects=True)


def check_preview(
    live: LiveEmulator, site: Path, files: dict[str, Any], script: str = "site", ns: str = ""
) -> None:
    for rel in files:
        r = served(live, script, "/" + rel, ns)
        assert r.status_code == 200, rel
        assert r.content == (site / rel).read_bytes(), rel
        ctype = content_type("/" + rel)
        assert r.headers.get("content-type") == (None if ctype == "application/null" else ctype), rel


def test_first_sync_uploads_everything_then_nothing_then_one_file(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", SITE)
    first = sync(str(site), options(tmp_path), target(emulator))
    assert (first.files, first.uploaded, first.skipped) == (9, 9, 0)
    assert first.deployment_id and first.sessions == 1 and first.retries == 0
    assert first.uploaded_bytes == sum(len(v if isinstance(v, bytes) else v.encode()) for v in SITE.values())
    check_preview(emulator, site, SITE)

    second = sync(str(site), options(tmp_path), target(emulator))
    assert (second.uploaded, second.skipped, second.requests) == (0, 9, 0)
    assert second.deployment_id and second.deployment_id != first.deployment_id  # deployed all the same

    make_tree(site, {"css/site.css": "body{color:red}"}, mtime=PAST + 10)
    third = sync(str(site), options(tmp_path), target(emulator))
    assert (third.uploaded, third.requests) == (1, 1)
    assert served(emulator, "site", "/css/site.css").content == b"body{color:red}"
    check_preview(emulator, site, SITE)


def test_two_tenants_with_identical_files_get_separate_blobs(tmp_path: Path, emulator: LiveEmulator) -> None:
    files = {"index.html": "same for everyone", "a.css": "x"}
    a = make_tree(tmp_path / "a", files)
    b = make_tree(tmp_path / "b", files)
    ra = sync(str(a), options(tmp_path, "tenant-a", "ns", salt="tenant-a"), target(emulator))
    rb = sync(str(b), options(tmp_path, "tenant-b", "ns", salt="tenant-b"), target(emulator))
    assert ra.uploaded == rb.uploaded == 2  # nothing shared across tenants
    # Unsalted, the second tenant would have uploaded nothing:
    c = make_tree(tmp_path / "c", files)
    rc = sync(str(c), options(tmp_path, "tenant-c", "ns"), target(emulator))
    rd = sync(str(c), options(tmp_path, "tenant-d", "ns"), target(emulator))
    assert (rc.uploaded, rd.uploaded) == (2, 0)
    check_preview(emulator, a, files, "tenant-a", "ns")
    check_preview(emulator, b, files, "tenant-b", "ns")


def test_request_level_protocol(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", SITE)
    report = sync(str(site), options(tmp_path, concurrency=2), target(recorded))
    reqs = recorded.app.requests
    session = [r for r in reqs if r["path"].endswith("/assets-upload-session")]
    uploads = [r for r in reqs if r["path"].endswith("/workers/assets/upload")]
    deploys = [r for r in reqs if r["method"] == "PUT"]
    assert len(session) == 1 and len(deploys) == 1 and len(uploads) == report.requests >= 1
    # The session: the API token, JSON, the manifest as `assetsync manifest` prints it.
    assert session[0]["headers"]["authorization"] == f"Bearer {recorded.token}"
    assert session[0]["headers"]["content-type"] == "application/json"
    manifest = json.loads(session[0]["body"])["manifest"]
    assert set(manifest) == {"/" + k for k in SITE}
    assert manifest["/css/site.css"]["hash"] != manifest["/js/app.js"]["hash"]
    by_hash = {e["hash"]: p for p, e in manifest.items()}
    seen = set()
    for up in uploads:
        assert up["query"] == "base64=true"
        auth = up["headers"]["authorization"]
        assert auth.startswith("Bearer ey") and auth != f"Bearer {recorded.token}"  # the upload JWT
        assert int(up["headers"]["content-length"]) == len(up["body"])
        assert "transfer-encoding" not in up["headers"]
        boundary = re.search(r"boundary=(\S+)", up["headers"]["content-type"]).group(1)  # type: ignore[union-attr]
        parts = up["body"].split(b"--" + boundary.encode())[1:-1]
        for part in parts:
            head, _, body = part.partition(b"\r\n\r\n")
            name = re.search(rb'name="([0-9a-f]{32})"; filename="([0-9a-f]{32})"', head)
            assert name and name.group(1) == name.group(2)
            digest = name.group(1).decode()
            path = by_hash[digest]
            assert f"Content-Type: {content_type(path)}".encode() in head
            assert body.endswith(b"\r\n") and b"\n" not in body[:-2]
            assert base64.b64decode(body[:-2], validate=True) == (site / path[1:]).read_bytes()
            seen.add(digest)
    assert seen == set(by_hash)
    meta_part = deploys[0]["body"].split(b"\r\n\r\n", 1)[1]
    metadata = json.loads(meta_part[: meta_part.index(b"\r\n--")])
    assert deploys[0]["headers"]["authorization"] == f"Bearer {recorded.token}"
    assert set(metadata) == {"assets", "compatibility_date", "compatibility_flags"}  # assets-only
    assert metadata["assets"]["config"] == {}
    # One session: its upload token on every upload, its completion token in the deploy (read
    # here from the tokens' claims, not through the emulator's checks, which the deploy passed).
    (upload_jwt,) = {up["headers"]["authorization"].removeprefix("Bearer ") for up in uploads}
    tokens = (upload_jwt, metadata["assets"]["jwt"])
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in tokens]
    assert [(c["kind"], c["acct"], c["ns"], c["script"]) for c in claims] == [
        ("upload", ACCOUNT, None, "site"),
        ("completion", ACCOUNT, None, "site"),
    ]
    assert claims[0]["sid"] == claims[1]["sid"]


def test_worker_metadata_and_modules(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "hi"})
    from assetsync.protocol import Module

    spec = WorkerSpec(
        main_module="index.js",
        assets_binding="STATIC",
        bindings=({"type": "plain_text", "name": "X", "text": "y"},),
        compatibility_date="2025-03-04",
        compatibility_flags=("nodejs_compat",),
        tags=("t1",),
        assets=AssetsConfig(
            html_handling="none",
            not_found_handling="404-page",
            run_worker_first=("/api/*",),
            redirects="/a /b 301\n",
        ),
    )
    mods = (Module("index.js", "application/javascript+module", b"export default {}"),)
    sync(str(site), options(tmp_path, worker=spec, modules=mods), target(recorded))
    (put,) = [r for r in recorded.app.requests if r["method"] == "PUT"]
    body = put["body"]
    meta = json.loads(body.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    assert meta["main_module"] == "index.js"
    assert meta["bindings"] == [
        {"type": "plain_text", "name": "X", "text": "y"},
        {"name": "STATIC", "type": "assets"},
    ]
    assert meta["keep_bindings"] == ["secret_text", "secret_key"]
    assert meta["compatibility_date"] == "2025-03-04" and meta["compatibility_flags"] == ["nodejs_compat"]
    assert meta["tags"] == ["t1"]
    assert meta["assets"]["config"] == {
        "html_handling": "none",
        "not_found_handling": "404-page",
        "run_worker_first": ["/api/*"],
        "_redirects": "/a /b 301\n",
    }
    assert body.index(b'name="metadata"') < body.index(b'name="index.js"; filename="index.js"')
    assert b"Content-Type: application/javascript+module" in body


def sync_waiting(
    site: Path, options: SyncOptions, target: Target, waits: list[float], **kw: Any
) -> SyncReport:
    """:func:`~assetsync.engine.sync`, except that each back-off is noted in ``waits`` instead of
    slept: what the engine asked to wait, whatever it is, without the test waiting for it."""

    async def sleep(delay: float) -> None:
        waits.append(delay)

    async def main() -> SyncReport:
        client = target.client(timeout=options.timeout)
        try:
            return await Syncer(str(site), options, target, client, sleep=sleep, **kw).run()
        finally:
            await client.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize(("asked", "waited"), [("7", 7.0), ("86400", Backoff().retry_after_cap)])
def test_retries_5xx_and_waits_out_429_retry_after_up_to_a_cap(
    tmp_path: Path, recorded: LiveEmulator, asked: str, waited: float
) -> None:
    """The 429's Retry-After is the wait (a day is cut to the cap); the 5xx get the back-off."""
    site = make_tree(tmp_path / "site", SITE)
    recorded.app.faults += [
        ("POST", "/assets-upload-session", envelope_error(500, 10013, "unknown error")),
        ("POST", "/workers/assets/upload", envelope_error(429, 10429, "slow down", [("Retry-After", asked)])),
        ("PUT", "/workers/scripts/site", envelope_error(502, 10013, "bad gateway")),
    ]
    waits: list[float] = []
    report = sync_waiting(site, options(tmp_path), target(recorded), waits)
    assert report.retries == 3 and report.deployment_id
    assert [r.get("fault") for r in recorded.app.requests if r.get("fault")] == [500, 429, 502]
    first_backoff = Backoff().base  # the first retry's jittered back-off is at most this
    assert waits[1] == waited and waits[0] <= first_backoff and waits[2] <= first_backoff
    check_preview(recorded, site, SITE)


def test_expired_upload_token_opens_a_fresh_session(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", SITE)
    recorded.app.faults.append(
        ("POST", "/workers/assets/upload", envelope_error(401, 10001, "the upload token has expired"))
    )
    report = sync(str(site), options(tmp_path), target(recorded))
    assert report.sessions == 2 and report.deployment_id
    check_preview(recorded, site, SITE)


def test_result_null_is_retried_then_reported(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"a.txt": "a"})
    null = (
        200,
        [("content-type", "application/json")],
        b'{"success": true, "errors": null, "messages": null, "result": null}',
    )
    recorded.app.faults += [("POST", "/assets-upload-session", null)] * 6
    from assetsync.errors import ProtocolError

    with pytest.raises(ProtocolError, match="without an upload token"):
        sync(str(site), options(tmp_path, backoff=_fast()), target(recorded))
    assert not [r for r in recorded.app.requests if r["method"] == "PUT"]  # nothing deployed


def _fast() -> Any:
    return Backoff(base=0.001, cap=0.002)


def test_fatal_errors_are_not_retried_and_nothing_deploys(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", SITE)
    with pytest.raises(AuthError, match="HTTP 401"):
        sync(str(site), options(tmp_path), target(recorded, token="wrong"))
    # Each request tried once: the session, and the workers.dev lookups that go out with it.
    sent = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in recorded.app.requests]
    assert sorted(sent) == [("GET", "subdomain"), ("GET", "subdomain"), ("POST", "assets-upload-session")]
    recorded.app.faults.append(("POST", "/workers/assets/upload", envelope_error(400, 10021, "bad part")))
    with pytest.raises(RequestRefused, match="bad part"):
        sync(str(site), options(tmp_path), target(recorded))
    assert not [r for r in recorded.app.requests if r["method"] == "PUT"]


def test_dry_run_asks_but_sends_nothing(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", SITE)
    report = sync(str(site), options(tmp_path, dry_run=True), target(recorded))
    assert report.dry_run and sorted(p for req in report.plan for p in req) == sorted("/" + k for k in SITE)
    assert [r["path"].rsplit("/", 1)[-1] for r in recorded.app.requests] == ["assets-upload-session"]
    offline = sync(str(site), options(tmp_path, dry_run=True, offline=True), target(recorded))
    assert offline.files == 9 and len(recorded.app.requests) == 1


def test_file_changed_after_hashing_is_never_sent_under_the_old_hash(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    from assetsync.events import Restarting, SessionOpened

    site = make_tree(tmp_path / "site", SITE)
    edits = iter([b"new bytes, after the manifest was built"])
    events: list[Any] = []

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, SessionOpened):
            data = next(edits, None)
            if data is not None:  # between the session and the upload: the worst moment
                make_tree(site, {"css/site.css": data}, mtime=PAST + 99)

    report = sync(str(site), options(tmp_path, concurrency=1), target(recorded), on_event=on_event)
    assert report.sessions == 2 and any(isinstance(e, Restarting) and "changed" in e.reason for e in events)
    assert served(recorded, "site", "/css/site.css").content == b"new bytes, after the manifest was built"
    # No upload request ever completed a part for the stale hash of css/site.css.
    first_manifest = json.loads(recorded.app.requests[0]["body"])["manifest"]
    stale = first_manifest["/css/site.css"]["hash"]
    store = recorded.emulator.store
    assert store.present(f"acct:{ACCOUNT}", [stale]) == {}
    check_preview(recorded, site, SITE)


def test_renderer_modes() -> None:
    import io

    from assetsync.cli.render import Renderer
    from assetsync.events import Built, Deployed, Retrying, SessionOpened, SyncReport, Uploaded

    out = io.StringIO()
    r = Renderer("lines", out)
    for e in (
        Built(3, 300, 3, 0, 0, 0.01),
        SessionOpened(3, 2, 200, 1),
        Uploaded(200, 2),
        Retrying("deploying", 1, 0.5, "HTTP 502"),
        Deployed("site", None, "d1", 0.02),
    ):
        r(e)
    r.finish(SyncReport("emulator", "local", "site", None, preview_url="http://site.localhost:8787/"))
    text = out.getvalue()
    assert "Uploading 2 of 3 files (200 B) in 1 request" in text and "retry 1: deploying in 0.5s" in text
    assert "Deployed site" in text and "Preview: http://site.localhost:8787/" in text and "\r" not in text
    bar = io.StringIO()
    r = Renderer("bar", bar)
    r(SessionOpened(3, 2, 200, 1))
    r(Uploaded(200, 2))
    assert "[########################] 2/2 files" in bar.getvalue()
    quiet = io.StringIO()
    r = Renderer("quiet", quiet)
    r(SessionOpened(3, 2, 200, 1))
    assert quiet.getvalue() == ""


def test_progress_shows_the_links_recent_rate_and_an_eta_by_it() -> None:
    """On a slow link CI logs get a progress line every 10 s; the rate is the last seconds' (the
    link's now, not an average over a faster start), and the ETA goes by it."""
    import io

    from assetsync.cli.render import Renderer
    from assetsync.events import Deployed, SessionOpened, Uploaded

    now = [0.0]
    out = io.StringIO()
    r = Renderer("lines", out, clock=lambda: now[0])
    r(SessionOpened(10, 10, 4_000_000, 4))
    r(Uploaded(1_000_000))  # a burst into buffers at the start
    for _ in range(20):  # then 50 KB/s for 20 s
        now[0] += 1.0
        r(Uploaded(50_000))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("uploading:")]
    assert len(lines) == 2  # at 10 s and 20 s, not per event
    assert lines[-1] == "uploading: 1.9 MiB/3.8 MiB  48.8 KiB/s  ETA 40s"
    r(Uploaded(-50_000))  # a failed try's bytes: taken from the total, not from the rate
    r(Deployed("site", None, None, 0.5))
    assert "in 19.50s at 200.3 KiB/s" in out.getvalue()
    bar = io.StringIO()
    r = Renderer("bar", bar, clock=lambda: 5.0)
    r(SessionOpened(10, 10, 4_000_000, 4))
    r(Uploaded(1000))
    assert "measuring the link" in bar.getvalue()
