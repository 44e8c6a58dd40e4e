"""benchmarks/workers.py runs end to end in a tiny mode: its emulator on workerd, the deploys by
sync-all, sync and the library, the load rounds and both tables, and it cleans up after itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..helpers import ROOT, child_env, workerd_binary

WORKLOADS = (
    "assets (preview, no Worker)",
    "one plain Worker",
    "dispatch by path -> 3 users",
    "dispatch by host -> 3 users",
)


def test_the_workers_benchmark_runs_in_a_tiny_mode(tmp_path: Path) -> None:
    work = tmp_path / "work"
    argv = [sys.executable, str(ROOT / "benchmarks" / "workers.py"), "--quick", "--no-wrangler"]
    argv += ["--users", "3", "--requests", "40", "--deploys", "2", "--repeat", "1"]
    argv += ["--workerd", workerd_binary(), "--workdir", str(work)]
    proc = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "3 user Workers deployed by one sync-all" in out
    for workload in WORKLOADS:
        row = next((line for line in out.splitlines() if line.startswith(f"| {workload} |")), None)
        assert row is not None, f"no row for {workload}:\n{out}"
        assert row.rstrip().endswith("| 200x40 |"), row  # every request answered, and answered 200
    for client in ("library", "CLI"):
        cells = re.search(rf"^{client} +2 +(.*)$", out, re.M)
        assert cells is not None, f"no deploy-to-live row for {client}:\n{out}"
        assert cells.group(1).split()[-1] == "1", cells.group(0)  # live on the first request after it
    assert re.search(r"^deploy -> live p50 \(library\) +\d+ ms +<= 300 ms +(PASS|FAIL)$", out, re.M), out
    assert not work.exists(), "the benchmark left its work folder behind"
