"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import is_credential

# Nothing in this run may reach a real account: the credentials of the shell that started the run
# are dropped before any test (and any child process it starts) can see them.
for _name in [n for n in os.environ if is_credential(n)]:
    del os.environ[_name]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    return d


ACCOUNT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def emulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running emulator on 127.0.0.1 with its own data folder."""
    from .helpers import LiveEmulator

    with LiveEmulator(tmp_path / "emulator-data") as live:
        yield live


@pytest.fixture
def recorded(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running emulator whose requests are recorded (and can be answered with faults)."""
    from .helpers import LiveEmulator

    with LiveEmulator(tmp_path / "emulator-data", record=True) as live:
        yield live


# The reliability suite: tests tagged with `tried` feed the table that benchmarks/reliability.py
# prints (and the README's Reliability section). CI runs a short seeded version; set
# ASSETSYNC_SOAK=N to run each soak test's loop N times (never fewer than in CI).
SOAK = int(os.environ.get("ASSETSYNC_SOAK", "0") or 0)


def soak_runs(ci_runs: int) -> int:
    """How many times a soak loop runs: ``ci_runs`` in CI, ``ASSETSYNC_SOAK`` when that is more."""
    return max(SOAK, ci_runs)


@pytest.fixture
def tried(record_property: Callable[[str, object], None]) -> Callable[..., None]:
    """Record what a reliability test tried, for benchmarks/reliability.py's table.

    ``tried(category, what, runs=1)``: category is one of "faults", "crashes", "bad input",
    "attacks", "concurrency"; ``what`` is a short description a reader of the README understands.
    The result (pass/fail) is pytest's own.
    """

    def record(category: str, what: str, runs: int = 1) -> None:
        record_property("category", category)
        record_property("tried", what)
        record_property("runs", runs)

    return record


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tried-only",
        action="store_true",
        help="run only the reliability tests (those using the `tried` fixture)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--tried-only"):
        return
    keep = [item for item in items if "tried" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI every test runs: a skip (a tool or package missing) fails, naming what to install.

    Outside CI a missing tool skips its tests, so a developer can run the rest on any machine.
    """
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI, where every test must run: {reason}. "
            "Install what it names in .ci/run, or run without CI set to skip it."
        )
