"""Cloudflare's own asset-serving tests, run against the preview over real sockets.

The cases are data (:mod:`.html_handling_cases`, :mod:`.asset_worker_cases`, :mod:`.fixture_cases`,
:mod:`.routing_cases`, each citing its upstream files); every applicable one runs here, with an id
naming its upstream file and case. A case with a user Worker runs it on workerd (the one `.tools`
installs, or ``$ASSETSYNC_WORKERD``). Cases that cannot apply stay in the data with their reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ..helpers import LiveEmulator, workerd_binary
from .asset_worker_cases import Case
from .html_handling_cases import HtmlCase
from .routing_cases import CASES as ROUTING_CASES, RoutingCase
from .run import CASES, Previews, check_case, check_html, check_routing, html_cases


def _workerd() -> str | None:
    binary = os.environ.get("ASSETSYNC_WORKERD") or str(
        Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "workerd"
    )
    return binary if os.access(binary, os.X_OK) else None


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Previews]:
    binary = _workerd()
    runtime: dict[str, Any] = {"runtime": "workerd", "workerd": binary} if binary else {}
    with LiveEmulator(Path(tmp_path_factory.mktemp("upstream")) / "data", **runtime) as live:
        p = Previews(live)
        try:
            yield p
        finally:
            p.close()


def _with_worker(previews: Previews) -> None:
    """Skip (a failure in CI) when the emulator runs no Worker code: workerd is missing."""
    if not previews.runs_workers:
        workerd_binary()  # skips, naming what to install


HTML = list(html_cases())


@pytest.mark.parametrize(
    ("mode", "row"),
    [(mode, row) for _t, mode, _i, row in HTML],
    ids=[f"{table}:{mode}:{i}:{row[0]}" for table, mode, i, row in HTML],
)
def test_html_handling_and_encoding_tables(previews: Previews, mode: str, row: HtmlCase) -> None:
    assert check_html(previews, mode, row) == []


APPLICABLE = [c for c in CASES if not c.not_applicable]


@pytest.mark.parametrize("case", APPLICABLE, ids=[f"{c.source}:{c.name}" for c in APPLICABLE])
def test_asset_worker_cases(previews: Previews, case: Case) -> None:
    if case.app is not None:
        _with_worker(previews)
    assert check_case(previews, case) == []


ROUTING = [c for c in ROUTING_CASES if not c.not_applicable]


@pytest.mark.parametrize("case", ROUTING, ids=[f"{c.source}:{c.name}" for c in ROUTING])
def test_router_cases(previews: Previews, case: RoutingCase) -> None:
    if not case.in_process:
        _with_worker(previews)
    assert check_routing(previews, case) == []


@pytest.mark.parametrize("case", ROUTING, ids=[f"{c.source}:{c.name}" for c in ROUTING])
def test_the_routers_decision_function_agrees_in_process_too(case: RoutingCase) -> None:
    """Every routing case, deployed or not, asked of the decision function the preview routes with."""
    assert check_routing(None, replace(case, in_process=case.in_process or "cross-check")) == []


def test_every_case_is_counted_and_every_skipped_one_says_why() -> None:
    everything: list[Case | RoutingCase] = [*CASES, *ROUTING_CASES]
    skipped = [c for c in everything if c.not_applicable]
    assert len(HTML) == 196
    assert (len(APPLICABLE) + len(ROUTING), len(skipped)) == (372, 17)  # README, "Cloudflare's own tests"
    assert all(len(c.not_applicable or "") > 20 for c in skipped)
    names = [f"{c.source}:{c.name}" for c in everything]
    assert len(names) == len(set(names))
