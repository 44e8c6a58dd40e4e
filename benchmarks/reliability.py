"""The reliability table: what was tried against assetsync, how many times, and what happened.

Runs every test that records what it tried (the ``tried`` fixture in tests/conftest.py: wire
faults, crashes, bad input, attacks on the emulator, concurrency) and prints one row per test,
grouped by kind, from pytest's own verdicts. ``--soak N`` runs each soak loop N times (never
fewer than the short seeded CI count) (e.g. 20 client kills, 3 emulator kills, the faulted syncs).

    python benchmarks/reliability.py [--soak N] [--markdown] [--summary] [-k EXPR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from common.tables import aligned, markdown

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["faults", "crashes", "bad input", "attacks", "concurrency"]
# The kind of a test that never ran its body (skipped, or an error in set-up), so never said what it
# tried: by its file. Such a test still gets a row, so a skip cannot vanish from the table.
KIND_OF_FILE = {
    "test_faults": "faults",
    "test_crashes": "crashes",
    "test_bad_input": "bad input",
    "test_attacks": "attacks",
    "test_concurrency": "concurrency",
}


@dataclass
class Row:
    category: str
    tried: str
    runs: int
    result: str
    seconds: float
    tests: int = 1


def merge(rows: list[Row]) -> list[Row]:
    """One row per (kind, what was tried): parametrized variants of one attempt add up."""
    out: dict[tuple[str, str], Row] = {}
    for r in rows:
        seen = out.get((r.category, r.tried))
        if seen is None:
            out[(r.category, r.tried)] = Row(r.category, r.tried, r.runs, r.result, r.seconds)
            continue
        seen.runs += r.runs
        seen.seconds += r.seconds
        seen.tests += 1
        if r.result == "FAILED" or seen.result == "passed":
            seen.result = r.result
    return list(out.values())


def summary(rows: list[Row]) -> list[Row]:
    """One row per kind: how many distinct things were tried, and the runs in all."""
    out: dict[str, Row] = {}
    for r in rows:
        seen = out.setdefault(r.category, Row(r.category, "", 0, "passed", 0.0, 0))
        seen.tests += 1
        seen.runs += r.runs
        seen.seconds += r.seconds
        if r.result == "FAILED" or seen.result == "passed":
            seen.result = r.result
    for r in out.values():
        r.tried = f"{r.tests} different {'inputs' if r.category == 'bad input' else 'cases'}"
    return list(out.values())


def run_suite(soak: int, keyword: str | None) -> tuple[list[Row], int]:
    """Run the tests that record what they tried; their rows and pytest's exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "junit.xml")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tried-only"]
        cmd += [f"--junitxml={report}", "-o", "junit_family=xunit1"]
        if keyword:
            cmd += ["-k", keyword]
        env = {**os.environ, "ASSETSYNC_SOAK": str(soak or "")}
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if not os.path.exists(report):
            sys.exit(f"pytest did not run:\n{proc.stdout}")
        rows = []
        for case in ET.parse(report).getroot().iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            if "category" not in props:  # its body never ran: named by its file and test name
                module = str(case.get("classname") or "").rsplit(".", 1)[-1]
                props = {
                    "category": KIND_OF_FILE.get(module, module),
                    "tried": str(case.get("name")),
                    "runs": "0",
                }
            if case.find("failure") is not None or case.find("error") is not None:
                result = "FAILED"
            elif case.find("skipped") is not None:
                result = "skipped"
            else:
                result = "passed"
            rows.append(
                Row(
                    str(props["category"]),
                    str(props["tried"]),
                    int(props.get("runs") or 1),
                    result,
                    float(case.get("time") or 0),
                )
            )
    rows = merge(rows)
    rows.sort(key=lambda r: (ORDER.index(r.category) if r.category in ORDER else len(ORDER), r.tried.lower()))
    return rows, proc.returncode


def render(rows: list[Row], as_markdown: bool) -> str:
    head = ("kind", "what was tried", "runs", "result", "time")
    body = [(r.category, r.tried, str(r.runs), r.result, f"{r.seconds:.1f}s") for r in rows]
    return markdown(head, body) if as_markdown else aligned([head, *body], right=(2, 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak", type=int, default=0, help="runs per soak loop (default: the CI count)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--summary", action="store_true", help="one row per kind, after the full table")
    parser.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows, code = run_suite(args.soak, args.keyword)
    print(render(rows, args.markdown))
    if args.summary:
        print()
        print(render(summary(rows), args.markdown))
    failed = sum(r.result == "FAILED" for r in rows)
    runs = sum(r.runs for r in rows)
    print(
        f"\n{len(rows)} tests, {runs} runs in all, {failed} failed, "
        f"soak={args.soak or 'CI'}, {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    sys.exit(1 if failed or code not in (0, 5) else 0)


if __name__ == "__main__":
    main()
