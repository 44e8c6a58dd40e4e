"""One deploy of a site by each tool, as the sync benchmark runs it: assetsync's ``sync`` and
``wrangler deploy``, each checked for doing what its label says (its output must say how many
files it uploaded, and that it deployed), and the edit of one file between redeploys.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from common import BenchError
from common.clients import NAMESPACE, Clients, assetsync_json, write_project
from common.processes import Run
from common.servers import Emulator
from common.trees import Tree

SCRIPT = "bench-site"
TOUCH_AGE_S = 30  # the edited file's mtime: new each round, yet far outside the 2 s racy window
WRANGLER_FOUND_RE = re.compile(r"Found (\d+) new or modified static assets? to upload")
WRANGLER_NOTHING = "No updated asset files to upload"
WRANGLER_UPLOADED_RE = re.compile(
    r"Success! Uploaded (\d+) files? (?:\(\d+ already uploaded\) )?\(([\d.]+) sec\)"
)


class EditedFile:
    """One small text file of a site, rewritten with new bytes (same size) on each :meth:`edit`."""

    def __init__(self, site: Tree) -> None:
        candidates = [
            f for f in site.files if f.endswith((".css", ".js")) and 1024 <= os.path.getsize(f) <= 8192
        ]
        if not candidates:
            raise BenchError(f"{site.name}: no .css/.js file of 1-8 KiB to edit")
        self.path = candidates[0]
        self.rel = os.path.relpath(self.path, site.root)
        with open(self.path, "rb") as f:
            self.original = f.read()
        st = os.stat(self.path)
        self._original_ns = (st.st_atime_ns, st.st_mtime_ns)
        self.current = self.original
        self._last_mtime_ns = 0
        self.edits = 0

    def edit(self) -> bytes:
        self.edits += 1
        marker = f"/* edit {self.edits} {time.time_ns()} */\n".encode()
        data = marker + self.original[len(marker) :]
        with open(self.path, "wb") as f:
            f.write(data)
        when = max(time.time_ns() - TOUCH_AGE_S * 1_000_000_000, self._last_mtime_ns + 1_000_000_000)
        os.utime(self.path, ns=(when, when))
        self._last_mtime_ns = when
        self.current = data
        return data

    def restore(self) -> None:
        if self.edits:
            with open(self.path, "wb") as f:
                f.write(self.original)
            os.utime(self.path, ns=self._original_ns)
            self.edits = 0


class Deploys:
    """Each tool's deploy of a site, checked: the run must have done what its label says."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.problems = clients.problems

    def assetsync(
        self,
        emu: Emulator,
        site: Tree,
        cache: Path,
        label: str,
        expect: int,
        concurrency: int | None = None,
        pss: bool = False,
    ) -> Run:
        args = ["sync", str(site.root), "--name", SCRIPT, "--namespace", NAMESPACE, "--cache-dir", str(cache)]
        args += ["--json", *(["--concurrency", str(concurrency)] if concurrency is not None else [])]
        run = self.clients.assetsync(emu, args, label, pss=pss)
        doc = assetsync_json(run)
        if doc is None:
            self.problems.append(f"{label}: no JSON summary on stdout: {run.stdout.strip()[-300:]!r}")
        elif doc.get("ok") is not True:
            self.problems.append(f"{label}: ok is not true: {doc.get('error')!r}")
        elif doc.get("files") != site.count or doc.get("uploaded") != expect:
            self.problems.append(
                f"{label}: expected {expect:,} of {site.count:,} files uploaded, got "
                f"{doc.get('uploaded')} of {doc.get('files')}"
            )
        elif not doc.get("deployment_id"):
            self.problems.append(f"{label}: no deployment id in the summary")
        return run

    def wrangler(self, emu: Emulator, project: Path, label: str, expect: int, pss: bool = False) -> Run:
        run = self.clients.wrangler_deploy(emu, project, label, pss)
        out = run.stdout + run.stderr
        m = WRANGLER_FOUND_RE.search(out)
        found = int(m.group(1)) if m else (0 if WRANGLER_NOTHING in out else None)
        if found is None:
            self.problems.append(f"{label}: wrangler did not say what it uploaded: {out.strip()[-300:]!r}")
        elif found != expect:
            self.problems.append(f"{label}: expected {expect:,} assets uploaded, wrangler found {found:,}")
        elif expect and not WRANGLER_UPLOADED_RE.search(out):
            self.problems.append(f"{label}: no 'Success! Uploaded' line: {out.strip()[-300:]!r}")
        if "Current Version ID" not in out:
            self.problems.append(f"{label}: wrangler printed no 'Current Version ID' (no deploy?)")
        return run

    def project(self, site: Tree, emu: Emulator) -> Path:
        """wrangler's project for ``site``, beside the emulator's data."""
        return write_project(emu.data.parent / "project", SCRIPT, site.root)

    def check_served(self, emu: Emulator, edited: EditedFile, label: str) -> None:
        try:
            got = emu.preview(f"{SCRIPT}.{NAMESPACE}", edited.rel)
        except OSError as exc:
            self.problems.append(f"{label}: preview of /{edited.rel} failed: {exc}")
            return
        if got != edited.current:
            self.problems.append(f"{label}: the emulator does not serve the edited /{edited.rel}")

    def startup(self) -> tuple[Run, Run]:
        """Bare start-up of each client (informational): ``python -c pass``, ``wrangler --version``."""
        c = self.clients
        py = c.spawner.run([sys.executable, "-c", "pass"], c.python_env, c.snapshot, "python -c pass")
        node = c.spawner.run([str(c.wrangler), "--version"], c.node_env, c.snapshot, "wrangler --version")
        return py, node


def assetsync_says(run: Run) -> str:
    doc = assetsync_json(run)
    if not doc:
        return "?"
    d = doc.get("durations") or {}
    phases = " ".join(f"{k} {d[k]:.2f}" for k in ("build", "session", "upload", "deploy") if k in d)
    return f"{doc.get('uploaded', 0):,} up, {doc.get('requests', 0)} req; {phases}"


def wrangler_says(run: Run) -> str:
    out = run.stdout + run.stderr
    m = WRANGLER_UPLOADED_RE.search(out)
    if m:
        return f"{int(m.group(1)):,} up, upload {float(m.group(2)):.2f}"
    if WRANGLER_NOTHING in out:
        return "0 up (nothing to upload)"
    return "?"


def fmt_cpu(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.2f}"
