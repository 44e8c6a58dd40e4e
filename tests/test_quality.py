"""Static checks run as part of the suite, so one test command covers them: types and lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROOT


@pytest.mark.parametrize(
    "cmd",
    [
        ["mypy"],
        ["ruff", "check", "assetsync", "tests", "benchmarks"],
        ["ruff", "format", "--check", "assetsync", "tests", "benchmarks"],
    ],
    ids=["mypy", "ruff-check", "ruff-format"],
)
def test_static_check(cmd: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_contracts() -> None:
    """The layering contracts of pyproject.toml ([tool.importlinter]) hold."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
