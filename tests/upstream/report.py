"""Print how many ported upstream cases apply to the preview and pass: ``python -m tests.upstream.report``.

Deploys every case's site to a fresh emulator on 127.0.0.1 (in a temporary folder), runs every
applicable case, and prints one row per upstream file, a total, and each failure with what differed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..helpers import LiveEmulator
from .run import run_all


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, LiveEmulator(Path(tmp) / "data") as live:
        result = run_all(live)
    counts: dict[str, dict[str, int]] = result["counts"]
    width = max(len(name) for name in counts)
    print(f"{'upstream file':<{width}}  applicable  pass  not applicable")
    total = {"applicable": 0, "pass": 0, "not applicable": 0}
    for name, row in counts.items():
        print(f"{name:<{width}}  {row['applicable']:>10}  {row['pass']:>4}  {row['not applicable']:>14}")
        for key in total:
            total[key] += row[key]
    print(f"{'total':<{width}}  {total['applicable']:>10}  {total['pass']:>4}  {total['not applicable']:>14}")
    print(f"{total['applicable']} applicable, {total['pass']} pass, {total['not applicable']} not applicable")
    for case, problems in result["failures"].items():
        print(f"FAIL {case}: {'; '.join(problems)}")
    return 0 if total["pass"] == total["applicable"] else 1


if __name__ == "__main__":
    sys.exit(main())
