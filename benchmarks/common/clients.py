"""The two deploy clients, assetsync (from the snapshot) and wrangler (the real CLI), run through
the spawner against an emulator, each with an environment that keeps it on this machine.

python children get ``PYTHONPYCACHEPREFIX`` in the work folder (and no
``PYTHONDONTWRITEBYTECODE``), so after an untimed warm-up they start from compiled bytecode, as
an installed package does. wrangler gets ``WRANGLER_SEND_METRICS=false``, ``NO_COLOR=1``, a
scratch ``HOME`` and ``TMPDIR``, and its npm update check pointed at a closed loopback port, so
that it fails at once and never leaves the machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import BenchError
from common.machine import REPO
from common.processes import Run, Spawner, cpu_spent
from common.servers import Emulator, Servers
from common.snapshot import take_snapshot
from common.workdirs import WorkFolder

NAMESPACE = "bench"
COMPAT_DATE = "2025-01-01"
CLOSED_LOOPBACK = "http://127.0.0.1:9/"  # nothing listens there: wrangler's update check fails at once


def default_wrangler() -> Path:
    """``$ASSETSYNC_WRANGLER``, else ``<repo>/.tools/node_modules/.bin/wrangler``."""
    return Path(
        os.environ.get("ASSETSYNC_WRANGLER") or REPO / ".tools" / "node_modules" / ".bin" / "wrangler"
    )


def check_wrangler(wrangler: Path, otherwise: str = "") -> None:
    """:class:`BenchError` unless wrangler and the node it needs can run; ``otherwise``: what the
    user can do instead of installing it."""
    if not os.access(wrangler, os.X_OK):
        raise BenchError(
            f"wrangler not found at {wrangler}: run 'npm install --prefix {REPO / '.tools'}'{otherwise}"
        )
    if shutil.which("node") is None:
        raise BenchError("node not found on PATH; wrangler needs it")


def assetsync_json(run: Run) -> dict[str, Any] | None:
    """The last JSON document assetsync printed on stdout (its ``--json`` summary)."""
    for line in reversed(run.stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            return doc if isinstance(doc, dict) else None
    return None


def write_project(folder: Path, name: str, directory: Path) -> Path:
    """A wrangler project folder holding only ``wrangler.json``: name, compatibility date and
    ``assets.directory``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"name": name, "compatibility_date": COMPAT_DATE, "assets": {"directory": str(directory)}}
    (folder / "wrangler.json").write_text(json.dumps(config, indent=1) + "\n")
    return folder


class Clients:
    """Runs assetsync and wrangler against an emulator through the spawner; collects what a run
    did wrong (``problems``) for the script's WARNING lines."""

    def __init__(self, workdir: Path, spawner: Spawner, wrangler: Path, snapshot: Path) -> None:
        self.snapshot = snapshot  # holds the copy of the assetsync package that is run; the cwd
        self.spawner = spawner
        self.wrangler = wrangler
        self.problems: list[str] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "WRANGLER_"))}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["NO_PROXY"] = base["no_proxy"] = "127.0.0.1,localhost"
        self.python_env = {**base, "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
        for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            self.python_env[var] = str(workdir / "xdg" / var.lower())
        home, tmp = workdir / "home", workdir / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        self.node_env = {
            **base,
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "WRANGLER_SEND_METRICS": "false",
            "NO_COLOR": "1",
            "npm_config_registry": CLOSED_LOOPBACK,
        }
        self.folders = [home, tmp, workdir / "pycache", workdir / "xdg"]  # what the clients write

    def run(
        self,
        emu: Emulator,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Path,
        label: str,
        *,
        memory: bool = True,
        pss: bool = False,
        check: bool = True,
    ) -> Run:
        """One measured run with the emulator's credentials, and the emulator's CPU seconds
        meanwhile. ``os.sync()`` first (untimed): no write-back of earlier runs competes.
        ``check``: a non-zero exit raises (else it is the run's ``code``)."""
        os.sync()
        cpu0 = emu.cpu_seconds()
        run = self.spawner.run(
            argv, {**env, **emu.credentials()}, cwd, label, memory=memory, pss=pss, check=check
        )
        return dataclasses.replace(run, server_cpu=cpu_spent(cpu0, emu.cpu_seconds()))

    def assetsync(self, emu: Emulator, args: Sequence[str], label: str, **kw: bool) -> Run:
        """``python -m assetsync ARGS`` from the snapshot."""
        argv = [sys.executable, "-m", "assetsync", *args]
        return self.run(emu, argv, self.python_env, self.snapshot, label, **kw)

    def wrangler_deploy(self, emu: Emulator, project: Path, label: str, pss: bool = False) -> Run:
        """``wrangler deploy --dispatch-namespace bench`` in a project folder."""
        argv = [str(self.wrangler), "deploy", "--dispatch-namespace", NAMESPACE]
        return self.run(emu, argv, self.node_env, project, label, pss=pss)


@dataclasses.dataclass(frozen=True)
class Rig:
    """What a deploy benchmark runs on: its work folder (``runs`` for the emulators' data), the
    spawner, both clients on a snapshot of the package (``digest``), and the servers."""

    work: WorkFolder
    runs: Path
    spawner: Spawner
    clients: Clients
    servers: Servers
    digest: str


def open_rig(stack: contextlib.ExitStack, workdir: Path | None, name: str, keep: bool, wrangler: Path) -> Rig:
    """The :class:`Rig` of a benchmark ``name``, each part stopped or removed by ``stack``; with
    ``keep`` the generated sites stay for the next run (emulator data is never reused)."""
    work = stack.enter_context(WorkFolder(workdir, name, keep))
    runs = work.runs()
    work.kept = (
        f"kept everything in {work.path} (the next run reuses the sites; delete {runs.parent} when done)"
    )
    spawner = stack.enter_context(Spawner())
    snapshot = work.path / "snapshot"
    clients = Clients(work.path, spawner, wrangler, snapshot)
    work.add(*clients.folders, snapshot)
    digest = take_snapshot(snapshot, clients.python_env)
    servers = stack.enter_context(Servers(runs, clients.python_env, snapshot))
    return Rig(work, runs, spawner, clients, servers, digest)
