"""benchmarks/namespace.py runs end to end in a tiny mode: each size's emulator, every operation
answered as it should be (else a WARNING line and exit 1), the table, and no work folder left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..helpers import ROOT, child_env

OPERATIONS = (
    "list page 1",
    "list, middle page",
    "list, one tenant's tag",
    "deploy, new script",
    "redeploy, existing script",
    "preview",
    "index, first page",
    "index, middle page",
)


def test_the_namespace_benchmark_runs_in_a_tiny_mode(tmp_path: Path) -> None:
    work = tmp_path / "work"
    argv = [sys.executable, str(ROOT / "benchmarks" / "namespace.py"), "--sizes", "40,300"]
    argv += ["--requests", "2", "--workdir", str(work)]
    proc = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout
    for operation in OPERATIONS:
        row = next((line for line in proc.stdout.splitlines() if line.startswith(f"| {operation} |")), None)
        assert row is not None, f"no row for {operation}:\n{proc.stdout}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1].endswith(" ms") and cells[2].endswith(" ms") and cells[3].endswith("x"), row
    assert not work.exists(), "the benchmark left its work folder behind"
