"""What `watch` and `dev` show: stamped lines a developer reads at a glance, each error once
until it changes, and with --json one event per line on stdout for editors and scripts."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from assetsync.cli.render import WatchOutput, deploy_line, stamp
from assetsync.events import SyncReport
from assetsync.retry import Backoff
from assetsync.watcher import DeployLine, Step

from ..helpers import LiveEmulator, cli_running, make_tree, run_cli
from .test_watch import HUGE, TIMEOUT, FakeSource, Harness, _too_large, replace_text
from .test_watch_shutdown import api_env

STAMPED = re.compile(r"^\d\d:\d\d:\d\d \S")  # HH:MM:SS, then the message
CONTINUED = re.compile(r"^ {9}.*\S")  # a message's further lines, under its first


def check_stamped(lines: list[str]) -> None:
    """Every line of the output starts with the time, or continues the message above it."""
    assert lines and STAMPED.match(lines[0]), lines
    assert [line for line in lines if not (STAMPED.match(line) or CONTINUED.match(line))] == []


def report(files: int, total: float) -> SyncReport:
    r = SyncReport("emulator", "acc", "site", None, files=files)
    r.durations["total"] = total
    return r


def test_deploy_lines_name_the_first_paths_and_the_time() -> None:
    paths = ("/a.css", "/b.js", "/c.html", "/d.png", "/e.txt")
    line = DeployLine(2, 3, 0, 5, 2048, 0.0451, report(9, 0.0123), "change", paths)
    assert deploy_line(line) == (
        "deployed: +2 ~3 -0 /a.css, /b.js, /c.html +2 more, uploaded 5 files (2.0 KiB), in 12 ms; "
        "live 45 ms after the first change"
    )
    one = DeployLine(0, 0, 1, 0, 0, 0.02, report(8, 0.004), "change", ("/gone.html",))
    assert (
        deploy_line(one)
        == "deployed: +0 ~0 -1 /gone.html, nothing to upload, in 4 ms; live 20 ms after the first change"
    )
    start = DeployLine(9, 0, 0, 9, 4096, 0.3, report(9, 0.25), "start", paths)
    assert deploy_line(start) == "live: 9 files, uploaded 9 files (4.0 KiB), in 250 ms"  # not a change


def test_a_message_of_several_lines_is_one_stamped_block() -> None:
    text = stamp("error: 1 file is over the limit\n/huge.bin  26,214,401 bytes", when=0)
    first, second = text.splitlines()
    assert STAMPED.match(first) and first.endswith(" error: 1 file is over the limit")
    assert second == " " * 9 + "/huge.bin  26,214,401 bytes"


def test_an_error_event_is_written_once_until_it_changes() -> None:
    out = io.StringIO()
    output = WatchOutput(as_json=True, err=io.StringIO(), out=out)
    for step in [
        Step("change", "failed", "too big"),
        Step("retry", "failed", "too big"),
        Step("retry", "failed", "too big"),
        Step("retry", "failed", "unreadable"),
        Step("change", "deployed"),
        Step("change", "failed", "unreadable"),  # again after a success: said again
        Step("change", "waiting", "waiting for the build to finish"),
    ]:
        output.step(step)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e.get("message")) for e in events] == [
        ("error", "too big"),
        ("error", "unreadable"),
        ("error", "unreadable"),
        ("waiting", "waiting for the build to finish"),
    ]


def test_a_file_over_the_limit_is_said_once_over_the_back_off_retries(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    with Harness(emulator, site, tmp_path, source) as h:
        h.watcher.backoff = Backoff(base=0.001, cap=0.002)  # retries follow one another at once
        source.push(_too_large(site))
        steps = h.wait_steps(6)  # the start, the change, then four retries: all fail the same way
        assert [(s.cause, s.outcome) for s in steps[1:6]] == [("change", "failed")] + [
            ("retry", "failed")
        ] * 4
        errors = [m for m in h.said if m.startswith("error: ")]
        assert len(errors) == 1 and f"/huge.bin  {HUGE:,} bytes" in errors[0], h.said
        assert len([m for m in h.said if m.startswith("will try again")]) == 1, h.said
        replace_text(site / "index.html", "v2")
        (site / "huge.bin").unlink()
        source.push(str(site / "huge.bin"), str(site / "index.html"))
        h.wait_deploys(2)
        _too_large(site)  # after a good deploy the same failure is news again
        source.push(str(site / "huge.bin"))
        h._wait(lambda: len([m for m in h.said if m.startswith("error: ")]) == 2, "the error said again")


def test_cli_watch_json_writes_one_event_per_line(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "app.css": "a"})
    sub = make_tree(tmp_path / "staging" / "docs", {f"{c}.html": c for c in "abcde"})
    with LiveEmulator(tmp_path / "emulator", record=True) as live:
        args = ["watch", str(site), "--name", "site", "--no-cache", "--json"]
        with cli_running(*args, env=api_env(live), stdout=subprocess.PIPE) as (proc, lines):
            lines.expect(lambda line: " live: 2 files, uploaded 2 files (3 B), in " in line)
            os.rename(sub, site / "docs")  # one event: five files at once
            five = lines.expect(lambda line: " deployed: " in line)
            assert re.fullmatch(
                r"\d\d:\d\d:\d\d deployed: \+5 ~0 -0 /docs/a.html, /docs/b.html, /docs/c.html \+2 more, "
                r"uploaded 5 files \(5 B\), in \d+ ms; live \d+ ms after the first change",
                five,
            ), five
            _too_large(site)
            assert "per-file limit" in lines.expect(lambda line: " error: " in line)
            replace_text(site / "index.html", "v2")
            (site / "huge.bin").unlink()
            lines.expect(lambda line: " deployed: +0 ~1 -0 /index.html," in line)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(TIMEOUT) == 0
            lines.expect(lambda line: line.endswith(" stopped"))
            assert proc.stdout is not None and proc.stderr is not None
            stdout = proc.stdout.read()
            lines.thread.join(TIMEOUT)
    events = [json.loads(line) for line in stdout.splitlines()]  # every line is one JSON object
    for e in events:
        assert list(e)[:3] == ["schema", "event", "time"] and e["schema"] == 1, e
        assert datetime.fromisoformat(e["time"]).tzinfo is not None
    names = [e["event"] for e in events if e["event"] != "unchanged"]  # a build may find nothing new
    assert names == ["started", "deployed", "deployed", "error", "deployed", "stopped"], events
    started, first, docs, error, fixed, stopped = (e for e in events if e["event"] != "unchanged")
    assert (started["folder"], started["script"], started["namespace"]) == (str(site), "site", None)
    assert (first["cause"], first["files"], first["paths"]) == ("start", 2, ["/app.css", "/index.html"])
    assert (docs["cause"], docs["added"], docs["uploaded"], docs["files"]) == ("change", 5, 5, 7)
    assert docs["paths"] == [f"/docs/{c}.html" for c in "abcde"] and docs["more_paths"] == 0
    assert docs["deploy_ms"] > 0 and docs["latency_ms"] >= docs["deploy_ms"] and docs["version_id"]
    assert error["message"].startswith("1 file over the 25.0 MiB") and "/huge.bin" in error["message"]
    assert (fixed["changed"], fixed["paths"]) == (1, ["/index.html"])
    assert (stopped["deploy"], stopped["deploys"], stopped["exit_code"]) == ("none", 3, 0)
    check_stamped(lines.seen)


def test_cli_watch_start_line_says_what_is_live(tmp_path: Path) -> None:
    """Started again on a site already deployed, watch says what is live, not "+2" changes."""
    site = make_tree(tmp_path / "site", {"index.html": "v1", "app.css": "a"})
    with LiveEmulator(tmp_path / "emulator") as live:
        for upload in ("uploaded 2 files (3 B)", "nothing to upload"):
            with cli_running("watch", str(site), "--name", "site", "--no-cache", env=api_env(live)) as (
                proc,
                lines,
            ):
                start = lines.expect(lambda line: " live: " in line)
                assert re.fullmatch(rf"\d\d:\d\d:\d\d live: 2 files, {re.escape(upload)}, in \d+ ms", start)
                proc.send_signal(signal.SIGINT)
                assert proc.wait(TIMEOUT) == 0
                lines.expect(lambda line: line.endswith(" stopped"))
            assert not [line for line in lines.seen if "deployed" in line], lines.seen
            check_stamped(lines.seen)


@pytest.fixture
def browser(tmp_path: Path) -> tuple[Path, socket.socket]:
    """A BROWSER command that hands the URL it is given to a socket the test listens on."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    script = tmp_path / "browser"
    script.write_text(
        f"#!{sys.executable}\nimport socket, sys\n"
        f"to = socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}))\n"
        "to.sendall(sys.argv[1].encode())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, listener


def test_dev_open_opens_the_preview_in_the_browser(
    tmp_path: Path, browser: tuple[Path, socket.socket]
) -> None:
    command, listener = browser
    site = make_tree(tmp_path / "site", {"index.html": "<p>hi</p>"})
    data = ["--local-data", str(tmp_path / "data")]
    args = ["dev", str(site), "--name", "site", "--port", "0", *data, "--no-cache", "--json", "--open"]
    env = {"BROWSER": str(command)}
    with listener, cli_running(*args, env=env, stdout=subprocess.PIPE) as (proc, lines):
        preview = lines.expect(lambda line: " Preview: " in line).split()[2]
        conn, _ = listener.accept()
        with conn:
            opened = b""
            while chunk := conn.recv(4096):
                opened += chunk
        assert opened.decode() == preview and preview.startswith("http://site.localhost:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
    assert (started["event"], started["url"]) == ("started", preview)


def test_a_refusal_at_start_is_an_error_event_with_the_exit_code(tmp_path: Path) -> None:
    missing = tmp_path / "dist"
    done = run_cli("watch", str(missing), "--json", "--local", "--local-data", str(tmp_path / "data"))
    assert done.returncode == 4, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["started", "error"]
    assert events[1]["message"].startswith(f"{missing}: no such folder") and events[1]["exit_code"] == 4
