"""Previews kept apart by account, over real sockets: the same script name deployed under several
accounts (and in a namespace of two of them) is served by each full address, a short address is
served only when it names one script, and the index shows every account's row."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from assetsync.engine import SyncOptions, sync
from assetsync.folder.build import BuildOptions
from assetsync.protocol.previews import PreviewAddress
from assetsync.wire.target import LOCAL_ACCOUNT, Target

from ..helpers import LiveEmulator, run_cli
from .test_preview import serve_command

ACCOUNTS = [f"{d}" * 32 for d in "abcd"]  # four Cloudflare-shaped ids: 32 lowercase hex
NS = "tenants"


def deploy(live: LiveEmulator, tmp: Path, account: str, script: str = "site", ns: str | None = None) -> str:
    """Publish a site whose pages name ``account`` (and ``ns``) with the library over HTTP; its marker."""
    marker = f"{account}/{ns or '-'}/{script}"
    folder = tmp / marker.replace("/", "_")
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(f"<h1>{marker}</h1>")
    (folder / "about.html").write_text(f"<p>about {marker}</p>")
    options = SyncOptions(script=script, namespace=ns, build=BuildOptions(cache_dir=str(tmp / "cache")))
    sync(str(folder), options, Target("api", live.api, account, live.token))
    return marker


def by_host(live: LiveEmulator, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{live.origin}{path}", headers={"Host": host}, timeout=30)


def by_path(live: LiveEmulator, segment: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{live.origin}/__preview/{segment}{path}", timeout=30)


@pytest.fixture
def four(tmp_path: Path, emulator: LiveEmulator) -> dict[tuple[str, str], str]:
    """``site`` under four accounts, ``site`` in namespace ``tenants`` of the first two."""
    markers = {(a, ""): deploy(emulator, tmp_path, a) for a in ACCOUNTS}
    markers |= {(a, NS): deploy(emulator, tmp_path, a, ns=NS) for a in ACCOUNTS[:2]}
    return markers


def test_each_full_address_serves_its_own_accounts_site(
    emulator: LiveEmulator, four: dict[tuple[str, str], str]
) -> None:
    for (account, ns), marker in four.items():
        address = PreviewAddress("site", ns, account)
        host = address.host()
        assert host is not None
        assert by_host(emulator, host).text == f"<h1>{marker}</h1>"
        assert by_host(emulator, host.upper(), "/about").text == f"<p>about {marker}</p>"  # any case
        assert by_path(emulator, address.segment(), "/about").text == f"<p>about {marker}</p>"
        # A redirect stays on the same account's address.
        r = by_path(emulator, address.segment(), "/about.html")
        assert (r.status_code, r.headers["location"]) == (307, f"/__preview/{address.segment()}/about")
    assert four[(ACCOUNTS[0], NS)] != four[(ACCOUNTS[0], "")]  # the namespace is its own site


def test_a_short_address_several_accounts_share_lists_each_full_address(
    emulator: LiveEmulator, four: dict[tuple[str, str], str]
) -> None:
    r = by_host(emulator, f"site.localhost:{emulator.port}", "/about?x=1")
    assert r.status_code == 300 and "location" not in r.headers
    assert r.headers["cache-control"] == "no-store"
    assert "about " not in r.text  # no account's page stands in for the others'
    for account in ACCOUNTS:
        assert f"http://site.{account}.localhost:{emulator.port}/about?x=1" in r.text
        assert f"{emulator.origin}/__preview/site@{account}/about?x=1" in r.text
    # The path style lists path-style links on the same origin; the namespaced short form lists two.
    r = by_path(emulator, f"site.{NS}", "/")
    assert r.status_code == 300
    links = re.findall(r"href='([^']+)'", r.text)
    assert links == [
        f"http://site.{NS}.{ACCOUNTS[0]}.localhost:{emulator.port}/",
        f"/__preview/site.{NS}@{ACCOUNTS[0]}/",
        f"http://site.{NS}.{ACCOUNTS[1]}.localhost:{emulator.port}/",
        f"/__preview/site.{NS}@{ACCOUNTS[1]}/",
    ]
    for link in links:  # each one serves its own account's site
        url = urlsplit(link)
        # Host style: sent to the emulator's socket with that Host; path style: as it is.
        got = by_host(emulator, url.netloc, url.path) if url.hostname else httpx.get(emulator.origin + link)
        account = next(a for a in ACCOUNTS if a in link)
        assert got.text == f"<h1>{account}/{NS}/site</h1>"


def test_the_choice_page_escapes_the_path_it_was_asked(
    emulator: LiveEmulator, four: dict[tuple[str, str], str]
) -> None:
    r = httpx.get(f"{emulator.origin}/x'onmouseover='alert(1)", headers={"Host": "site.localhost"})
    assert r.status_code == 300
    assert "'onmouseover" not in r.text and "&#x27;onmouseover=&#x27;alert(1)" in r.text


def test_a_short_address_means_the_default_account_then_the_only_one(tmp_path: Path) -> None:
    with LiveEmulator(tmp_path / "d", default_account=ACCOUNTS[2]) as live:
        markers = [deploy(live, tmp_path, a) for a in ACCOUNTS[:3]]
        solo = deploy(live, tmp_path, ACCOUNTS[1], script="solo")
        assert by_host(live, "site.localhost").text == f"<h1>{markers[2]}</h1>"  # the default account's
        assert by_path(live, "site").text == f"<h1>{markers[2]}</h1>"
        assert by_host(live, "solo.localhost").text == f"<h1>{solo}</h1>"  # only one account has it
        assert by_host(live, f"site.{ACCOUNTS[0]}.localhost").text == f"<h1>{markers[0]}</h1>"
        missing = by_host(live, f"solo.{ACCOUNTS[0]}.localhost")
        assert missing.status_code == 404 and f"of account &#x27;{ACCOUNTS[0]}&#x27;" in missing.text
        assert by_path(live, f"solo@{ACCOUNTS[0]}").status_code == 404  # not the other account's


def test_the_index_has_a_row_per_account_with_both_addresses(
    emulator: LiveEmulator, four: dict[tuple[str, str], str]
) -> None:
    page = httpx.get(f"{emulator.origin}/").text
    rows = re.findall(r"<tr><td><code>([0-9a-f]{32})</code></td><td>([^<]*)</td><td>([^<]*)</td>", page)
    expected = [(a, "&ndash;", "site") for a in ACCOUNTS] + [(a, NS, "site") for a in ACCOUNTS[:2]]
    assert rows == sorted(expected, key=lambda r: (r[0], r[1] != "&ndash;"))  # by account, plain first
    for account in ACCOUNTS:
        assert f"http://site.{account}.localhost:{emulator.port}/" in page
        assert f"/__preview/site@{account}/" in page
    assert "http://site.localhost" not in page  # the short address names no one of them


def test_sync_prints_the_address_serve_gives_the_local_accounts_site(tmp_path: Path) -> None:
    """``sync`` without credentials deploys to the local account and prints the short address;
    ``assetsync serve`` must send that address to that site though another account has one too."""
    data, folder = tmp_path / "data", tmp_path / "mine" / "site"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<h1>mine</h1>")
    done = run_cli(
        "sync", str(folder), "--local", "--local-data", str(data), "--cache-dir", str(tmp_path / "c")
    )
    assert done.returncode == 0, done.stderr
    assert "Preview: http://site.localhost:8787/" in done.stderr
    with serve_command(data) as banner:
        api = next(line.split()[-1] for line in banner if "API base:" in line)
        origin = api.removesuffix("/client/v4")
        token = (data / "api-token").read_text().strip()
        other = tmp_path / "other"
        other.mkdir()
        (other / "index.html").write_text("<h1>other</h1>")
        options = SyncOptions(script="site", build=BuildOptions(cache_dir=str(tmp_path / "c2")))
        sync(str(other), options, Target("api", api, ACCOUNTS[0], token))
        assert httpx.get(origin, headers={"Host": "site.localhost"}).text == "<h1>mine</h1>"
        assert httpx.get(f"{origin}/__preview/site@{LOCAL_ACCOUNT}/").text == "<h1>mine</h1>"
        other_host = f"site.{ACCOUNTS[0]}.localhost"
        assert httpx.get(origin, headers={"Host": other_host}).text == "<h1>other</h1>"


def test_live_reload_names_the_account_so_another_accounts_deploy_reloads_nothing(tmp_path: Path) -> None:
    """In dev mode a page reloads on a notice carrying its own site's key; a deploy of the same
    script name under another account carries that account's key, which the page ignores."""
    import json
    import queue
    import threading

    with LiveEmulator(tmp_path / "data", dev=True) as live:
        deploy(live, tmp_path / "a", ACCOUNTS[0])
        page = by_host(live, f"site.{ACCOUNTS[0]}.localhost").text
        assert json.dumps(f"{ACCOUNTS[0]}/site") in page  # the key the page reloads on
        notices: queue.Queue[str] = queue.Queue()
        listening = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", f"{live.origin}/__assetsync/livereload", timeout=30) as r:
                for line in r.iter_lines():
                    listening.set()  # the stream's first line (retry:) came: the page is subscribed
                    if line.startswith("data: "):
                        notices.put(json.loads(line[6:]))

        threading.Thread(target=listen, daemon=True).start()
        assert listening.wait(30)
        deploy(live, tmp_path / "b", ACCOUNTS[1])
        assert notices.get(timeout=30) == f"{ACCOUNTS[1]}/site"
        deploy(live, tmp_path / "a2", ACCOUNTS[0])
        assert notices.get(timeout=30) == f"{ACCOUNTS[0]}/site"
