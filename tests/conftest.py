"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


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
