"""Cloudflare's own asset-serving tests, run against the preview over real sockets.

The cases are data (:mod:`.html_handling_cases`, :mod:`.asset_worker_cases`, :mod:`.fixture_cases`,
each citing its upstream files); every applicable one runs here, with an id naming its upstream
file and case. Cases that cannot apply to an assets-only preview stay in the data with their reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import LiveEmulator
from .asset_worker_cases import Case
from .html_handling_cases import HtmlCase
from .run import CASES, Previews, check_case, check_html, html_cases


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Previews]:
    with LiveEmulator(Path(tmp_path_factory.mktemp("upstream")) / "data") as live:
        yield Previews(live)


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
    assert check_case(previews, case) == []


def test_every_case_is_counted_and_every_skipped_one_says_why() -> None:
    skipped = [c for c in CASES if c.not_applicable]
    assert len(HTML) == 196 and len(APPLICABLE) + len(skipped) == len(CASES)
    assert all(len(c.not_applicable or "") > 20 for c in skipped)
    names = [f"{c.source}:{c.name}" for c in CASES]
    assert len(names) == len(set(names))
