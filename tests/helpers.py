"""Test helpers: build small trees on disk and run the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PAST = 1_600_000_000  # a fixed mtime far from "now", so no cache entry is racy


def make_tree(root: Path, files: Mapping[str, bytes | str], mtime: int | None = PAST) -> Path:
    """Write ``files`` (relative path -> content) under ``root``; optionally backdate them."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return root


def backdate(root: Path, when: int = PAST) -> None:
    """Set every file's mtime under ``root`` to ``when``."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (when, when), follow_symlinks=False)


def run_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assetsync ARGS`` and capture its output as text."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "assetsync", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def manifest_keys(stdout: str) -> list[str]:
    return list(json.loads(stdout)["manifest"])
