"""What sync-all last deployed for each tenant: local records that let an unchanged tenant be skipped.

A record holds two digests of what went into the tenant's deploy (its manifest, and everything
else the deploy said: metadata, root ``_headers``/``_redirects``, modules) and the script's
``etag`` and ``modified_on`` as the deploy's answer gave them. A record is only a hint: the
caller skips a tenant only when the digests of what it would deploy now equal the record's and
the namespace's script list still shows the recorded etag and modified time
(:mod:`assetsync.tenantcheck`).

Where: one SQLite file per (API base, account, namespace), ``deployed-<xxh3 of those>.sqlite``
in the cache folder, holding a ``meta`` table (schema, and the scope it was written for) and a
``tenants`` table (one row per tenant). SQLite makes each write atomic (a killed run leaves the
rows of the batches it committed) and lets CI shards on one machine share the file, each writing
its own tenants' rows. Nothing here is ever fatal: a file that cannot be opened, is not a
database, was written for another scope or holds a row that does not parse is reported with a
warning and means a full check (a deploy) of the tenants concerned, never a skip.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import xxhash

from .protocol import Module, WorkerSpec, deploy_metadata

SCHEMA = "1"
FILE_PREFIX = "deployed-"
BATCH = 256  # records written per transaction: a killed run loses at most these (they get a full check)
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Scope:
    """Where records hold: one API (its base URL, or an embedded emulator's data folder), one
    account, one dispatch namespace. A record of another scope says nothing about this one."""

    api: str
    account_id: str
    namespace: str

    @property
    def key(self) -> str:
        return json.dumps(["assetsync deploy records", self.api, self.account_id, self.namespace])

    def file_name(self) -> str:
        return f"{FILE_PREFIX}{xxhash.xxh3_128_hexdigest(self.key.encode('utf-8', 'surrogateescape'))}.sqlite"


@dataclass(frozen=True, slots=True)
class Digests:
    """What a tenant's deploy is made of: the manifest, and the rest of what the deploy says."""

    manifest: str
    settings: str


@dataclass(frozen=True, slots=True)
class DeployRecord:
    """A tenant's last deploy: what went into it, and how the live script looked right after."""

    digests: Digests
    etag: str | None
    modified_on: str | None


def manifest_digest(manifest_json: str) -> str:
    """SHA-256 of the manifest's canonical JSON (its hashes are salted and framed with the content
    type, so the scheme and salt are in it too)."""
    return hashlib.sha256(manifest_json.encode("utf-8", "surrogateescape")).hexdigest()


def settings_digest(spec: WorkerSpec, modules: Sequence[Module]) -> str:
    """SHA-256 of everything a deploy says besides the manifest: its metadata (bindings, tags,
    flags, assets config with the root ``_headers``/``_redirects``, migrations) and each module.

    A compatibility date left to the default counts as unset, not as today's date: an unchanged
    tenant is not redeployed each morning because the day changed.
    """
    metadata = deploy_metadata(spec, "", None)
    metadata["compatibility_date"] = spec.compatibility_date
    body = {
        "digest": 1,
        "metadata": metadata,
        "modules": [[m.name, m.content_type, hashlib.sha256(m.body).hexdigest()] for m in modules],
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class RecordStore:
    """The records of one scope: read once when opened, written in batches, closed at the end."""

    def __init__(self, path: str | None, scope: Scope, warn: Callable[[str], None]) -> None:
        """``path`` None: keep nothing (every tenant gets a full check)."""
        self.path = path
        self.scope = scope
        self._warn = warn
        self._records: dict[str, DeployRecord] = {}
        self._pending: dict[str, DeployRecord | None] = {}  # None: delete the tenant's record
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(path)

    @classmethod
    def in_folder(cls, folder: str, scope: Scope, warn: Callable[[str], None]) -> RecordStore:
        return cls(os.path.join(folder, scope.file_name()), scope, warn)

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, tenant: str) -> DeployRecord | None:
        if tenant in self._pending:
            return self._pending[tenant]
        return self._records.get(tenant)

    def put(self, tenant: str, record: DeployRecord) -> None:
        """Keep ``record`` for ``tenant``, written with the next batch (or at :meth:`close`). A
        record with neither etag nor modified time could never vouch for the live script: the
        tenant's record is deleted instead."""
        if self._db is None:
            return
        self._pending[tenant] = record if record.etag or record.modified_on else None
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        now = time.time()
        rows = [
            (name, r.digests.manifest, r.digests.settings, r.etag, r.modified_on, now)
            for name, r in self._pending.items()
            if r is not None
        ]
        gone = [(name,) for name, r in self._pending.items() if r is None]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO tenants VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.executemany("DELETE FROM tenants WHERE name = ?", gone)
        except sqlite3.Error as exc:
            self._give_up(f"cannot be written ({exc})")
            return
        for name, r in self._pending.items():
            if r is None:
                self._records.pop(name, None)
            else:
                self._records[name] = r
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- opening -----------------------------------------------------------------------------

    def _open(self, path: str) -> None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as exc:
            self._give_up(f"cannot be created ({exc.strerror or exc})")
            return
        for attempt in (1, 2):
            db: sqlite3.Connection | None = None
            try:
                db = sqlite3.connect(path, timeout=30.0)
                self._records = self._load(db)
                self._db = db
                return
            except sqlite3.OperationalError as exc:  # cannot open, locked for 30 s, read-only...
                if db is not None:
                    db.close()
                self._give_up(f"cannot be used ({exc})")
                return
            except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
                if db is not None:
                    db.close()
                if attempt == 2:
                    self._give_up(f"is corrupt ({exc}) and could not be replaced")
                    return
                self._warn(
                    f"deploy records {path} are corrupt ({exc}); discarded: every tenant of namespace "
                    f"{self.scope.namespace} gets a full check (a deploy) this run"
                )
                try:
                    os.unlink(path)
                except OSError as unlink_error:
                    self._give_up(f"is corrupt and cannot be removed ({unlink_error.strerror})")
                    return

    def _load(self, db: sqlite3.Connection) -> dict[str, DeployRecord]:
        """The rows of this scope; a file of another schema is started afresh, one of another
        scope too (with a warning), and a row that does not parse is left out (with a warning)."""
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA or meta.get("scope") != self.scope.key:
            if meta.get("schema") == SCHEMA:
                self._warn(
                    f"deploy records {self.path} were written for another API, account or namespace; "
                    f"discarded: every tenant of namespace {self.scope.namespace} gets a full check this run"
                )
            with db:
                db.execute("DROP TABLE IF EXISTS tenants")
                db.execute("DELETE FROM meta")
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [("schema", SCHEMA), ("scope", self.scope.key)]
                )
        db.execute(
            "CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, manifest TEXT, settings TEXT, "
            "etag TEXT, modified_on TEXT, deployed_at REAL)"
        )
        records: dict[str, DeployRecord] = {}
        bad: list[str] = []
        for row in db.execute("SELECT name, manifest, settings, etag, modified_on FROM tenants"):
            record = _parse(row)
            if record is None:
                bad.append(str(row[0]))
            else:
                records[str(row[0])] = record
        if bad:
            bad.sort()
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5:,} more" if len(bad) > 5 else "")
            self._warn(
                f"deploy records {self.path}: {len(bad):,} record(s) do not parse ({shown}); "
                "those tenants get a full check (a deploy) this run"
            )
        return records

    def _give_up(self, why: str) -> None:
        """Go on without records: every tenant gets a full check, and nothing is written."""
        self._warn(
            f"deploy records {self.path} {why}; going on without them: every tenant gets a full check "
            "(a deploy), and this run's deploys are not recorded. Use --cache-dir to pick a writable folder."
        )
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
        self._records.clear()
        self._pending.clear()


def _parse(row: tuple[Any, ...]) -> DeployRecord | None:
    """A row as a record, or None when any field is not what this module writes."""
    name, manifest, settings, etag, modified_on = row
    if not isinstance(name, str) or not name:
        return None
    if not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in (manifest, settings)):
        return None
    if not all(v is None or (isinstance(v, str) and v) for v in (etag, modified_on)):
        return None
    if etag is None and modified_on is None:
        return None  # nothing to compare the live script with
    return DeployRecord(Digests(manifest, settings), etag, modified_on)
