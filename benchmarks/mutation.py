"""Mutation testing of the I/O-free logic: do the unit tests notice when a rule is changed?

mutmut (a dev extra) rewrites each function of a module many ways (``<`` to ``<=``, ``and`` to
``or``, a constant changed, a call's argument dropped...) and runs the tests that reach that
function against each *mutant*. A mutant the tests still pass is a *survivor*: a change of
behaviour no test would notice. Each one is either killed with a focused test or listed in
``mutation_equivalents.py`` with the reason it cannot change behaviour.

    python benchmarks/mutation.py                  # every module of MODULES
    python benchmarks/mutation.py --module retry --module ignore
    python benchmarks/mutation.py --module retry --report-only   # the last run's table again

Per module it copies ``assetsync/``, ``tests/`` and ``pyproject.toml`` into a scratch folder
(``.bench/mutation/<module>``, git-ignored), writes that copy's ``[tool.mutmut]`` (the settings of
pyproject.toml plus the module's file and its fast unit tests), and runs ``mutmut run`` there
with one worker: the working tree is never mutated. It then prints one table (module | mutants |
killed | survived | timeout/suspicious | equivalent | score) and each unexplained survivor as
``file:line`` with its diff. Exit status 1 if a module scores under ``--min-score``.

Score = (killed + timeout) / (mutants - equivalent). A timeout counts as caught: the mutant made
the tests hang (a loop that never ends), which a test run does notice. "no tests" mutants (no
test reaches the function) count as survivors.

A full run takes about 15 minutes with one worker on this machine (2 shared cores): resolve (5)
and redirects (4) are most of it; one small module (``--module retry``) about 20 seconds.
Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from common import BenchError
from common.machine import REPO
from common.tables import aligned
from common.workdirs import default_workdir
from mutation_equivalents import EQUIVALENTS, Equivalent


@dataclass(frozen=True)
class Module:
    """One unit under test: the source file to mutate and the fast unit tests that cover it.

    ``only`` narrows the mutants to some functions (mutmut's mutant-name glob, after the dotted
    module name), for a file whose other functions do I/O.
    """

    source: str
    tests: tuple[str, ...]
    only: str = "*"

    @property
    def dotted(self) -> str:
        """The module's name as mutmut spells it in mutant names (a package without ``__init__``)."""
        return self.source.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


# The one place that says what is mutated and by which tests. Tests only: no sockets, no
# subprocesses, nothing slower than a few files in a temp folder.
MODULES: dict[str, Module] = {
    "retry": Module("assetsync/retry.py", ("tests/unit/test_retry.py", "tests/unit/test_ratepacer.py")),
    "ratepacer": Module("assetsync/ratepacer.py", ("tests/unit/test_ratepacer.py",)),
    "ratelimit": Module(
        "assetsync/protocol/ratelimit.py",
        (
            "tests/unit/test_ratepacer.py",
            "tests/emulator/test_ratelimit.py::test_a_window_admits_its_quota_then_blocks_for_a_whole_window",
        ),
    ),
    "limiter": Module(
        "assetsync/emulator/ratelimit.py",
        (
            "tests/emulator/test_ratelimit.py::test_a_window_admits_its_quota_then_blocks_for_a_whole_window",
            "tests/emulator/test_ratelimit.py::test_a_window_opens_with_the_first_call_after_the_last_one_ended",
            "tests/emulator/test_ratelimit.py::test_a_budget_below_one_request_still_admits_one",
            "tests/emulator/test_ratelimit.py::test_credentials_whose_window_and_block_are_over_are_forgotten",
        ),
        only="xǁRateLimiterǁ*",
    ),
    "plan": Module("assetsync/wire/plan.py", ("tests/unit/test_plan.py",)),
    "protocol": Module(
        "assetsync/protocol/__init__.py",
        (
            "tests/unit/test_plan.py",
            "tests/unit/test_protocol.py::test_namespace_rule",
            "tests/unit/test_protocol.py::test_script_name_rule",
            "tests/unit/test_protocol.py::test_date_rule",
            "tests/unit/test_protocol.py::test_api_paths",
            "tests/unit/test_protocol.py::test_utf8_rule",
        ),
    ),
    "manifest": Module(
        "assetsync/folder/manifest.py", ("tests/unit/test_manifest.py", "tests/unit/test_manifest_diff.py")
    ),
    "ignore": Module("assetsync/folder/ignore.py", ("tests/unit/test_ignore.py", "tests/unit/test_scan.py")),
    "limits": Module(
        "assetsync/folder/limits.py",
        (
            "tests/unit/test_limits.py",
            "tests/unit/test_limit_messages.py",
        ),
    ),
    "tokens": Module("assetsync/emulator/tokens.py", ("tests/emulator/test_tokens.py",)),
    "watch": Module("assetsync/watcher.py", ("tests/unit/test_debouncer.py",), only="xǁDebouncerǁ*"),
    "resolve": Module(
        "assetsync/emulator/preview/resolve.py",
        (
            "tests/emulator/test_preview_rules.py",
            "tests/emulator/test_resolve.py",
        ),
    ),
    "redirects": Module(
        "assetsync/protocol/assetrules/redirects.py",
        (
            "tests/emulator/test_preview_rules.py",
            "tests/emulator/test_redirects.py",
        ),
    ),
    "headers": Module(
        "assetsync/protocol/assetrules/headers.py",
        (
            "tests/emulator/test_preview_rules.py",
            "tests/emulator/test_headers.py",
        ),
    ),
}


STATUS_KILLED = frozenset({"killed", "caught by type check"})
STATUS_TIMEOUT = frozenset({"timeout"})
STATUS_SUSPICIOUS = frozenset({"suspicious", "segfault"})
RUNNER_ERROR = frozenset({"check was interrupted by user", "not checked", "skipped"})


@dataclass
class Mutant:
    name: str
    status: str
    diff: str = ""
    line: int | None = None
    equivalent: Equivalent | None = None

    @property
    def removed(self) -> str:
        return _squash(d[1:] for d in _diff_body(self.diff) if d.startswith("-"))

    @property
    def added(self) -> str:
        return _squash(d[1:] for d in _diff_body(self.diff) if d.startswith("+"))


@dataclass
class Outcome:
    module: str
    mutants: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, statuses: frozenset[str]) -> int:
        return sum(m.status in statuses and m.equivalent is None for m in self.mutants)

    @property
    def equivalent(self) -> int:
        return sum(m.equivalent is not None for m in self.mutants)

    @property
    def killed(self) -> int:
        return self.count(STATUS_KILLED)

    @property
    def timeout(self) -> int:
        return self.count(STATUS_TIMEOUT)

    @property
    def suspicious(self) -> int:
        return self.count(STATUS_SUSPICIOUS)

    @property
    def survivors(self) -> list[Mutant]:
        caught = STATUS_KILLED | STATUS_TIMEOUT
        return [m for m in self.mutants if m.status not in caught and m.equivalent is None]

    @property
    def score(self) -> float:
        scored = len(self.mutants) - self.equivalent
        return 100.0 * (self.killed + self.timeout) / scored if scored else 100.0


def _squash(lines: Iterable[str]) -> str:
    """Lines joined, with every run of whitespace as one space: how diffs and entries compare."""
    return " ".join(" ".join(line.split()) for line in lines)


def _diff_body(diff: str) -> list[str]:
    return [d for d in diff.splitlines() if not d.startswith(("---", "+++", "@@"))]


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise BenchError(f"cannot write {v!r} as TOML")


def _mutmut_section(base: dict[str, object], module: Module) -> str:
    """The scratch copy's ``[tool.mutmut]``: the project's settings, this module, its tests."""
    settings = dict(base)
    settings["only_mutate"] = [module.source]
    settings["pytest_add_cli_args_test_selection"] = list(module.tests)
    return "[tool.mutmut]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in settings.items())


def _without_mutmut_section(text: str) -> str:
    """pyproject.toml's text without its ``[tool.mutmut]`` table (replaced in the scratch copy)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            out.append(line)
    return "".join(out)


def _scratch(name: str, module: Module) -> Path:
    """A fresh copy of the project for one module's run, with that module's mutmut settings."""
    where = _workdir(name)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(REPO / "assetsync", where / "assetsync", ignore=skip)
    shutil.copytree(REPO / "tests", where / "tests", ignore=skip)
    shutil.copytree(REPO / "fixtures", where / "fixtures", ignore=skip)
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    base = tomllib.loads(text).get("tool", {}).get("mutmut", {})
    (where / "pyproject.toml").write_text(
        _without_mutmut_section(text) + "\n" + _mutmut_section(base, module), encoding="utf-8"
    )
    if not (where / module.source).is_file():
        raise BenchError(f"{name}: no such source file: {module.source}")
    missing = [t for t in module.tests if not (where / t.partition("::")[0]).exists()]
    if missing:
        raise BenchError(f"{name}: no such test file: {', '.join(missing)}")
    return where


def _mutmut(where: Path, *args: str, log: Path | None = None) -> str:
    """Run mutmut in ``where``; its own package resolution, never the caller's PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        done = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(cmd[2:])} failed in {where}:\n{done.stdout}\n{done.stderr}")
        return done.stdout
    with open(log, "w", encoding="utf-8") as f:
        code = subprocess.run(cmd, cwd=where, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise BenchError(f"mutmut run failed in {where} (exit {code}); the end of {log}:\n{tail}")
    return ""


_FUNC_RE = re.compile(r"^x_(?P<func>.+)$|^xǁ(?P<cls>[^ǁ]+)ǁ(?P<meth>.+)$")


def _line_of(source: list[str], mutant: Mutant, dotted: str) -> int | None:
    """The 1-based line of the mutated text in ``source``: mutmut's diff is of the function alone
    (decorators first), so its hunk's line number counts from where the function starts."""
    local = mutant.name[len(dotted) + 1 :].rpartition("__mutmut_")[0]
    m = _FUNC_RE.match(local)
    hunk = re.search(r"^@@ -(\d+)", mutant.diff, re.MULTILINE)
    if m is None or hunk is None:
        return None
    start = 0
    if m["cls"]:
        start = next((i for i, s in enumerate(source) if re.match(rf"\s*class {m['cls']}\b", s)), 0)
    func = m["func"] or m["meth"]
    start = next(
        (i for i in range(start, len(source)) if re.match(rf"\s*(async )?def {func}\(", source[i])), -1
    )
    if start < 0:
        return None
    while start > 0 and source[start - 1].strip().startswith("@"):
        start -= 1
    body = mutant.diff[hunk.end() :].partition("\n")[2].splitlines()
    before = next((i for i, d in enumerate(body) if d.startswith("-")), 0)
    return start + int(hunk[1]) + before


def _workdir(name: str) -> Path:
    work = default_workdir("mutation") or Path(os.environ.get("TMPDIR", "/tmp")) / "assetsync-mutation"
    return work / name


def run_module(name: str, module: Module, fresh: bool = True) -> Outcome:
    """Mutate one module in its scratch copy (or, ``fresh`` False, read the last run's results)."""
    where = _scratch(name, module) if fresh else _workdir(name)
    start = time.monotonic()
    pattern = f"{module.dotted}.{module.only}"
    if fresh:
        _mutmut(where, "run", "--max-children", "1", pattern, log=where / "mutmut-run.log")
    outcome = Outcome(name, seconds=time.monotonic() - start)
    listing = _mutmut(where, "results", "--all", "true")
    for line in listing.splitlines():
        key, sep, status = line.strip().rpartition(": ")
        if sep and re.fullmatch(re.escape(module.dotted) + r"\." + module.only.replace("*", ".*"), key):
            outcome.mutants.append(Mutant(key, status))
    if not outcome.mutants:
        raise BenchError(f"{name}: mutmut reported no mutants (see {where / 'mutmut-run.log'})")
    source = (where / module.source).read_text(encoding="utf-8").splitlines()
    for m in outcome.mutants:
        if m.status in STATUS_KILLED | STATUS_TIMEOUT:
            continue
        m.diff = _mutmut(where, "show", m.name).partition("\n")[2].strip()
        m.line = _line_of(source, m, module.dotted)
        for eq in EQUIVALENTS:
            if eq.module == name and _squash([eq.original]) == m.removed and _squash([eq.mutated]) == m.added:
                m.equivalent = eq
    return outcome


def report(outcomes: list[Outcome]) -> str:
    head = ("module", "mutants", "killed", "survived", "timeout/suspicious", "equivalent", "score %")
    total = Outcome("total", [m for o in outcomes for m in o.mutants])
    rows = [
        (
            o.module,
            str(len(o.mutants)),
            str(o.killed),
            str(len(o.survivors) - o.suspicious),
            f"{o.timeout}/{o.suspicious}",
            str(o.equivalent),
            f"{o.score:.1f}",
        )
        for o in [*outcomes, total]
    ]
    lines = [aligned([head, *rows], sep=" | ", rule="-+-")]
    lines.append("score excludes equivalent mutants; a timeout counts as caught")
    run = {o.module for o in outcomes}
    used = {id(m.equivalent) for o in outcomes for m in o.mutants if m.equivalent is not None}
    for eq in EQUIVALENTS:
        if eq.module in run and id(eq) not in used:
            lines.append(
                f"unused equivalent (the code changed, or a test now kills it): {eq.module}: {eq.mutated}"
            )
    for o in outcomes:
        for m in o.survivors:
            where = f"{MODULES[o.module].source}:{m.line or '?'}"
            lines.append(f"\nSURVIVED [{m.status}] {where}  ({m.name})\n{m.diff}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    ap.add_argument("--module", action="append", choices=sorted(MODULES), help="repeatable; default all")
    ap.add_argument("--min-score", type=float, default=90.0)
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="print the last run's results again (after editing EQUIVALENTS)",
    )
    args = ap.parse_args()
    names = args.module or list(MODULES)
    outcomes = []
    for name in names:
        if not args.report_only:
            print(f"{name}: mutating {MODULES[name].source} ...", flush=True)
        o = run_module(name, MODULES[name], fresh=not args.report_only)
        if not args.report_only:
            print(f"{name}: {len(o.mutants)} mutants in {o.seconds:.0f} s", flush=True)
        outcomes.append(o)
    print(report(outcomes))
    if any(o.score < args.min_score for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"error: {exc}")
