"""benchmarks/tenants.py runs end to end in tiny modes: the rate-limit part (every scenario through
the counting proxy, whose counts match the client's own, and the request targets judged) and
the loops part without wrangler; neither leaves anything behind but the platform it generated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..helpers import ROOT, child_env

TENANTS = 12
# scenario -> (client, deployed / unchanged / failed); today's rows may fail tenants: not checked
SCENARIOS = {
    "first deploy": ("sync-all", f"{TENANTS} / 0 / 0"),
    "nothing changed": ("sync-all", f"0 / {TENANTS} / 0"),
    "one tenant changed": ("sync-all", f"1 / {TENANTS - 1} / 0"),
    "today, nothing changed": ("today: --verify full, unpaced", None),
    "today, first deploy": ("today: unpaced", None),
}


def run(tmp_path: Path, *args: str) -> str:
    work = tmp_path / "work"
    argv = [sys.executable, str(ROOT / "benchmarks" / "tenants.py"), "--quick", *args, "--workdir", str(work)]
    proc = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout, proc.stdout
    # The generated platform stays for the next run to reuse; nothing else may.
    left = [f.name for f in work.iterdir() if not f.name.startswith("platform-")]
    assert not left, f"the benchmark left {left} behind"
    return proc.stdout


def test_the_rate_limit_part_runs_in_a_tiny_mode(tmp_path: Path) -> None:
    out = run(tmp_path, "--part", "limit", "--tenants", str(TENANTS), "--rate-limit", "60/1")
    rows = {}
    for scenario, (client, outcome) in SCENARIOS.items():
        line = next((x for x in out.splitlines() if x.startswith(f"| {scenario} ({TENANTS}) |")), None)
        assert line is not None, f"no row for {scenario}:\n{out}"
        cells = rows[scenario] = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells[1] == client and cells[6].endswith(" s"), line
        if outcome is not None:
            assert cells[9] == outcome, line
    assert rows["first deploy"][3] == f"{TENANTS * 3}"  # a session, an upload and a deploy each
    assert rows["nothing changed"][3] == "0"  # the list page only
    assert rows["today, nothing changed"][3] == rows["today, nothing changed"][2]  # all per tenant
    for target in (
        r"nothing changed: requests +1 +<= 11",
        r"nothing changed: requests for one tenant +0 +0",
        rf"one changed: requests besides the list pages +3 +tenant-{TENANTS // 2:04d}'s",
    ):
        assert re.search(rf"^{target} +PASS$", out, re.M), f"{target}:\n{out}"
    assert re.search(r"^first deploy: 429 answers +\d+ +0 +(PASS|FAIL)$", out, re.M), out


def test_the_loops_part_runs_in_a_tiny_mode(tmp_path: Path) -> None:
    out = run(tmp_path, "--tenants", "3", "--files", "2", "--skip-wrangler")
    for scenario in ("first deploy", "redeploy, nothing changed"):
        assert re.search(rf"^\| 3 \| {scenario} \| [\d.]+ s .*\| [\d.]+x \|", out, re.M), out
    assert "target sync-all >= 10x the sync loop on first deploy" in out
