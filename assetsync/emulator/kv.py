"""Workers KV for the emulator: each account's namespaces of keys, over SQLite.

One store serves both doors to the data: the REST routes (:mod:`.api.kv`) and the Worker
runtime's ``kv_namespace`` bindings, which call :meth:`KvStore.get`, :meth:`~KvStore.put`,
:meth:`~KvStore.delete` and :meth:`~KvStore.list` directly. So a routing table written through
the API is what a Worker reads, with no copy in between.

Its own SQLite file (``kv.sqlite3``, WAL) beside the emulator's, so KV traffic never queues
behind a deploy's transaction. Keys are stored as their UTF-8 bytes, which SQLite orders as
memcmp does: a listing comes out in UTF-8 byte order, as on the platform. An expired key is
invisible from the second of its expiration and deleted lazily (when read, or when its namespace
is listed). Every refusal is a :class:`~assetsync.protocol.kv.KvError` (a ``ValueError``) with
the platform's status and wording, from :mod:`assetsync.protocol.kv`.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..protocol.kv import (
    NAMESPACE_NOT_FOUND,
    TITLE_EXISTS,
    KvError,
    check_key,
    check_key_length,
    check_title,
    check_value_size,
    expiration_of,
    list_limit,
    metadata_json,
)
from .database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL,
    UNIQUE (account, title));
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, metadata TEXT,
    expiration INTEGER, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_expiring ON entries (namespace, expiration)
    WHERE expiration IS NOT NULL;
"""

_CURSOR = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class KvNamespace:
    id: str  # 32 lowercase hex digits
    account: str
    title: str  # unique within the account

    def to_json(self) -> dict[str, Any]:
        """The namespace as the API shows it (keys in URLs are percent-decoded: url encoding on)."""
        return {"id": self.id, "title": self.title, "supports_url_encoding": True}


@dataclass(frozen=True, slots=True)
class KvValue:
    value: bytes
    metadata: Any | None  # the JSON value written with the key; None: none
    expiration: int | None  # unix seconds; None: never expires


@dataclass(frozen=True, slots=True)
class KvPage:
    """One page of a listing: each key as ``{"name", "expiration"?, "metadata"?}``, in UTF-8
    byte order; ``cursor`` continues after the last one (None once ``list_complete``)."""

    keys: list[dict[str, Any]]
    cursor: str | None
    list_complete: bool


@dataclass(frozen=True, slots=True)
class KvWrite:
    """One pair of a bulk write; the expirations as the request gave them (checked on write)."""

    key: str
    value: bytes
    metadata: Any = None
    expiration: Any = None  # absolute unix seconds
    expiration_ttl: Any = None  # seconds from now; wins over ``expiration``


def _not_found(op: str) -> KvError:
    return KvError(404, f"{op}: 'namespace not found'", NAMESPACE_NOT_FOUND)


def encode_cursor(key: bytes) -> str:
    """The opaque cursor of a listing that stopped at ``key``: its bytes, base64url."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> bytes:
    """The key a cursor from :func:`encode_cursor` stopped at; a 400 for anything else."""
    if _CURSOR.fullmatch(cursor) is None:
        raise KvError(400, f"Invalid cursor {cursor[:80]!r}: pass the cursor of the previous page as it was")
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise KvError(
            400, f"Invalid cursor {cursor[:80]!r}: pass the cursor of the previous page as it was"
        ) from None


class KvStore:
    """Every KV namespace of one emulator data folder. Thread-safe: one connection behind a lock.

    ``now`` (unix seconds) is the clock expirations are judged by; tests pass one they can move.
    """

    def __init__(self, data_dir: str, now: Callable[[], float] = time.time) -> None:
        self.now = now
        os.makedirs(data_dir, exist_ok=True)
        self.db = Database(os.path.join(data_dir, "kv.sqlite3"), lambda c: c.executescript(SCHEMA))

    def close(self) -> None:
        self.db.close()

    # -- namespaces --------------------------------------------------------------------------------

    def create_namespace(self, account: str, title: str) -> KvNamespace:
        """A new namespace of ``account``; 400 (10014) if the account has one of that title."""
        title = check_title(title)
        ns = KvNamespace(uuid.uuid4().hex, account, title)
        try:
            with self.db.write() as db:
                db.execute(
                    "INSERT INTO namespaces (id, account, title, created) VALUES (?, ?, ?, ?)",
                    (ns.id, account, title, time.time()),
                )
        except sqlite3.IntegrityError:
            raise _title_taken() from None
        return ns

    def namespaces(self, account: str) -> builtins.list[KvNamespace]:
        """The account's namespaces, by title."""
        rows = self.db.query(
            "SELECT id, account, title FROM namespaces WHERE account = ? ORDER BY title, id", (account,)
        )
        return [KvNamespace(*row) for row in rows]

    def namespace(self, ns_id: str) -> KvNamespace | None:
        """The namespace of that id, whichever account owns it."""
        rows = self.db.query("SELECT id, account, title FROM namespaces WHERE id = ?", (ns_id,))
        return KvNamespace(*rows[0]) if rows else None

    def rename_namespace(self, ns_id: str, title: str) -> KvNamespace:
        title = check_title(title)
        try:
            with self.db.write() as db:
                row = db.execute("SELECT account FROM namespaces WHERE id = ?", (ns_id,)).fetchone()
                if row is None:
                    raise _not_found("rename namespace")
                db.execute("UPDATE namespaces SET title = ? WHERE id = ?", (title, ns_id))
        except sqlite3.IntegrityError:
            raise _title_taken() from None
        return KvNamespace(ns_id, row[0], title)

    def delete_namespace(self, ns_id: str) -> bool:
        """Remove the namespace and every key in it; False if there was none."""
        with self.db.write() as db:
            gone = db.execute("DELETE FROM namespaces WHERE id = ?", (ns_id,)).rowcount
            db.execute("DELETE FROM entries WHERE namespace = ?", (ns_id,))
        return gone > 0

    # -- keys --------------------------------------------------------------------------------------

    def _require(self, db: sqlite3.Connection, ns_id: str, op: str) -> None:
        if db.execute("SELECT 1 FROM namespaces WHERE id = ?", (ns_id,)).fetchone() is None:
            raise _not_found(op)

    def get(self, ns_id: str, key: str) -> KvValue | None:
        """The key's value, metadata and expiration; None if it is missing or expired."""
        raw = check_key(key)
        with self.db.read() as db:
            self._require(db, ns_id, "get")
            row = db.execute(
                "SELECT value, metadata, expiration FROM entries WHERE namespace = ? AND key = ?",
                (ns_id, raw),
            ).fetchone()
            if row is None:
                return None
            value, metadata, expiration = row
            if expiration is not None and expiration <= self.now():
                db.execute(
                    "DELETE FROM entries WHERE namespace = ? AND key = ? AND expiration = ?",
                    (ns_id, raw, expiration),
                )
                return None
        return KvValue(bytes(value), json.loads(metadata) if metadata is not None else None, expiration)

    def put(
        self,
        ns_id: str,
        key: str,
        value: bytes,
        *,
        metadata: Any = None,
        expiration: int | None = None,
        expiration_ttl: int | None = None,
    ) -> None:
        """Write ``value`` under ``key``, replacing its value, metadata and expiration."""
        self.put_many(ns_id, [KvWrite(key, value, metadata, expiration, expiration_ttl)], op="put")

    def put_many(self, ns_id: str, writes: Sequence[KvWrite], op: str = "bulk put") -> int:
        """Write every pair, all or none: one refused pair refuses the lot, naming it. Returns how
        many were written."""
        now = self.now()
        rows = []
        for i, w in enumerate(writes):
            try:
                raw = check_key(w.key)
                check_value_size(len(w.value))
                rows.append(
                    (
                        ns_id,
                        raw,
                        bytes(w.value),
                        metadata_json(w.metadata),
                        expiration_of(now, w.expiration, w.expiration_ttl),
                    )
                )
            except KvError as exc:
                if len(writes) == 1:
                    raise
                raise KvError(
                    exc.status, f"pair {i} (key {w.key[:100]!r}): {exc.message}", exc.code
                ) from None
        with self.db.write() as db:
            self._require(db, ns_id, op)
            db.executemany(
                "INSERT OR REPLACE INTO entries (namespace, key, value, metadata, expiration) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def delete(self, ns_id: str, key: str) -> None:
        """Remove the key; a key that is not there is no error."""
        self.delete_many(ns_id, [key], op="remove key")

    def delete_many(self, ns_id: str, keys: Iterable[str], op: str = "bulk delete") -> int:
        """Remove every key (all checked first); returns how many were asked for."""
        raws = [(ns_id, check_key(k)) for k in keys]
        with self.db.write() as db:
            self._require(db, ns_id, op)
            db.executemany("DELETE FROM entries WHERE namespace = ? AND key = ?", raws)
        return len(raws)

    def _purge(self, db: sqlite3.Connection, ns_id: str, now: float) -> None:
        """Delete the namespace's expired keys, if it has any (an index finds them at once)."""
        where = "FROM entries WHERE namespace = ? AND expiration IS NOT NULL AND expiration <= ?"
        if db.execute(f"SELECT 1 {where} LIMIT 1", (ns_id, now)).fetchone():
            db.execute(f"DELETE {where}", (ns_id, now))

    def list(self, ns_id: str, prefix: str = "", limit: int = 1000, cursor: str | None = None) -> KvPage:
        """A page of the namespace's live keys that start with ``prefix``, after ``cursor``."""
        limit = list_limit(limit)
        low = check_key_length(prefix) if prefix else b""
        after = decode_cursor(cursor) if cursor else b""
        sql = "SELECT key, expiration, metadata FROM entries WHERE namespace = ? AND key >= ? AND key > ?"
        args: builtins.list[Any] = [ns_id, low, after]
        if low:  # UTF-8 has no 0xff byte: the next prefix up is the last byte plus one
            sql += " AND key < ?"
            args.append(low[:-1] + bytes([low[-1] + 1]))
        now = self.now()
        with self.db.read() as db:
            self._require(db, ns_id, "list keys")
            self._purge(db, ns_id, now)
            rows = db.execute(
                sql + " AND (expiration IS NULL OR expiration > ?) ORDER BY key LIMIT ?",
                (*args, now, limit + 1),
            ).fetchall()
        more = len(rows) > limit
        keys = []
        for raw, expiration, metadata in rows[:limit]:
            entry: dict[str, Any] = {"name": bytes(raw).decode("utf-8")}
            if expiration is not None:
                entry["expiration"] = expiration
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            keys.append(entry)
        return KvPage(keys, encode_cursor(bytes(rows[limit - 1][0])) if more else None, not more)


def _title_taken() -> KvError:
    return KvError(400, "a namespace with this account ID and title already exists", TITLE_EXISTS)
