"""What a sync reports while it runs, and what it returns.

Events are plain frozen values handed to a callback; the CLI renders them (a progress bar, CI
lines, or nothing with ``--json``), a library user may log them or ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Built:
    files: int
    bytes: int
    hashed: int
    verified: int
    cached: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SessionOpened:
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
    what: str
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Restarting:
    """A fresh upload session: the token expired, or files changed under the upload."""

    reason: str


@dataclass(frozen=True, slots=True)
class Deployed:
    script: str
    namespace: str | None
    deployment_id: str | None
    seconds: float


Event = Built | SessionOpened | Uploaded | Retrying | Restarting | Deployed


@dataclass(slots=True)
class SyncReport:
    """The outcome of one sync: what was sent, what it cost, and where it went."""

    target: str  # "emulator" or the API base URL
    account_id: str
    script: str
    namespace: str | None
    files: int = 0
    bytes: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    skipped_files: int = 0
    requests: int = 0
    retries: int = 0
    sessions: int = 0
    deployment_id: str | None = None
    preview_url: str | None = None
    dry_run: bool = False
    durations: dict[str, float] = field(default_factory=dict)
    plan: list[list[str]] = field(default_factory=list)  # dry runs: the manifest keys per request

    def to_json(self) -> dict[str, Any]:
        out = {
            "ok": True,
            "target": self.target,
            "account_id": self.account_id,
            "script": self.script,
            "namespace": self.namespace,
            "files": self.files,
            "bytes": self.bytes,
            "uploaded": self.uploaded_files,
            "uploaded_bytes": self.uploaded_bytes,
            "skipped": self.skipped_files,
            "requests": self.requests,
            "retries": self.retries,
            "sessions": self.sessions,
            "deployment_id": self.deployment_id,
            "preview_url": self.preview_url,
            "dry_run": self.dry_run,
            "durations": {k: round(v, 4) for k, v in self.durations.items()},
        }
        if self.dry_run:
            out["plan"] = self.plan
        return out
