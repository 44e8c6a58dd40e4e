"""One SQLite file of the emulator's data folder, shared by the server's threads.

The store of scripts and blobs and the KV store each keep one: a single connection behind a
lock (the server answers on several threads, and SQLite's own locking is per connection), in
WAL mode, so a second emulator process on the same folder reads while this one writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Database:
    """A connection to ``path``, set up by ``setup`` (its schema, or the migrations to it)."""

    def __init__(self, path: str, setup: Callable[[sqlite3.Connection], object]) -> None:
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        setup(self._conn)

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, for reads that belong together."""
        with self.lock:
            yield self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, under the lock: all of it or none of it."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, args: Iterable[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement."""
        with self.lock:
            return self._conn.execute(sql, args if isinstance(args, Mapping) else tuple(args)).fetchall()
