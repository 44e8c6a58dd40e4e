"""The library's public surface: what ``assetsync`` exports, and the reports' JSON documents."""

from __future__ import annotations

import dataclasses

from assetsync.errors import EXIT_CODES, AuthError, PartlyFailed
from assetsync.events import DeletionJSON, SyncAllReport, SyncReport, TenantResult


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
    report = SyncAllReport("emulator", "acct", "ns", tenants_found=1, seconds=1.0)
    doc = report.to_json()
    # "summary" holds tenants_found and seconds, and counts made from the rows; "prune" holds
    # prune_candidates and prune_results as "candidates" and "results".
    prune = {f"prune_{key}" for key in doc["prune"]}
    grouped = {"tenants_found", "seconds"} | prune
    assert set(doc) - {"schema", "ok", "summary", "prune"} | grouped == field_names(SyncAllReport)
    counted = set(doc["summary"]) - {"tenants_found", "seconds"}
    assert counted == {"tenants", "succeeded", "failed", "files", "bytes", "uploaded", "uploaded_bytes"} | {
        "pruned",
        "prune_failed",
    }


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
