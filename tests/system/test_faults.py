"""Faults on the wire, expiring tokens, and files changing under a sync: nothing lost, nothing
stale, or a clear error with nothing deployed.

Every sync here goes through :class:`~tests.faultproxy.FaultProxy`, a real proxy on 127.0.0.1 in
front of a live emulator, and is checked with :func:`~tests.sites.assert_deployed`, which reads the
emulator's store and recomputes every hash from the folder.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assetsync.emulator.api import Limits
from assetsync.engine import Syncer, SyncOptions, sync
from assetsync.errors import ApiError, ServerError
from assetsync.events import Event, Restarting, SessionOpened, SyncReport, Uploaded
from assetsync.folder.build import BuildOptions, build
from assetsync.retry import Backoff
from assetsync.wire.target import Target

from ..conftest import ACCOUNT, SOAK, soak_runs
from ..faultproxy import Exchange, Fault, FaultPlan, FaultProxy, Plan
from ..helpers import PAST, LiveEmulator, make_tree, run_cli
from ..sites import assert_deployed, asset_hash, never_stored, synthetic_site

FAST = Backoff(base=0.001, cap=0.01)  # back-off in tests: the schedule's shape, not its length
RATE = 0.3
# Both sites take about 200 upload requests (the emulator's buckets are kept small), so every
# fault kind lands several times per sync. CI syncs the small one; ASSETSYNC_SOAK=N syncs the
# 10,000-file site N times, each under another seed.
CI_FILES, CI_BUCKET = 2_000, 10
SOAK_FILES, SOAK_BUCKET = 10_000, 50
HOLD = 30.0  # seconds a hook waits for its event before the test fails: a hang guard only
TOKEN_LOST = "every upload was accepted, but no answer carried the completion token"


@contextmanager
def proxied(
    tmp_path: Path, plan: Plan | None = None, data: str = "emulator-data", **config: Any
) -> Iterator[tuple[LiveEmulator, FaultProxy]]:
    """A live emulator over ``tmp_path/data`` and a fault proxy in front of it."""
    with LiveEmulator(tmp_path / data, **config) as live, FaultProxy(live.port, plan) as proxy:
        yield live, proxy


def target(live: LiveEmulator, proxy: FaultProxy) -> Target:
    assert live.token
    return Target("api", proxy.api, ACCOUNT, live.token)


def options(tmp_path: Path, **kw: Any) -> SyncOptions:
    kw.setdefault("backoff", FAST)
    # Generous, so a slow moment of a busy machine is never taken for a stall: the tests that
    # inject stalls set a short timeout themselves.
    kw.setdefault("timeout", 10.0)
    return SyncOptions(script="site", build=BuildOptions(cache_dir=str(tmp_path / "cache")), **kw)


def run(
    tmp_path: Path,
    site: Path,
    live: LiveEmulator,
    proxy: FaultProxy,
    on_event: Callable[[Event], None] | None = None,
    **kw: Any,
) -> SyncReport:
    return sync(str(site), options(tmp_path, **kw), target(live, proxy), on_event=on_event)


def nothing_deployed(live: LiveEmulator) -> bool:
    return live.emulator.store.all_live() == []


def first_sighting_of(route: str, fault: Fault, times: int = 1) -> Plan:
    """A plan that breaks the first request of ``route`` to arrive, its first ``times`` tries."""
    chosen: list[str] = []

    def plan(r: str, identity: str, seen: int) -> tuple[Fault | None, int]:
        if r != route:
            return None, 0
        if not chosen:
            chosen.append(identity)
        return (fault if identity == chosen[0] and seen < times else None), 0

    return plan


# -- random faults: the soak ---------------------------------------------------------------


@pytest.mark.timeout(120 + 60 * SOAK)  # a soak of N seeds needs N times the time
def test_random_faults_on_the_wire_lose_nothing(tmp_path: Path, tried: Callable[..., None]) -> None:
    """30% of requests broken at random, every kind: each sync completes, and the live version
    is exactly the folder, byte for byte."""
    runs = soak_runs(1)
    files, bucket = (SOAK_FILES, SOAK_BUCKET) if SOAK else (CI_FILES, CI_BUCKET)
    tried("faults", f"{RATE:.0%} of requests faulted (12 kinds), {files:,}-file site", runs)
    site = tmp_path / "site"
    synthetic_site(site, files, seed=7)
    totals: Counter[Fault] = Counter()
    requests = retries = verified = 0
    t0 = time.perf_counter()
    for seed in range(runs):
        plan, limits = FaultPlan(RATE, seed=seed), Limits(bucket_files=bucket)
        restarts: list[Restarting] = []
        with proxied(tmp_path, plan, f"emulator-{seed}", limits=limits) as (live, proxy):
            report = run(  # stalls are injected: a short timeout keeps each to a second
                tmp_path, site, live, proxy, timeout=1.0, on_event=_collect(Restarting, restarts)
            )
            verified += assert_deployed(live.emulator.store, ACCOUNT, "site", site)
            exchanges = list(proxy.exchanges)
        faulted = [e for e in exchanges if e.fault is not None]
        assert 0.2 < len(faulted) / len(exchanges) < 0.4, len(faulted) / len(exchanges)
        # Every fault was noticed and retried, but an upload answered `result: null`: to the
        # client that is an upload accepted without the completion token, which is no error...
        noticed = [e for e in faulted if not (e.fault is Fault.NULL_RESULT and e.route == "upload")]
        assert report.retries >= len(noticed)
        # ...unless it was the answer carrying the token: then, and only then, a fresh session.
        assert {r.reason for r in restarts} <= {TOKEN_LOST}
        assert report.sessions == 1 + len(restarts)
        if restarts:
            assert any(e.fault is Fault.NULL_RESULT and e.upstream_status == 201 for e in faulted)
        _assert_retry_after_honoured(exchanges)
        totals.update(e.fault for e in faulted if e.fault is not None)
        requests += len(exchanges)
        retries += report.retries
    assert set(totals) == set(Fault), f"never injected: {set(Fault) - set(totals)}"
    seconds = time.perf_counter() - t0
    print(
        f"\n{runs} syncs of {files:,} files through {requests:,} requests, {sum(totals.values()):,} "
        f"faulted, {retries:,} retries; {verified:,} bytes verified; {seconds:.1f}s\n"
        + "\n".join(f"  {n:5d}  {kind.value}" for kind, n in totals.most_common())
    )


def _collect(kind: type[Any], into: list[Any]) -> Callable[[Event], None]:
    return lambda event: into.append(event) if isinstance(event, kind) else None


def _assert_retry_after_honoured(exchanges: list[Exchange]) -> None:
    """The next try of a request answered 429 came no sooner than its Retry-After said."""
    following = {(e.identity, e.seen): e for e in exchanges}
    for e in exchanges:
        if e.fault is Fault.THROTTLED and e.retry_after:
            again = following.get((e.identity, e.seen + 1))
            assert again is not None and e.answered is not None
            assert again.arrived - e.answered >= e.retry_after, e.identity


# -- a request that fails again and again while the others get through ----------------------


def run_first_back_off_until_another_upload(
    tmp_path: Path, site: Path, live: LiveEmulator, proxy: FaultProxy, **kw: Any
) -> SyncReport:
    """:func:`run`, except that the first back-off lasts until another upload has gone through and
    the others are not waited: the other uploads surely succeed while the unlucky one waits, however
    the machine schedules them, and nothing hangs on the clock."""
    opts, where = options(tmp_path, **kw), target(live, proxy)

    async def main() -> SyncReport:
        another = asyncio.Event()
        backed_off: list[float] = []

        def on_event(event: Event) -> None:
            if isinstance(event, Uploaded) and event.files and backed_off:
                another.set()

        async def sleep(delay: float) -> None:
            backed_off.append(delay)
            if len(backed_off) == 1:
                await asyncio.wait_for(another.wait(), 60)

        client = where.client(timeout=opts.timeout)
        try:
            return await Syncer(str(site), opts, where, client, on_event, sleep=sleep).run()
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_request_unlucky_many_times_in_a_row_does_not_sink_the_sync(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """One upload fails as many times in a row as there are attempts, while the others succeed:
    the API is working, so that request keeps its chance. (Per-request budgets alone make a big
    sync fail at a 30% fault rate: 200 requests x 0.3^6 is a 14% chance.)"""
    tried("faults", "one upload failing 6 times in a row while others succeed")
    site = make_tree(tmp_path / "site", {f"page-{i:02d}.html": f"<p>{i}</p>" for i in range(40)})
    plan = first_sighting_of("upload", Fault.HTTP_502, times=6)
    with proxied(tmp_path, plan, limits=Limits(bucket_files=5)) as (live, proxy):
        report = run_first_back_off_until_another_upload(tmp_path, site, live, proxy, concurrency=1)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        uploads = proxy.routed("upload")
    assert report.retries == 6 and len(uploads) == 8 + 6
    assert Counter(e.identity for e in uploads).most_common(1)[0][1] == 7


def test_every_request_first_answered_with_an_html_page_is_retried(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """A gateway's HTML page with HTTP 200 is no answer from the API: asked again, not fatal."""
    tried("faults", "HTML page with HTTP 200 instead of JSON, on every route")

    def plan(route: str, identity: str, seen: int) -> tuple[Fault | None, int]:
        return (Fault.HTML_200 if seen == 0 else None), 0

    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "app.js": "go()"})
    with proxied(tmp_path, plan) as (live, proxy):
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.retries == 3  # session, upload, deploy
    # ... and the two workers.dev lookups after it, information only: tried once, nothing reported
    assert proxy.counts[Fault.HTML_200] == 5
    assert (report.workers_dev_url, report.workers_dev_enabled) == (None, None)


def test_session_answered_result_null_is_asked_again(tmp_path: Path, tried: Callable[..., None]) -> None:
    tried("faults", "upload session answered with result: null, twice")
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "app.js": "go()"})
    with proxied(tmp_path, first_sighting_of("session", Fault.NULL_RESULT, times=2)) as (live, proxy):
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.retries == 2 and report.sessions == 1 and len(proxy.routed("session")) == 3


def test_lost_completion_token_is_fetched_with_a_fresh_session(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """The upload that completed the set was stored, but its answer (201 with the completion
    token) reached the client as `result: null`: a fresh session, with nothing left to upload,
    hands out the token instead of the run failing."""
    tried("faults", "the answer carrying the completion token mangled to result: null")
    site = make_tree(tmp_path / "site", {f"p{i}.txt": f"page {i}" for i in range(10)})
    identities: list[str] = []

    def mangle_the_last_upload(route: str, identity: str, seen: int) -> tuple[Fault | None, int]:
        if route == "upload" and identity not in identities:
            identities.append(identity)
        return (Fault.NULL_RESULT if route == "upload" and identities.index(identity) == 1 else None), 0

    with proxied(tmp_path, mangle_the_last_upload, limits=Limits(bucket_files=5)) as (live, proxy):
        report = run(tmp_path, site, live, proxy, concurrency=1)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        uploads = [e.upstream_status for e in proxy.routed("upload")]
    assert uploads == [202, 201] and report.sessions == 2 and report.uploaded == 10


def test_upload_cut_mid_request_keeps_whole_parts_and_is_no_emulator_error(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """Half an upload reaches the emulator, then the connection is reset. What arrived whole is
    kept (the retry sends it again and it is accepted), the part cut short is dropped, and the
    emulator notes a client that went away, not a crash with a traceback."""
    tried("faults", "upload reset halfway: whole parts kept, no emulator error")
    files = {f"f{i}.bin": bytes([i]) * 200_000 for i in range(5)}
    site = make_tree(tmp_path / "site", files)
    records: list[logging.LogRecord] = []
    handled = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            if "/workers/assets/upload" in record.getMessage():
                handled.set()

    def hold_the_retry(e: Exchange) -> None:
        if e.route == "upload" and e.seen == 1:
            assert handled.wait(HOLD)  # the emulator is done with the request cut short

    log = logging.getLogger("assetsync.emulator")
    watch, level = Watch(), log.level
    log.addHandler(watch)
    log.setLevel(logging.INFO)
    try:
        with proxied(tmp_path, first_sighting_of("upload", Fault.RESET_REQUEST)) as (live, proxy):
            proxy.on_request = hold_the_retry
            run(tmp_path, site, live, proxy)
            assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    finally:
        log.removeHandler(watch)
        log.setLevel(level)
    assert [r.levelname for r in records if "/workers/assets/upload" in r.getMessage()] == ["INFO"]
    assert not [r for r in records if r.levelno >= logging.ERROR]


# -- permanent faults: a clear error, in bounded time, and no deploy ------------------------


@pytest.mark.parametrize("kind", list(Fault), ids=[k.name.lower() for k in Fault])
def test_permanent_fault_stops_with_a_clear_error(
    tmp_path: Path, kind: Fault, tried: Callable[..., None]
) -> None:
    tried("faults", f"every request answered with: {kind.value}")
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    with proxied(tmp_path, FaultPlan(1.0, kinds=(kind,), retry_after=(0,))) as (live, proxy):
        with pytest.raises(ApiError) as err:
            run(tmp_path, site, live, proxy, attempts=3, timeout=0.2)
        assert len(proxy.routed("session")) == 3  # exactly the attempts asked for, no more
        assert not proxy.routed("upload") and not proxy.routed("deploy")
        assert nothing_deployed(live)
    message = str(err.value)
    assert message.startswith("opening the upload session: ")
    assert message.endswith("Gave up after 3 attempts.")
    assert f"POST /accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session" in message
    assert err.value.exit_code == 7


CLI_KINDS = (Fault.HTTP_500, Fault.RESET_REQUEST, Fault.RESET_RESPONSE, Fault.STALL, Fault.THROTTLED)


@pytest.mark.parametrize("kind", CLI_KINDS, ids=[k.name.lower() for k in CLI_KINDS])
def test_cli_under_permanent_faults_exits_7_in_bounded_time(
    tmp_path: Path, kind: Fault, tried: Callable[..., None]
) -> None:
    """The real CLI, every request broken the same way: exit 7, a message naming the request,
    after exactly --attempts tries, and nothing deployed. 429s ask for 1 s, which is honoured."""
    tried("faults", f"CLI, every request answered with: {kind.value}")
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    attempts, timeout, retry_after = 2, 1.0, 1
    # Each try waits at most the timeout; between tries the back-off (<= 0.25 s for the first)
    # or the Retry-After: the bound the CLI must finish within, start-up aside.
    bound = attempts * timeout + (attempts - 1) * max(0.25, retry_after)
    plan = FaultPlan(1.0, kinds=(kind,), retry_after=(retry_after,))
    with proxied(tmp_path, plan) as (live, proxy):
        assert live.token
        t0 = time.monotonic()
        proc = run_cli(
            "sync",
            str(site),
            "--name",
            "site",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--attempts",
            str(attempts),
            "--timeout",
            str(timeout),
            env={
                "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
                "CLOUDFLARE_API_TOKEN": live.token,
                "CLOUDFLARE_API_BASE_URL": proxy.api,
                "CI": "1",
            },
        )
        elapsed = time.monotonic() - t0
        sessions = proxy.routed("session")
        assert len(sessions) == attempts and not proxy.routed("upload") and not proxy.routed("deploy")
        assert nothing_deployed(live)
    assert proc.returncode == 7, proc.stderr
    assert f"POST /accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session" in proc.stderr
    assert f"Gave up after {attempts} attempts." in proc.stderr
    assert live.token not in proc.stderr + proc.stdout
    assert elapsed < bound + 30  # a hang guard: the bound itself is checked by counting tries
    if kind is Fault.THROTTLED:
        assert sessions[1].arrived - (sessions[0].answered or 0.0) >= retry_after


def test_uploads_failing_for_good_deploy_nothing_and_the_next_run_resumes(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """One bucket's upload always fails: the others are stored, nothing is deployed, and the
    next run, with the fault gone, uploads only that bucket."""
    tried("faults", "one upload failing for good: no deploy, the next run resumes")
    files = {f"p{i:02d}.txt": f"page {i}" for i in range(20)}
    site = make_tree(tmp_path / "site", files)
    plan = first_sighting_of("upload", Fault.HTTP_503, times=1000)
    with proxied(tmp_path, plan, limits=Limits(bucket_files=5)) as (live, proxy):
        with pytest.raises(ServerError, match=r"uploading 5 files: server error \(HTTP 503"):
            run(tmp_path, site, live, proxy, attempts=3)
        assert nothing_deployed(live)
        proxy.plan = FaultPlan()
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert (report.uploaded, report.skipped) == (5, 15)


def test_deploy_failing_for_good_deploys_nothing_and_the_next_run_uploads_nothing(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    tried("faults", "deploy failing for good: no deploy, the next run uploads nothing")
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "a.css": "a{}"})
    plan = FaultPlan(1.0, kinds=(Fault.HTTP_500,), routes=frozenset({"deploy"}))
    with proxied(tmp_path, plan) as (live, proxy):
        with pytest.raises(
            ServerError, match=r"^deploying: server error \(HTTP 500.*Gave up after 3 attempts"
        ):
            run(tmp_path, site, live, proxy, attempts=3)
        assert len(proxy.routed("deploy")) == 3 and nothing_deployed(live)
        proxy.plan = FaultPlan()
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert (report.uploaded, report.requests) == (0, 0)


# -- tokens that expire ----------------------------------------------------------------------


def _expire_tokens(live: LiveEmulator) -> None:
    """Move the emulator's clock past the lifetime of every token it has issued so far."""
    ttl = live.emulator.tokens.ttl
    live.emulator.tokens.clock = lambda: time.time() + 2 * ttl


def test_upload_token_expiring_mid_upload_resumes_with_a_fresh_session(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """The upload token expires after the first of 6 uploads: the client opens a new session,
    whose buckets list only what is still missing, and finishes."""
    tried("faults", "upload token expiring mid-upload (emulator clock moved past its TTL)")
    site = make_tree(tmp_path / "site", {f"f{i:02d}.css": f"a{{order:{i}}}" for i in range(30)})
    with proxied(tmp_path, limits=Limits(bucket_files=5), token_ttl=60) as (live, proxy):

        def expire_after_first_upload(e: Exchange) -> None:
            if e.route == "upload" and len(proxy.routed("upload")) == 1:
                _expire_tokens(live)

        proxy.on_response = expire_after_first_upload
        report = run(tmp_path, site, live, proxy, concurrency=1)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        statuses = [e.upstream_status for e in proxy.routed("upload")]
    assert report.sessions == 2
    assert statuses == [202, 401, 202, 202, 202, 202, 201]  # the refused bucket was sent again
    assert report.uploaded == 30  # each blob stored once: the new session skipped the first 5


def test_completion_token_expiring_before_the_deploy_resumes_with_a_fresh_session(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """The completion token has expired when the deploy arrives: a new session (nothing left to
    upload) hands out a fresh one, and the deploy goes through."""
    tried("faults", "completion token expired when the deploy arrives")
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "a.css": "a{}"})
    with proxied(tmp_path, token_ttl=60) as (live, proxy):

        def expire_at_first_deploy(e: Exchange) -> None:
            if e.route == "deploy" and e.seen == 0:
                _expire_tokens(live)

        proxy.on_request = expire_at_first_deploy
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        deploys = [e.upstream_status for e in proxy.routed("deploy")]
        uploads = proxy.routed("upload")
    assert deploys == [401, 200] and report.sessions == 2 and len(uploads) == 1


# -- files that change while the sync runs ---------------------------------------------------

SITE = {
    "index.html": "<h1>home</h1>",
    "css/site.css": "body{color:black}",
    "docs/guide": "a file that may become a folder",
    "js/app.js": "run()",
    "img/logo.svg": "<svg/>",
}
NEW_CSS = b"body{color:white}"  # same size as the old bytes: only the stat and the bytes differ


def _modify(site: Path) -> None:
    make_tree(site, {"css/site.css": NEW_CSS}, mtime=PAST + 500)


def _delete(site: Path) -> None:
    (site / "css/site.css").unlink()


def _make_folder(site: Path) -> None:
    (site / "docs/guide").unlink()
    make_tree(site, {"docs/guide/index.html": "<h1>now a folder</h1>"})


CHANGES = {"modified": _modify, "deleted": _delete, "replaced by a folder": _make_folder}


@pytest.mark.parametrize("on_server", [False, True], ids=["to-upload", "already-on-server"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_file_changing_between_hashing_and_deploy(
    tmp_path: Path, change: str, on_server: bool, tried: Callable[..., None]
) -> None:
    """A file changes right after the session opened (its hash is in the manifest sent): the
    sync deploys the folder as it is now, never a hash whose bytes are gone. With the blob
    already on the server nothing is uploaded, so only a check before the deploy can see it."""
    where = "a blob the server already has" if on_server else "a blob still to upload"
    tried("faults", f"file {change} after hashing ({where})")
    site = make_tree(tmp_path / "site", SITE)
    with proxied(tmp_path) as (live, proxy):
        if on_server:
            run(tmp_path, site, live, proxy)
        events: list[Event] = []

        def on_event(event: Event) -> None:
            if isinstance(event, SessionOpened) and not any(isinstance(e, SessionOpened) for e in events):
                CHANGES[change](site)  # the manifest sent holds the file as it was
            events.append(event)

        report = run(tmp_path, site, live, proxy, on_event=on_event)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.sessions == 2
    assert any(isinstance(e, Restarting) and "changed" in e.reason for e in events)
    opened = [e for e in events if isinstance(e, SessionOpened)]
    assert opened[0].missing_files == (0 if on_server else len(SITE))


def test_file_rewritten_within_one_timestamp_tick_is_never_sent_under_its_old_hash(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """Timestamps come in ticks (2 s on FAT, 1 s on HFS+ and ext3, a few ms on ext4 with coarse
    kernel clocks): a same-size rewrite within one tick leaves the stat exactly as it was, so no
    stat check can see it. Simulated by handing the engine the manifest built before the rewrite
    with the stat of the file after it. The bytes themselves must give the change away."""
    tried("faults", "file rewritten without any change to its stat (coarse timestamps)")
    site = make_tree(tmp_path / "site", SITE)
    result = build(str(site), BuildOptions(use_cache=False))
    stale = result.manifest["/css/site.css"].hash
    _modify(site)
    row = result.table.paths.index("/css/site.css")
    st = (site / "css/site.css").stat()
    result.table.mtimes[row], result.table.ctimes[row] = st.st_mtime_ns, st.st_ctime_ns
    assert result.changed() is None  # as far as the stat can tell, nothing happened

    async def publish(live: LiveEmulator, proxy: FaultProxy) -> SyncReport:
        opts = SyncOptions(script="site", build=BuildOptions(use_cache=False), backoff=FAST)
        client = target(live, proxy).client()
        try:
            return await Syncer(str(site), opts, target(live, proxy), client).publish(result)
        finally:
            await client.aclose()

    with proxied(tmp_path) as (live, proxy):
        report = asyncio.run(publish(live, proxy))
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        assert never_stored(live.emulator.store, ACCOUNT, stale)
    assert report.sessions == 2


def test_file_rewritten_while_its_bytes_are_being_sent(tmp_path: Path, tried: Callable[..., None]) -> None:
    """The file is rewritten after its first MiB went out: the request is cut short before the
    part completes, so the stale hash is never stored; the new bytes are deployed."""
    tried("faults", "file rewritten while its upload is in flight")
    big = bytes(range(256)) * (16 << 10)  # 4 MiB: several writes to the connection
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "media/big.bin": big})
    stale = asset_hash(big, "/media/big.bin")
    rewritten: list[bool] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Uploaded) and event.bytes > 0 and not rewritten:
            rewritten.append(True)
            make_tree(site, {"media/big.bin": big[::-1]}, mtime=PAST + 500)

    with proxied(tmp_path) as (live, proxy):
        report = run(tmp_path, site, live, proxy, on_event=on_event)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        assert never_stored(live.emulator.store, ACCOUNT, stale)
    assert rewritten and report.sessions == 2


def test_file_changed_between_a_failed_try_and_its_retry(tmp_path: Path, tried: Callable[..., None]) -> None:
    """The first upload reaches the server but its answer is lost; before the client hears of
    it, a file of that bucket changes. The retry notices, and the new bytes are deployed."""
    tried("faults", "file changed between a lost answer and the retry")
    site = make_tree(tmp_path / "site", SITE)
    with proxied(tmp_path, first_sighting_of("upload", Fault.RESET_RESPONSE)) as (live, proxy):

        def change_before_the_client_hears(e: Exchange) -> None:
            if e.fault is Fault.RESET_RESPONSE:
                _modify(site)

        proxy.on_response = change_before_the_client_hears
        report = run(tmp_path, site, live, proxy)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.sessions == 2 and proxy.counts[Fault.RESET_RESPONSE] == 1


def test_cli_with_a_file_that_never_stops_changing_fails_clearly(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    """The file changes before every upload session is answered: after the last fresh session
    the CLI gives up with exit 4, naming the file, and deploys nothing."""
    tried("faults", "CLI, a file changing during every session: exit 4, no deploy")
    site = make_tree(tmp_path / "site", SITE)
    edits = iter(range(1, 100))

    with proxied(tmp_path) as (live, proxy):
        assert live.token

        def rewrite(e: Exchange) -> None:
            if e.route == "session":
                n = next(edits)
                make_tree(site, {"css/site.css": f"body{{order:{n:04d}}}"}, mtime=PAST + n)

        proxy.on_response = rewrite
        proc = run_cli(
            "sync",
            str(site),
            "--name",
            "site",
            "--cache-dir",
            str(tmp_path / "cache"),
            env={
                "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
                "CLOUDFLARE_API_TOKEN": live.token,
                "CLOUDFLARE_API_BASE_URL": proxy.api,
                "CI": "1",
            },
        )
        assert nothing_deployed(live) and not proxy.routed("deploy")
        sessions = len(proxy.routed("session"))
    assert proc.returncode == 4, proc.stderr
    assert "files kept changing while they were uploaded (/css/site.css changed" in proc.stderr
    assert sessions == 4


def test_hooks_hold_requests_until_released(tmp_path: Path) -> None:
    """The proxy's hooks run before the client hears anything: a held request stays held."""
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    arrived, release = threading.Event(), threading.Event()

    def hold(e: Exchange) -> None:
        if e.route == "deploy":
            arrived.set()
            assert release.wait(HOLD)

    with proxied(tmp_path) as (live, proxy):
        proxy.on_request = hold
        result: list[SyncReport] = []
        worker = threading.Thread(target=lambda: result.append(run(tmp_path, site, live, proxy)))
        worker.start()
        assert arrived.wait(HOLD)
        assert nothing_deployed(live) and not result  # held: the deploy has not reached the emulator
        release.set()
        worker.join(HOLD)
        assert result and not nothing_deployed(live)


@pytest.mark.parametrize("hook", ["on_request", "on_response"])
def test_a_failed_assertion_in_a_hook_fails_the_test(tmp_path: Path, hook: str) -> None:
    """A hook runs in the proxy, where a failed assertion only drops the connection and the
    client retries, as it should: the sync succeeds. The proxy keeps the failure and raises it
    when it closes, so the test still fails."""
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    reports: list[SyncReport] = []

    def check(e: Exchange) -> None:
        if e.route == "deploy" and e.seen == 0:
            assert False, "the hook's own check"  # noqa: B011 (the failure under test)

    failed = pytest.raises(AssertionError, match="the hook's own check")
    with failed, proxied(tmp_path) as (live, proxy):
        setattr(proxy, hook, check)
        reports.append(run(tmp_path, site, live, proxy))
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert reports[0].retries == 1  # the only sign the client had: one dropped deploy, retried
    assert proxy.failures == []  # raised once; a later check has nothing left to raise
