"""Syncs through a shaped link: slow uplinks shared by every request, a link that stalls, resets
mid-body. Each runs the client against a live emulator through
:class:`~assetsync.emulator.link.LinkProxy`, a real TCP proxy on 127.0.0.1, and checks the result
in the emulator's store (:func:`~tests.sites.assert_deployed`).

No test here asserts on speed: a slow link is made slow by the proxy, and what is checked is
that the sync succeeds, fails as it should, or sends what it should.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assetsync.emulator.api import Limits
from assetsync.emulator.link import LinkProxy, LinkSpec
from assetsync.engine import SyncOptions, sync
from assetsync.errors import NetworkError
from assetsync.events import Event, SessionOpened, SyncReport, Uploaded
from assetsync.folder.build import BuildOptions
from assetsync.retry import Backoff
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, make_tree
from ..sites import assert_deployed

FAST = Backoff(base=0.05, cap=0.1)


@contextmanager
def linked(tmp_path: Path, spec: LinkSpec, **config: Any) -> Iterator[tuple[LiveEmulator, LinkProxy]]:
    """A live emulator over ``tmp_path`` and the link ``spec`` in front of it."""
    with (
        LiveEmulator(tmp_path / "emulator", **config) as live,
        LinkProxy(("127.0.0.1", live.port), spec) as link,
    ):
        yield live, link


def site_of(tmp_path: Path, files: int, size: int) -> Path:
    """``files`` files of ``size`` random bytes each (nothing compresses on the way)."""
    return make_tree(tmp_path / "site", {f"f{i:03d}.bin": os.urandom(size) for i in range(files)})


def sync_through(
    tmp_path: Path, site: Path, live: LiveEmulator, link: LinkProxy, on_event: Any = None, **kw: Any
) -> SyncReport:
    kw.setdefault("backoff", FAST)
    options = SyncOptions(script="site", build=BuildOptions(cache_dir=str(tmp_path / "cache")), **kw)
    target = Target("api", f"{link.url}/client/v4", ACCOUNT, live.token)
    return sync(str(site), options, target, on_event=on_event)


def test_a_site_many_times_the_links_bandwidth_syncs_with_default_flags(tmp_path: Path) -> None:
    """1.5 MB (2 MB of base64) over a 256 kB/s uplink shared by four requests in flight: about
    eight seconds of link, every request a quarter of it."""
    site = site_of(tmp_path, 12, 128 << 10)
    with linked(tmp_path, LinkSpec.parse("256kB/40ms"), limits=Limits(bucket_files=3)) as (live, link):
        report = sync_through(tmp_path, site, live, link, backoff=Backoff())
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.uploaded == 12 and report.sessions == 1
    assert report.upload_rate is not None and report.upload_rate > 0
    assert link.stats.bytes_up > 12 * (128 << 10) * 4 // 3  # it all went through the link


def test_a_request_that_shares_a_slow_link_is_not_a_stall(tmp_path: Path) -> None:
    """Four requests of 512 KiB in flight on a 1 MB/s link take ~3 s each; with --timeout 1 a
    deadline from any fixed rate would fail them all, though bytes never stop moving. Progress
    is what counts: each write is a fraction of a second of the request's share."""
    site = site_of(tmp_path, 16, 128 << 10)
    with linked(tmp_path, LinkSpec.parse("1MB/20ms"), limits=Limits(bucket_files=4)) as (live, link):
        report = sync_through(tmp_path, site, live, link, timeout=1.0)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
    assert report.uploaded == 16


def test_a_stalled_link_is_reported_within_the_timeout_plus_back_off(tmp_path: Path) -> None:
    site = site_of(tmp_path, 8, 256 << 10)
    timeout, attempts = 2.0, 2
    with linked(tmp_path, LinkSpec.parse("2MB/10ms")) as (live, link):

        def stall_once_uploading(event: Event) -> None:
            if isinstance(event, Uploaded) and event.bytes > 0 and link.stats.bytes_up > 0:
                link.stall()

        t0 = time.monotonic()
        with pytest.raises(NetworkError) as caught:
            sync_through(tmp_path, site, live, link, stall_once_uploading, timeout=timeout, attempts=attempts)
        took = time.monotonic() - t0
        link.resume()
        assert live.emulator.store.script(ACCOUNT, "", "site") is None  # nothing deployed
    message = str(caught.value)
    assert f"no bytes of the request moved for {timeout:g}s: the link stalled" in message
    assert f"Gave up after {attempts} attempts" in message
    # Two tries of at most --timeout each, the back-off between them (at most 0.1 s here), and
    # the connection set-up: a generous bound, for a loaded machine, that a hang would still miss.
    assert took < attempts * (timeout + FAST.cap) + 10


def test_a_reset_mid_body_resends_only_what_had_not_arrived(tmp_path: Path) -> None:
    """One request of 16 parts (5.6 MB of body) on a 1 MB/s link, cut after 3 MB: the parts that
    had finished well before the cut are not sent again, and nothing is lost."""
    site = site_of(tmp_path, 16, 256 << 10)
    with linked(tmp_path, LinkSpec.parse("1MB/20ms")) as (live, link):

        def cut_the_upload(event: Event) -> None:
            if isinstance(event, SessionOpened):
                link.cut(after=3_000_000)

        report = sync_through(tmp_path, site, live, link, cut_the_upload)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        assert link.stats.resets == 1
    sent_before_cut = 3_000_000 * 3 // 4  # file bytes in 3 MB of base64, about
    assert report.retries == 1 and report.sessions == 1
    assert 0 < report.resent_bytes < sent_before_cut // 2  # resending it all would be ~2.25 MB
    assert report.uploaded == 16 and report.uploaded_bytes == 16 * (256 << 10)


def test_a_request_cut_again_and_again_goes_in_smaller_requests(tmp_path: Path) -> None:
    site = site_of(tmp_path, 16, 64 << 10)
    with linked(tmp_path, LinkSpec()) as (live, link):
        sessions: list[SessionOpened] = []

        def cut_each_try(event: Event) -> None:
            # The first session only: on loopback a cut can land before parts taken as received
            # reached the server; the fresh session that then settles it must not be cut again.
            if isinstance(event, SessionOpened):
                sessions.append(event)
                if len(sessions) == 1:
                    link.cut(after=200_000, count=3)

        # Into a namespace: an account's script also asks for its workers.dev address, beside
        # the session and without retries, and a pacer that holds those asks until the session
        # answers lets them take the cuts meant for the upload.
        report = sync_through(tmp_path, site, live, link, cut_each_try, namespace="links")
        assert_deployed(live.emulator.store, ACCOUNT, "site", site, namespace="links")
    assert report.retries == 3
    assert report.requests >= 2  # one planned request, sent in halves after its second failure


@pytest.mark.parametrize("seed", [1, 2])
def test_random_resets_lose_nothing(tmp_path: Path, seed: int) -> None:
    """A third of all requests cut by a reset somewhere in their first MiB: sessions, uploads and
    deploys alike. The sync ends with every file deployed under its hash."""
    site = site_of(tmp_path, 40, 48 << 10)
    spec = LinkSpec.parse(f"4MB/10ms,reset=33%,seed={seed}")
    with linked(tmp_path, spec, limits=Limits(bucket_files=5)) as (live, link):
        report = sync_through(tmp_path, site, live, link, attempts=10)
        assert_deployed(live.emulator.store, ACCOUNT, "site", site)
        assert link.stats.resets >= 3  # the faults did happen
    assert report.retries >= 3
