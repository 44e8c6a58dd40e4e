"""What a sync reports while it runs, and what it returns.

Events are plain frozen values handed to a callback; the CLI renders them (a progress bar, CI
lines, or nothing with ``--json``), a library user may log them or ignore them. Reports are what
a run returns, and what ``--json`` prints (:func:`json_document`): each field under its own name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from .errors import AssetsyncError, AuthError, PartlyFailed
from .tenantplan import UNCHANGED, TenantPlan


@dataclass(frozen=True, slots=True)
class Built:
    """The manifest is built: how much was read, and how much of it the hash cache spared."""

    files: int
    bytes: int
    hashed: int
    verified: int
    cached: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """The server said which blobs it lacks: what the upload will cost."""

    files: int  # in the manifest
    missing_files: int  # blobs the server lacks
    missing_bytes: int
    requests: int


@dataclass(frozen=True, slots=True)
class Uploaded:
    """Raw file bytes handed to the connection (progress); ``files`` counts finished requests' parts."""

    bytes: int
    files: int = 0


@dataclass(frozen=True, slots=True)
class Retrying:
    """A request failed in a way worth another try, after ``delay`` seconds."""

    what: str
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Restarting:
    """A fresh upload session: the token expired, or files changed under the upload."""

    reason: str


@dataclass(frozen=True, slots=True)
class Deploying:
    """Every file is uploaded; the deploy request goes out now. Before this event a cancelled
    sync changed nothing live; from it on, the new version goes live whole or not at all."""

    script: str
    namespace: str | None


@dataclass(frozen=True, slots=True)
class Deployed:
    """The new version is live."""

    script: str
    namespace: str | None
    deployment_id: str | None
    seconds: float


Event = Built | SessionOpened | Uploaded | Retrying | Restarting | Deploying | Deployed


# -- the JSON documents of ``--json`` -----------------------------------------------------------

JSON_SCHEMA = 1
"""The shape of every ``--json`` document, its first key ``"schema"``. It goes up when a key is
removed or renamed, or a value changes type or meaning; a new key does not change it (readers
ignore keys they do not know)."""


def json_document(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as a ``--json`` document: ``"schema"`` first, so a reader checks it before the rest."""
    return {"schema": JSON_SCHEMA, **body}


def failure_json(exc: BaseException) -> dict[str, Any]:
    """The document a ``--json`` command prints when an error stops it before its own."""
    return json_document({"ok": False, "error": error_json(exc)})


class ErrorJSON(TypedDict):
    """An error, as every JSON document says it."""

    type: str  # the exception's class: AuthError, NetworkError...
    message: str
    exit_code: int


def error_json(exc: BaseException) -> ErrorJSON:
    """``exc`` as a JSON document says it; what is not an assetsync error exits 1."""
    code = exc.exit_code if isinstance(exc, AssetsyncError) else 1
    return {"type": type(exc).__name__, "message": str(exc), "exit_code": code}


class DeletionJSON(TypedDict):
    """What became of one script to delete: a result of ``scripts delete``, or of sync-all's prune."""

    script: str
    ok: bool
    existed: bool  # False: it was already gone (which counts as deleted)
    error: NotRequired[ErrorJSON]  # when not ok


# -- one sync -----------------------------------------------------------------------------------


@dataclass(slots=True)
class SyncReport:
    """The outcome of one sync: what was sent, what it cost, and where it went."""

    target: str  # "emulator" or the API base URL
    account_id: str
    script: str
    namespace: str | None
    files: int = 0
    bytes: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    resent_bytes: int = 0  # file bytes sent more than once (of tries that failed mid-body)
    upload_rate: float | None = None  # uploaded_bytes / the upload's seconds: the link as measured
    skipped: int = 0
    requests: int = 0
    retries: int = 0
    sessions: int = 0
    deployment_id: str | None = None  # as the deploy answer names it
    preview_url: str | None = None
    dry_run: bool = False
    durations: dict[str, float] = field(default_factory=dict)
    version_id: str | None = None  # the version that went live (protocol.version_id_of)
    # An account's own Worker on the API: its workers.dev URL, when the account has a subdomain and
    # the script's workers.dev route is on; that route's setting (None: not asked, or no answer).
    workers_dev_url: str | None = None
    workers_dev_enabled: bool | None = None
    crons: list[str] | None = None  # the Cron Triggers the deploy set, as listed (None: untouched)
    plan: list[list[str]] = field(default_factory=list)  # dry runs: the manifest keys per request

    @property
    def return_code(self) -> int:
        """The exit code of the sync that made this report: 0, since a sync that fails raises
        instead (each error class carries its code)."""
        return 0

    def to_json(self) -> dict[str, Any]:
        """``sync --json``: a key per field (``plan`` in dry runs only), and ``ok``, always true
        (a sync that fails raises instead)."""
        out = {
            "ok": True,
            "target": self.target,
            "account_id": self.account_id,
            "script": self.script,
            "namespace": self.namespace,
            "files": self.files,
            "bytes": self.bytes,
            "uploaded": self.uploaded,
            "uploaded_bytes": self.uploaded_bytes,
            "resent_bytes": self.resent_bytes,
            "upload_rate": None if self.upload_rate is None else round(self.upload_rate),
            "skipped": self.skipped,
            "requests": self.requests,
            "retries": self.retries,
            "sessions": self.sessions,
            "deployment_id": self.deployment_id,
            "version_id": self.version_id,
            "workers_dev_url": self.workers_dev_url,
            "workers_dev_enabled": self.workers_dev_enabled,
            "crons": self.crons,
            "preview_url": self.preview_url,
            "dry_run": self.dry_run,
            "durations": {k: round(v, 4) for k, v in self.durations.items()},
        }
        if self.dry_run:
            out["plan"] = self.plan
        return json_document(out)


# -- many tenants in one run (sync-all) ---------------------------------------------------------


@dataclass(slots=True)
class TenantResult:
    """One tenant's row: its report when it deployed (or was found unchanged), else the error
    that stopped it."""

    tenant: str
    folder: str
    ok: bool
    exit_code: int = 0
    error_type: str | None = None
    error: str | None = None
    report: SyncReport | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # Why it was deployed, or "unchanged" when it was skipped (assetsync.tenantcheck's verdicts);
    # None when it failed before its check.
    check: str | None = None

    @property
    def unchanged(self) -> bool:
        """Skipped: its record, its folder and settings, and the namespace's list all agree."""
        return self.ok and self.check == UNCHANGED

    def to_json(self) -> dict[str, Any]:
        """A row of ``sync-all --json``: a key per field, but ``error`` is null or
        ``{"type": error_type, "message": error, "exit_code": exit_code}``, ``warnings`` only when
        there are some, and the report's keys are inline (less those the run's summary holds)."""
        out: dict[str, Any] = {
            "tenant": self.tenant,
            "folder": self.folder,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "error": None
            if self.ok
            else {"type": self.error_type, "message": self.error, "exit_code": self.exit_code},
            "seconds": round(self.seconds, 4),
            "check": self.check,
        }
        if self.report is not None:
            sync = self.report.to_json()
            for key in ("schema", "ok", "target", "account_id", "namespace"):
                sync.pop(key, None)  # said once, in the run's document
            out.update(sync)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class TenantStarted:
    """A tenant's sync begins (at most ``tenants_at_once`` run together)."""

    tenant: str  # its folder's name, which is its script's name


@dataclass(frozen=True, slots=True)
class TenantProgress:
    """An engine event of one tenant's sync."""

    tenant: str
    event: Event


@dataclass(frozen=True, slots=True)
class TenantFinished:
    """A tenant is done, deployed, unchanged or failed: its row of the report."""

    result: TenantResult
    requests: int = 0  # requests the run has sent so far, every tenant's and the listing's


TenantEvent = TenantStarted | TenantProgress | TenantFinished


@dataclass(slots=True)
class SyncAllReport:
    """The outcome of a sync-all run: one row per tenant of the shard, and what was pruned."""

    target: str
    account_id: str
    namespace: str
    shard: str | None = None  # "I/N"
    tenants_found: int = 0  # tenant folders under the root, all shards
    tenants: list[TenantResult] = field(default_factory=list)
    prune_candidates: list[str] = field(default_factory=list)
    prune_results: list[DeletionJSON] = field(default_factory=list)
    aborted: str | None = None  # why tenants were left unattempted (the API refused the token)
    dry_run: bool = False
    seconds: float = 0.0
    requests: int = 0  # requests the run sent, retries included
    plan: TenantPlan | None = None  # dry runs: what the run would do and cost

    @property
    def failed(self) -> list[TenantResult]:
        return [t for t in self.tenants if not t.ok]

    @property
    def unchanged(self) -> list[TenantResult]:
        return [t for t in self.tenants if t.unchanged]

    @property
    def prune_failed(self) -> list[DeletionJSON]:
        return [p for p in self.prune_results if not p["ok"]]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.prune_failed

    @property
    def return_code(self) -> int:
        """The run's exit code: 0 when every tenant deployed and every prune deletion went through;
        6 (:class:`AuthError`) when the API refused the token and the run stopped; else 9
        (:class:`PartlyFailed`: each failure has its row)."""
        if self.aborted is not None:
            return AuthError.exit_code
        return 0 if self.ok else PartlyFailed.exit_code

    def to_json(self) -> dict[str, Any]:
        """``sync-all --json``: a key per field, but ``summary`` holds ``tenants_found``,
        ``seconds`` and ``requests`` beside counts made from the rows, and ``prune`` holds
        ``prune_candidates`` and ``prune_results`` as ``candidates`` and ``results``; ``ok`` is
        :attr:`ok`; ``plan`` only in dry runs."""
        reports = [t.report for t in self.tenants if t.report is not None]
        body = {
            "ok": self.ok,
            "target": self.target,
            "account_id": self.account_id,
            "namespace": self.namespace,
            "shard": self.shard,
            "dry_run": self.dry_run,
            "summary": {
                "tenants_found": self.tenants_found,
                "tenants": len(self.tenants),
                "succeeded": len(self.tenants) - len(self.failed),
                "unchanged": len(self.unchanged),
                "failed": len(self.failed),
                "files": sum(r.files for r in reports),
                "bytes": sum(r.bytes for r in reports),
                "uploaded": sum(r.uploaded for r in reports),
                "uploaded_bytes": sum(r.uploaded_bytes for r in reports),
                "pruned": sum(1 for p in self.prune_results if p["ok"]),
                "prune_failed": len(self.prune_failed),
                "seconds": round(self.seconds, 4),
                "requests": self.requests,
            },
            "aborted": self.aborted,
            "tenants": [t.to_json() for t in self.tenants],
            "prune": {"candidates": list(self.prune_candidates), "results": list(self.prune_results)},
        }
        if self.plan is not None:
            body["plan"] = self.plan.to_json()
        return json_document(body)
