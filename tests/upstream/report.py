"""Print how many ported upstream cases apply and pass: ``python -m tests.upstream.report``.

The parser cases run in-process against the parsers the client and the preview share; the serving
cases deploy every case's site to a fresh emulator on 127.0.0.1 (in a temporary folder) and run
over real sockets. One row per upstream file, a total, and each failure with what differed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

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
    with tempfile.TemporaryDirectory() as tmp, LiveEmulator(Path(tmp) / "data") as live:
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
    for case, problems in failures.items():
        print(f"FAIL {case}: {'; '.join(problems)}")
    return 0 if total["pass"] == total["applicable"] else 1


if __name__ == "__main__":
    sys.exit(main())
