"""Watch mode's debouncer on its own: when a batch of changes is due, with the time passed in."""

from __future__ import annotations

import pytest

from assetsync.watchevents import Debouncer


def test_defaults_wait_10_ms_of_quiet_and_at_most_400_ms() -> None:
    d = Debouncer()
    d.add(["/a"], now=5.0)
    assert d.due() == pytest.approx(5.01)
    for i in range(100):
        d.add([f"/f{i}"], now=5.0 + i * 0.005)
    assert d.due() == pytest.approx(5.4)


def test_nothing_pending_is_never_due() -> None:
    d = Debouncer(quiet=1.0, max_wait=5.0)
    assert d.due() is None
    d.add([], now=1.0)
    d.add(iter(()), now=1.0)
    assert d.due() is None and d.take() == set()


def test_quiet_window_restarts_on_every_change_until_max_wait_from_the_first() -> None:
    d = Debouncer(quiet=1.0, max_wait=5.0)
    d.add(["/a"], now=10.0)
    assert d.due() == 11.0
    d.add(["/b"], now=10.5)
    assert d.due() == 11.5
    d.add(["/c"], now=14.5)
    assert d.due() == 15.0  # 10 + 5: the first change's bound, not 15.5
    assert (d.first, d.first_seen, d.last) == (10.0, 10.0, 14.5)


def test_an_empty_report_does_not_extend_the_wait() -> None:
    d = Debouncer(quiet=1.0, max_wait=5.0)
    d.add(["/a"], now=10.0)
    d.add([], now=10.5)
    assert d.due() == 11.0 and d.last == 10.0


def test_take_returns_every_path_once_and_starts_a_new_batch() -> None:
    d = Debouncer(quiet=1.0, max_wait=5.0)
    d.add((p for p in ["/a", "/b"]), now=2.0)  # any iterable, even one that can be read only once
    d.add(["/b", "/c"], now=3.0)
    assert d.take() == {"/a", "/b", "/c"}
    assert d.due() is None and d.paths == set()
    d.add(["/d"], now=20.0)
    assert (d.first, d.first_seen) == (20.0, 20.0)  # the new batch's own start
    assert d.due() == 21.0
    assert d.take() == {"/d"}


def test_a_small_batch_ending_in_a_whole_file_waits_only_the_settled_quiet() -> None:
    """An editor's save (temp file written, closed, renamed into place) is due 2 ms after its
    last event; a write that may go on, or a batch too big to be one save, waits the full quiet."""
    d = Debouncer(quiet=0.01, max_wait=0.4, settled_quiet=0.002)
    d.add(["/site/.a.tmp"], now=1.0)
    assert d.due() == pytest.approx(1.01)
    d.add(["/site/.a.tmp", "/site/a"], now=1.0005, settled=True)
    assert d.due() == pytest.approx(1.0025)
    d.add(["/site/a"], now=1.001)  # written again: not whole yet
    assert d.due() == pytest.approx(1.011)
    d.take()
    d.add([f"/site/f{i}" for i in range(5)], now=2.0, settled=True)
    assert d.due() == pytest.approx(2.01)


def test_the_settled_quiet_never_exceeds_the_quiet_window() -> None:
    d = Debouncer(quiet=0.0, max_wait=0.4)
    d.add(["/a"], now=3.0, settled=True)
    assert d.due() == 3.0
