"""The library's public surface: what ``assetsync`` exports, and the reports' JSON documents."""

from __future__ import annotations

import dataclasses

from assetsync.events import SyncAllReport, SyncReport, TenantResult


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
