"""``--rate-limit`` on the commands that deploy: parsed before anything is sent, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import make_tree, run_cli


@pytest.mark.parametrize("command", ["sync", "sync-all"])
def test_a_malformed_rate_limit_is_exit_2_before_any_request(tmp_path: Path, command: str) -> None:
    folder = make_tree(tmp_path / "site", {"index.html": "hi"})
    extra = ["--namespace", "ns"] if command == "sync-all" else []
    proc = run_cli(command, str(folder), *extra, "--local", "--rate-limit", "1200 per 5 min")
    assert proc.returncode == 2
    assert "Invalid value for '--rate-limit'" in proc.stderr and "REQUESTS/SECONDS" in proc.stderr


def test_help_says_how_a_run_stays_under_the_limit() -> None:
    for command in ("sync", "watch", "sync-all"):
        text = " ".join(run_cli(command, "--help").stdout.split())
        assert "--rate-limit REQUESTS/SECONDS" in text and "1200/300" in text, command
    assert "each shard takes 1/N of it" in " ".join(run_cli("sync-all", "--help").stdout.split())
