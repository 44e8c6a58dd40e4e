"""The library's public surface: what ``assetsync`` exports, and the reports' JSON documents."""

from __future__ import annotations

import dataclasses
import inspect
import re
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import assetsync
import assetsync.errors
import assetsync.events
from assetsync import Deployed, DeployLine, Event, SessionOpened, Target, watch
from assetsync.errors import EXIT_CODES, AuthError, PartlyFailed
from assetsync.events import DeletionJSON, SyncAllReport, SyncReport, TenantResult
from assetsync.tenantplan import RateBudget, TenantPlan

from ..conftest import ACCOUNT
from ..helpers import DEFAULT_CTRL_C, Lines, LiveEmulator, child_env, make_tree


def test_every_exported_name_resolves() -> None:
    for name in assetsync.__all__:
        assert getattr(assetsync, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from assetsync import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(assetsync.__all__)
    assert dir(assetsync) == sorted(assetsync.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        assetsync.nothing  # noqa: B018


def defined_in(module: ModuleType) -> set[str]:
    """The public classes, functions and type aliases (unions) that ``module`` itself defines."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (
            isinstance(value, types.UnionType)
            or ((inspect.isclass(value) or inspect.isfunction(value)) and value.__module__ == module.__name__)
        )
    }


def test_every_error_and_every_event_is_exported() -> None:
    errors = {n for n in defined_in(assetsync.errors) if issubclass(getattr(assetsync.errors, n), Exception)}
    assert len(errors) == 22 and errors <= set(assetsync.__all__)
    assert defined_in(assetsync.events) <= set(assetsync.__all__)


INTERNAL = {"Table"}  # BuildResult's record of what build() read, made by build() only


def test_the_api_is_whole() -> None:
    """Every assetsync type an exported function or constructor takes or returns is exported too."""
    missing: dict[str, list[str]] = {}
    known = {*assetsync.__all__, *INTERNAL}
    for name in assetsync.__all__:
        value = getattr(assetsync, name)
        if inspect.isclass(value):
            function = vars(value).get("__init__")
        else:
            function = value if inspect.isfunction(value) else None
        if function is None:
            continue
        scope = vars(sys.modules[function.__module__])
        words = re.findall(r"[A-Za-z_]\w*", " ".join(map(str, function.__annotations__.values())))
        for used in [scope[w] for w in words if inspect.isclass(scope.get(w))]:
            if used.__module__.startswith("assetsync.") and used.__name__ not in known:
                missing.setdefault(used.__name__, []).append(name)
    assert missing == {}


def test_importing_assetsync_stays_cheap() -> None:
    """The exports load on first use: start-up imports no network, CLI or file-watching library."""
    heavy = ("httpx", "click", "watchdog", "uvicorn", "assetsync.engine")
    code = f"import sys, assetsync; print([m for m in {heavy!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_watch_takes_its_options_by_keyword() -> None:
    for function in (assetsync.watch, assetsync.watch_async):
        folder, stop, how = inspect.signature(function).parameters.values()
        assert (folder.name, stop.kind, how.kind) == ("folder", stop.KEYWORD_ONLY, how.VAR_KEYWORD)
        assert how.annotation == "Unpack[WatchArgs]"


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def full_report() -> SyncReport:
    """A report with every optional part present (a dry run carries its plan)."""
    return SyncReport(
        "emulator", "acct", "site", "ns", files=2, dry_run=True, durations={"total": 1.0}, plan=[["h1"]]
    )


def test_a_sync_reports_fields_are_its_json_keys() -> None:
    doc = full_report().to_json()
    # schema: every document's; ok: always true (a failed sync raises)
    assert set(doc) - {"schema", "ok"} == field_names(SyncReport)


def test_a_tenants_fields_are_its_row_keys() -> None:
    row = TenantResult("acme", "/root/acme", ok=True, report=full_report(), warnings=["w"]).to_json()
    # error: null, or {"type": error_type, "message": error, "exit_code": ...}; report: its keys
    # inline, but for those the run's summary says once.
    sync_keys = set(full_report().to_json()) - {"schema", "ok", "target", "account_id", "namespace"}
    assert set(row) - sync_keys | {"error_type", "report"} == field_names(TenantResult)
    failed = TenantResult("acme", "/root/acme", ok=False, exit_code=7, error_type="ApiError", error="boom")
    assert failed.to_json()["error"] == {"type": "ApiError", "message": "boom", "exit_code": 7}


def test_a_sync_alls_fields_are_its_json_keys() -> None:
    plan = TenantPlan(RateBudget(1200, 300))  # a dry run carries its plan
    report = SyncAllReport("emulator", "acct", "ns", tenants_found=1, seconds=1.0, dry_run=True, plan=plan)
    doc = report.to_json()
    # "summary" holds tenants_found, seconds and requests, and counts made from the rows; "prune"
    # holds prune_candidates and prune_results as "candidates" and "results".
    prune = {f"prune_{key}" for key in doc["prune"]}
    grouped = {"tenants_found", "seconds", "requests"} | prune
    assert set(doc) - {"schema", "ok", "summary", "prune"} | grouped == field_names(SyncAllReport)
    counted = set(doc["summary"]) - {"tenants_found", "seconds", "requests"}
    assert counted == {"tenants", "succeeded", "failed", "files", "bytes", "uploaded", "uploaded_bytes"} | {
        "unchanged",
        "pruned",
        "prune_failed",
    }
    assert "plan" not in SyncAllReport("emulator", "acct", "ns").to_json()


def test_a_report_knows_its_exit_code() -> None:
    """What the CLI exits with, documented in errors.EXIT_CODES and sync-all's help."""
    assert full_report().return_code == 0  # a sync that fails raises instead

    def run(*rows: TenantResult, pruned: tuple[DeletionJSON, ...] = (), aborted: str | None = None) -> int:
        report = SyncAllReport("emulator", "acct", "ns", tenants=list(rows), aborted=aborted)
        report.prune_results = list(pruned)
        return report.return_code

    ok = TenantResult("a", "/r/a", ok=True, report=full_report())
    failed = TenantResult("b", "/r/b", ok=False, exit_code=5, error_type="FileTooLarge", error="big")
    refused = TenantResult("c", "/r/c", ok=False, exit_code=6, error_type="AuthError", error="no")
    gone: DeletionJSON = {"script": "old", "ok": True, "existed": False}
    stuck: DeletionJSON = {
        "script": "old",
        "ok": False,
        "existed": True,
        "error": {"type": "ServerError", "message": "boom", "exit_code": 7},
    }
    assert (run(), run(ok), run(ok, pruned=(gone,))) == (0, 0, 0)
    assert run(ok, failed) == run(ok, pruned=(stuck,)) == PartlyFailed.exit_code == 9
    assert run(refused, failed, aborted="the API refused the token") == AuthError.exit_code == 6
    assert "tenants" in EXIT_CODES[9] and "authentication" in EXIT_CODES[6]


def test_watch_keeps_a_folder_deployed_until_stopped(
    tmp_path: Path, emulator: LiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without options, watch() decides them as ``assetsync watch`` does: the config names it."""
    project = make_tree(tmp_path / "project", {"public/index.html": "v1"})
    (project / "wrangler.toml").write_text('name = "docs"\n[assets]\ndirectory = "public"\n')
    monkeypatch.chdir(project)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    deploys: list[DeployLine] = []
    events: list[Event] = []
    said: list[str] = []
    changed = threading.Condition()

    def on_deploy(line: DeployLine) -> None:
        with changed:
            deploys.append(line)
            changed.notify_all()

    stop = threading.Event()
    target = Target("api", emulator.api, ACCOUNT, emulator.token)
    how = dict(target=target, stop=stop, on_event=events.append, on_deploy=on_deploy, say=said.append)
    runner = threading.Thread(target=watch, args=("public",), kwargs=how)
    runner.start()
    try:
        with changed:
            assert changed.wait_for(lambda: len(deploys) == 1, 20), said
        (project / "public" / "index.html").write_text("v2")
        with changed:
            assert changed.wait_for(lambda: len(deploys) == 2, 20), said
    finally:
        stop.set()
        runner.join(20)
    assert not runner.is_alive(), "watch() did not return once stopped"
    assert deploys[1].changed == 1 and deploys[1].report.script == "docs"
    steps = [type(e) for e in events if isinstance(e, SessionOpened | Deployed)]
    assert steps == [SessionOpened, Deployed] * 2  # the engine's events, for each deploy
    r = httpx.get(f"{emulator.origin}/", headers={"Host": "docs.localhost"})
    assert r.text == "v2"


def test_watch_returns_on_ctrl_c(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    script = DEFAULT_CTRL_C + (
        "import sys, assetsync as a\n"
        "options = a.SyncOptions(script='site', build=a.BuildOptions(cache_dir=sys.argv[3]))\n"
        "def shown(d): print(f'deployed: +{d.added}', flush=True)\n"
        "a.watch(sys.argv[1], options=options, target=a.embedded_target(sys.argv[2]), on_deploy=shown)\n"
        "print('returned')\n"
    )
    args = [str(site), str(tmp_path / "data"), str(tmp_path / "cache")]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=child_env({"PYTHONUNBUFFERED": "1"}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = Lines(proc.stdout)
        lines.expect(lambda line: "deployed: +1" in line)
        proc.send_signal(signal.SIGINT)
        lines.expect(lambda line: line == "returned")
        assert proc.wait(20) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
