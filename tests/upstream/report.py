"""Print how many ported upstream cases apply and pass: ``python -m tests.upstream.report``.

The parser cases run in-process against the parsers the client and the preview share; the serving
cases deploy every case's site to a fresh emulator on 127.0.0.1 (in a temporary folder) and run
over real sockets, those with a user Worker on workerd (``$ASSETSYNC_WORKERD``, else the one
``.tools`` installs; without it they fail, saying so). One row per upstream file, a total, and
each failure with what differed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ..helpers import LiveEmulator
from .parse_compare import check
from .run import run_all
from .test_parse_cases import ALL as PARSE_CASES


def parser_counts() -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """Rows for the parser tests (``utils/tests/<name>.test.ts``), and the failures."""
    counts: dict[str, dict[str, int]] = {}
    failures: dict[str, list[str]] = {}
    for case in PARSE_CASES:
        row = counts.setdefault(f"{case.id.split(':')[0]}.test.ts", dict.fromkeys(_KEYS, 0))
        if case.not_applicable:
            row["not applicable"] += 1
            continue
        row["applicable"] += 1
        problem = check(case)
        if problem is None:
            row["pass"] += 1
        else:
            failures[case.id] = [problem]
    return counts, failures


_KEYS = ("applicable", "pass", "not applicable")


def main() -> int:
    from .test_upstream_serving import _workerd

    binary = _workerd()
    runtime: dict[str, Any] = {"runtime": "workerd", "workerd": binary} if binary else {}
    if binary is None:
        print("no workerd: run `npm ci --prefix .tools` or set ASSETSYNC_WORKERD; Worker cases fail")
    with tempfile.TemporaryDirectory() as tmp, LiveEmulator(Path(tmp) / "data", **runtime) as live:
        result = run_all(live)
    parsed, parse_failures = parser_counts()
    counts: dict[str, dict[str, int]] = {**parsed, **result["counts"]}
    failures: dict[str, list[str]] = {**parse_failures, **result["failures"]}
    width = max(len(name) for name in counts)
    print(f"{'upstream file':<{width}}  applicable  pass  not applicable")
    total = {"applicable": 0, "pass": 0, "not applicable": 0}
    for name, row in counts.items():
        print(f"{name:<{width}}  {row['applicable']:>10}  {row['pass']:>4}  {row['not applicable']:>14}")
        for key in total:
            total[key] += row[key]
    print(f"{'total':<{width}}  {total['applicable']:>10}  {total['pass']:>4}  {total['not applicable']:>14}")
    print(f"{total['applicable']} applicable, {total['pass']} pass, {total['not applicable']} not applicable")
    for why, n in result["in_process"].items():
        print(f"{n} of them run in-process against the router's decision function: {why}")
    for case, problems in failures.items():
        print(f"FAIL {case}: {'; '.join(problems)}")
    return 0 if total["pass"] == total["applicable"] else 1


if __name__ == "__main__":
    sys.exit(main())
