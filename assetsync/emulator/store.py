"""The emulator's state: SQLite (WAL) for metadata, content-addressed files for blobs.

Blobs are scoped as on the real platform: per account for ordinary Workers, per dispatch
namespace for Workers for Platforms. A blob is written to a temp file in the same filesystem,
renamed into place, and only then recorded in SQLite: a crash leaves at worst an unrecorded
file, which the next upload of that hash overwrites. A recorded blob is therefore always whole,
and the preview only serves recorded blobs.

Every query a request runs searches by key (the schema and its reasons: :mod:`.schema`): a
namespace of 100,000 scripts costs a list page, a deploy or a preview what it answers with.

(About 600 lines, on purpose: one class over one SQLite schema, whose transactions span its
scripts, versions, bindings and blobs together; split, each half would need the other's.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..tempfiles import sweep
from .database import Database
from .schema import migrate, migration_tag_of


def _encode_manifest(manifest: dict[str, list[Any]]) -> str:
    """A version's manifest as JSON, written out by hand (json.dumps is 3x slower at 10,000)."""
    from json.encoder import encode_basestring as enc

    return "{" + ",".join(f'{enc(p)}:["{h}",{n},{enc(t)}]' for p, (h, n, t) in manifest.items()) + "}"


def scope_of(account: str, namespace: str | None) -> str:
    """The de-duplication scope of blobs: the account, or one dispatch namespace of it."""
    return f"ns:{account}:{namespace}" if namespace else f"acct:{account}"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    account: str
    namespace: str | None
    script: str
    manifest: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Script:
    account: str
    namespace: str
    name: str
    version: str | None
    tags: list[str]
    settings: dict[str, Any]
    subdomain: bool
    created: float
    modified: float
    deployment: str | None


@dataclass(frozen=True, slots=True)
class Listed:
    """A live script as the API lists it: its row and what the list shows of its live version,
    read by one query for a whole page (not a query per script)."""

    script: Script
    version: str  # the live version's id
    metadata: dict[str, Any]  # the live version's, as its deploy sent it
    has_assets: bool
    migration_tag: str | None


TagFilter = Sequence[tuple[str, bool]]  # (tag, wanted): ``tags=a:yes,b:no`` is [("a", True), ("b", False)]


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    account: str
    namespace: str
    script: str
    number: int
    manifest: dict[str, list[Any]] | None  # path -> [hash, size, content_type]
    metadata: dict[str, Any]  # as the deploy sent it
    created: float
    bindings: list[dict[str, Any]]  # what the version has: sent, inherited and kept; secrets too


class Store:
    """All state of one emulator data folder. Thread-safe: one connection behind a lock."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.blob_dir = os.path.join(self.data_dir, "blobs")
        self.tmp_dir = os.path.join(self.data_dir, "tmp")
        os.makedirs(self.blob_dir, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        self._clear_tmp()
        # Bumped whenever which version is live may change (a deployment, a deletion): what the
        # Worker runtime's cache of live versions is keyed by.
        self.generation = 0
        self._dirs: set[str] = set()  # blob folders known to exist
        self._known: dict[str, dict[str, tuple[int, str]]] = {}  # scope -> hash -> (size, type)
        self._versions: dict[str, Version] = {}  # versions never change: parsed once
        self._sessions: dict[str, Session] = {}  # recent sessions' manifests, parsed
        self._needs: dict[str, dict[str, tuple[int, str]]] = {}  # recent sessions' requested hashes
        self._scope_dirs: dict[str, str] = {}
        self._tmp_prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # pid first: see tempfiles.sweep
        self._tmp_seq = itertools.count()
        self.db = Database(os.path.join(self.data_dir, "emulator.sqlite3"), migrate)

    def _clear_tmp(self) -> None:
        """Partial uploads of a crashed emulator are garbage: nothing refers to them. Those of
        another live process sharing this data folder are its work in progress: kept."""
        sweep(self.tmp_dir, "")

    def close(self) -> None:
        self.db.close()

    # -- blobs ---------------------------------------------------------------------------

    def blob_path(self, scope: str, digest: str) -> str:
        scope_dir = self._scope_dirs.get(scope)
        if scope_dir is None:
            scope_dir = self._scope_dirs[scope] = hashlib.sha256(scope.encode()).hexdigest()[:16]
        return f"{self.blob_dir}/{scope_dir}/{digest[:2]}/{digest}"

    def present(self, scope: str, hashes: Iterable[str]) -> dict[str, tuple[int, str]]:
        """Of ``hashes``, those stored in ``scope``: hash -> (size, content type).

        Blobs are never deleted, so what is known to be stored stays known: those answers come
        from memory, and only the rest is asked of SQLite (another process sharing the data
        folder may have stored them meanwhile).
        """
        known = self._known.setdefault(scope, {})
        unique = dict.fromkeys(hashes)
        wanted = [h for h in unique if h not in known]  # comprehensions: 10,000 hashes a deploy
        out = {h: known[h] for h in unique if h in known} if len(wanted) < len(unique) else {}
        if not wanted:
            return out
        found: dict[str, tuple[int, str]] = {}
        with self.db.read() as db:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT hash, size, content_type FROM blobs WHERE scope=? AND hash IN ({marks})",
                    (scope, *chunk),
                ).fetchall()
                found.update((h, (s, t)) for h, s, t in rows)
        known.update(found)
        out.update(found)
        return out

    def new_tmp(self) -> tuple[int, str]:
        """An open file descriptor and path for a blob being received."""
        path = f"{self.tmp_dir}/{self._tmp_prefix}-{next(self._tmp_seq)}"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), path

    def place_blob(self, scope: str, digest: str, tmp: str) -> None:
        """Move a fully received blob file into place (it counts once :meth:`record_blobs` ran)."""
        final = self.blob_path(scope, digest)
        folder = os.path.dirname(final)
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        os.replace(tmp, final)

    def record_blobs(self, scope: str, rows: list[tuple[str, int, str]]) -> None:
        """Record placed blobs (hash, size, content type) in one transaction.

        ``INSERT OR IGNORE``: the first upload of a hash wins, content type included, as on the
        platform.
        """
        if not rows:
            return
        now = time.time()
        with self.db.write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)",
                [(scope, digest, size, ctype, now) for digest, size, ctype in rows],
            )
        # Learn them as stored only via SQLite: the first row may carry another content type.
        self.present(scope, [digest for digest, _, _ in rows])

    # -- sessions ------------------------------------------------------------------------

    def create_session(
        self,
        account: str,
        namespace: str | None,
        script: str,
        manifest_json: str,
        needed: dict[str, tuple[int, str]],
        manifest: dict[str, Any] | None = None,
    ) -> str:
        """A new upload session; ``manifest_json`` is the manifest as JSON text (kept as sent),
        ``manifest`` the same parsed, if the caller has it (kept in memory for the deploy)."""
        sid = uuid.uuid4().hex
        with self.db.write() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (sid, account, namespace, script, manifest_json, time.time()),
            )
            db.executemany(
                "INSERT INTO session_hashes VALUES (?, ?, ?, ?)",
                [(sid, h, size, ctype) for h, (size, ctype) in needed.items()],
            )
        if manifest is not None:
            if len(self._sessions) >= 64:
                self._sessions.clear()
            self._sessions[sid] = Session(sid, account, namespace, script, manifest)
        if len(self._needs) >= 64:
            self._needs.clear()
        self._needs[sid] = dict(needed)
        return sid

    def session(self, sid: str) -> Session | None:
        cached = self._sessions.get(sid)
        if cached is not None:
            return cached
        rows = self.db.query(
            "SELECT id, account, namespace, script, manifest FROM sessions WHERE id=?", [sid]
        )
        if not rows:
            return None
        r = rows[0]
        data = json.loads(r[4])
        # Either the session body {"manifest": {...}} or a bare manifest (paths all start with "/").
        manifest = data["manifest"] if isinstance(data.get("manifest"), dict) else data
        return Session(r[0], r[1], r[2], r[3], manifest)

    def session_part(self, sid: str, scope: str, digest: str) -> tuple[int, str, bool] | None:
        """For one uploaded part: (expected size, default content type, already stored?), or
        None when the session did not ask for this hash."""
        needs = self._needs.get(sid)
        if needs is not None:  # this process opened the session: answer from memory
            need = needs.get(digest)
            if need is None:
                return None
            # Stored since? Memory knows what this process stored; a miss only means the blob is
            # written again, and the first row recorded still wins.
            return need[0], need[1], digest in self._known.get(scope, {})
        rows = self.db.query(
            "SELECT sh.size, sh.content_type, b.hash IS NOT NULL FROM session_hashes sh "
            "LEFT JOIN blobs b ON b.scope=? AND b.hash=sh.hash WHERE sh.session=? AND sh.hash=?",
            [scope, sid, digest],
        )
        return (rows[0][0], rows[0][1], bool(rows[0][2])) if rows else None

    def session_remaining(self, sid: str, scope: str) -> int:
        """How many of the session's requested hashes are still not stored."""
        rows = self.db.query(
            "SELECT COUNT(*) FROM session_hashes sh WHERE sh.session=? AND NOT EXISTS "
            "(SELECT 1 FROM blobs b WHERE b.scope=? AND b.hash=sh.hash)",
            [sid, scope],
        )
        return int(rows[0][0])

    # -- scripts and versions ------------------------------------------------------------

    def create_version(
        self,
        account: str,
        namespace: str,
        script: str,
        manifest: dict[str, list[Any]] | None,
        metadata: dict[str, Any],
        modules: list[tuple[str, str, bytes]],
        bindings: list[dict[str, Any]] | None = None,
    ) -> Version:
        """A new version from a deploy; ``bindings`` default to those its metadata sent."""

        def add_modules(db: sqlite3.Connection, vid: str) -> None:
            db.executemany("INSERT INTO modules VALUES (?, ?, ?, ?)", [(vid, n, t, b) for n, t, b in modules])

        if bindings is None:
            bindings = list(metadata.get("bindings") or [])
        return self._new_version((account, namespace, script), manifest, metadata, bindings, add_modules)

    def derive_version(
        self, base: Version, bindings: list[dict[str, Any]], metadata: dict[str, Any] | None = None
    ) -> Version:
        """A new version of ``base``'s script with its code and assets but other ``bindings`` (and
        ``metadata``): what a secret or settings edit makes."""

        def copy_modules(db: sqlite3.Connection, vid: str) -> None:
            db.execute(
                "INSERT INTO modules SELECT ?, name, content_type, body FROM modules WHERE version=?",
                (vid, base.id),
            )

        md = base.metadata if metadata is None else metadata
        where = (base.account, base.namespace, base.script)
        return self._new_version(where, base.manifest, md, bindings, copy_modules)

    def _new_version(
        self,
        where: tuple[str, str, str],  # account, namespace, script
        manifest: dict[str, list[Any]] | None,
        metadata: dict[str, Any],
        bindings: list[dict[str, Any]],
        add_modules: Callable[[sqlite3.Connection, str], None],
    ) -> Version:
        account, namespace, script = where
        vid = str(uuid.uuid4())
        now = time.time()
        with self.db.write() as db:
            (number,) = db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM versions "
                "WHERE account=? AND namespace=? AND script=?",
                (account, namespace, script),
            ).fetchone()
            db.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    vid,
                    account,
                    namespace,
                    script,
                    number,
                    None if manifest is None else _encode_manifest(manifest),
                    json.dumps(metadata),
                    now,
                    json.dumps(bindings),
                ),
            )
            add_modules(db, vid)
            db.execute(
                "INSERT INTO scripts (account, namespace, name, version, created, modified) "
                "VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING",
                (account, namespace, script, now, now),
            )
        version = Version(vid, account, namespace, script, number, manifest, metadata, now, bindings)
        if len(self._versions) >= 64:
            self._versions.clear()
        self._versions[vid] = version
        return version

    def latest_version(self, account: str, namespace: str, script: str) -> Version | None:
        """The script's newest version, deployed or not (what the next upload inherits from)."""
        rows = self.db.query(
            "SELECT id FROM versions WHERE account=? AND namespace=? AND script=? "
            "ORDER BY number DESC LIMIT 1",
            [account, namespace, script],
        )
        return self.version(rows[0][0]) if rows else None

    def activate(
        self, account: str, namespace: str, script: str, version: str, tags: list[str] | None = None
    ) -> Script:
        """Make ``version`` the live one (a deployment); optionally replace the script's tags."""
        self.generation += 1
        now = time.time()
        deployment = str(uuid.uuid4())
        with self.db.write() as db:
            db.execute(
                "UPDATE scripts SET version=?, modified=?, deployment=? "
                "WHERE account=? AND namespace=? AND name=?",
                (version, now, deployment, account, namespace, script),
            )
            if tags is not None:
                db.execute(
                    "UPDATE scripts SET tags=? WHERE account=? AND namespace=? AND name=?",
                    (json.dumps(tags), account, namespace, script),
                )
        got = self.script(account, namespace, script)
        assert got is not None
        return got

    def update_script(self, account: str, namespace: str, name: str, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        values = [json.dumps(v) if k in ("tags", "settings") else v for k, v in fields.items()]
        with self.db.write() as db:
            db.execute(
                f"UPDATE scripts SET {sets} WHERE account=? AND namespace=? AND name=?",
                (*values, account, namespace, name),
            )

    def schedules(self, account: str, name: str) -> list[tuple[str, float, float]]:
        """An account script's Cron Triggers: (cron, created, modified) each, in the order set."""
        return [
            (c, created, modified)
            for c, created, modified in self.db.query(
                "SELECT cron, created, modified FROM schedules WHERE account=? AND name=? ORDER BY rowid",
                [account, name],
            )
        ]

    def set_schedules(self, account: str, name: str, crons: Sequence[str]) -> list[tuple[str, float, float]]:
        """Replace the script's Cron Triggers with ``crons`` (one that stays keeps its created time)."""
        now = time.time()
        with self.db.write() as db:
            kept = dict(
                db.execute("SELECT cron, created FROM schedules WHERE account=? AND name=?", (account, name))
            )
            db.execute("DELETE FROM schedules WHERE account=? AND name=?", (account, name))
            rows = [(account, name, c, kept.get(c, now), now) for c in dict.fromkeys(crons)]
            db.executemany("INSERT INTO schedules VALUES (?, ?, ?, ?, ?)", rows)
        return [(c, created, modified) for _, _, c, created, modified in rows]

    _SCRIPT_COLS = (
        "account, namespace, name, version, tags, settings, subdomain, created, modified, deployment"
    )

    @staticmethod
    def _script(r: tuple[Any, ...]) -> Script:
        return Script(
            r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), bool(r[6]), r[7], r[8], r[9]
        )

    def script(self, account: str, namespace: str, name: str) -> Script | None:
        """A script that has a live version (drafts from versions-only uploads do not count)."""
        rows = self.db.query(
            f"SELECT {self._SCRIPT_COLS} FROM scripts WHERE account=? AND namespace=? AND name=? "
            "AND version IS NOT NULL",
            [account, namespace, name],
        )
        return self._script(rows[0]) if rows else None

    def listed(
        self, account: str, namespace: str, tags: TagFilter = (), offset: int = 0, limit: int = -1
    ) -> list[Listed]:
        """The live scripts of a namespace ("" for the account's Workers) that ``tags`` keeps,
        by name, ``limit`` of them (-1: all) from ``offset``: one page in one query."""
        names, args = _names_query(tags)
        rows = self.db.query(
            f"WITH page(name) AS ({names} ORDER BY name LIMIT :limit OFFSET :offset) "
            f"SELECT {', '.join('s.' + c for c in self._SCRIPT_COLS.split(', '))}, "
            f"v.metadata, v.manifest IS NOT NULL, {migration_tag_of('s.account', 's.namespace', 's.name')} "
            "FROM page JOIN scripts s ON s.account = :account AND s.namespace = :namespace "
            "AND s.name = page.name LEFT JOIN versions v ON v.id = s.version ORDER BY s.name",
            {**args, "account": account, "namespace": namespace, "limit": limit, "offset": offset},
        )
        return [
            Listed(self._script(r[:10]), r[3], json.loads(r[10] or "{}"), bool(r[11]), r[12]) for r in rows
        ]

    def count_live(self, account: str, namespace: str, tags: TagFilter = ()) -> int:
        """How many live scripts of the namespace ``tags`` keeps (a list's ``total_count``)."""
        names, args = _names_query(tags)
        rows = self.db.query(
            f"SELECT COUNT(*) FROM ({names})", {**args, "account": account, "namespace": namespace}
        )
        return int(rows[0][0])

    def names_matching(self, account: str, namespace: str, tags: TagFilter) -> list[str]:
        """The names of the namespace's live scripts that ``tags`` keeps, by name."""
        names, args = _names_query(tags)
        rows = self.db.query(f"{names} ORDER BY name", {**args, "account": account, "namespace": namespace})
        return [r[0] for r in rows]

    def namespaces(self, account: str) -> list[str]:
        """The account's dispatch namespaces that hold a live script, by name: one key lookup per
        namespace (walking the scripts would read all 100,000 of a big namespace)."""
        rows = self.db.query(
            "WITH RECURSIVE ns(name) AS ("
            "SELECT MIN(namespace) FROM scripts WHERE account = :a AND namespace > '' "
            "AND version IS NOT NULL UNION ALL "
            "SELECT (SELECT MIN(namespace) FROM scripts WHERE account = :a AND namespace > ns.name "
            "AND version IS NOT NULL) FROM ns WHERE ns.name IS NOT NULL) "
            "SELECT name FROM ns WHERE name IS NOT NULL",
            {"a": account},
        )
        return [r[0] for r in rows]

    def migration_tag(self, account: str, namespace: str, name: str) -> str | None:
        """The script's Durable Object migration tag: the ``new_tag`` of its newest version that
        migrated (versions go with their script, so a script made anew starts without one)."""
        rows = self.db.query(f"SELECT {migration_tag_of('?', '?', '?')}", [account, namespace, name])
        tag = rows[0][0]
        return str(tag) if tag is not None else None

    def change_mark(self) -> str:
        """Changes whenever which version is live may have changed, here or in another process
        over the same data folder (an embedded sync while ``serve`` runs): SQLite's data_version
        counts other connections' commits."""
        (other,) = self.db.query("PRAGMA data_version")[0]
        return f"{self.generation}.{other}"

    def delete_script(self, account: str, namespace: str, name: str) -> bool:
        self.generation += 1
        with self.db.write() as db:
            cur = db.execute(
                "DELETE FROM scripts WHERE account=? AND namespace=? AND name=?", (account, namespace, name)
            )
            db.execute(
                "DELETE FROM modules WHERE version IN "
                "(SELECT id FROM versions WHERE account=? AND namespace=? AND script=?)",
                (account, namespace, name),
            )
            db.execute(
                "DELETE FROM versions WHERE account=? AND namespace=? AND script=?",
                (account, namespace, name),
            )
            return cur.rowcount > 0

    def version(self, vid: str) -> Version | None:
        cached = self._versions.get(vid)
        if cached is not None:
            return cached
        rows = self.db.query(
            "SELECT id, account, namespace, script, number, manifest, metadata, created, bindings "
            "FROM versions WHERE id=?",
            [vid],
        )
        if not rows:
            return None
        r = rows[0]
        metadata = json.loads(r[6])
        bindings = json.loads(r[8]) if r[8] is not None else list(metadata.get("bindings") or [])
        manifest = None if r[5] is None else json.loads(r[5])
        return Version(r[0], r[1], r[2], r[3], r[4], manifest, metadata, r[7], bindings)

    def modules(self, vid: str) -> list[tuple[str, str, bytes]]:
        """A version's module parts: (name, content type, body), by name."""
        rows = self.db.query("SELECT name, content_type, body FROM modules WHERE version=?", [vid])
        return [(r[0], r[1], bytes(r[2])) for r in rows]

    def live_for_preview(self, name: str, namespace: str) -> list[Script]:
        """Every account's live script called ``name`` (in ``namespace``, "" for none), by account.

        All of them, not one: which one a preview address means is the preview's to decide."""
        rows = self.db.query(
            f"SELECT {self._SCRIPT_COLS} FROM scripts "
            "WHERE namespace=? AND name=? AND version IS NOT NULL ORDER BY account",
            [namespace, name],
        )
        return [self._script(r) for r in rows]

    def all_live(self) -> list[Script]:
        """Every live script, by account, then namespace ("" first), then name."""
        rows = self.db.query(
            f"SELECT {self._SCRIPT_COLS} FROM scripts WHERE version IS NOT NULL "
            "ORDER BY account, namespace, name"
        )
        return [self._script(r) for r in rows]

    def live_beside(self, key: tuple[str, str, str] | None, limit: int, before: bool = False) -> list[Script]:
        """Up to ``limit`` live scripts in the order of :meth:`all_live`, just after ``key``
        (account, namespace, name), or just before it; without ``key`` the first ones, or the
        last. A page of every site, found by key: a page by number would walk every site ahead
        of it."""
        where, order = ("<", " DESC") if before else (">", "")
        if key is None and not before:
            where, key = ">=", ("", "", "")  # from the first key: a search, like every other page
        since = f"AND (account, namespace, name) {where} (?, ?, ?) " if key else ""
        rows = self.db.query(
            f"SELECT {self._SCRIPT_COLS} FROM scripts WHERE version IS NOT NULL {since}"
            f"ORDER BY account{order}, namespace{order}, name{order} LIMIT ?",
            [*(key or ()), limit],
        )
        scripts = [self._script(r) for r in rows]
        return scripts[::-1] if before else scripts

    def seed_live(
        self,
        account: str,
        namespace: str,
        names: Iterable[str],
        files: dict[str, tuple[bytes, str]],
        tags: Callable[[str], list[str]] = lambda name: [],
    ) -> None:
        """Make each of ``names`` a live assets-only script serving ``files`` (path -> (bytes,
        content type)) in one transaction: how tests and benchmarks fill a namespace with
        100,000 scripts in seconds, where deploying each would take minutes. No API route
        reaches it; the scripts are as a deploy leaves them, version 1 each."""
        scope = scope_of(account, namespace or None)
        manifest: dict[str, list[Any]] = {}
        for path, (body, ctype) in files.items():
            digest = hashlib.md5(body + ctype.encode()).hexdigest()  # opaque to the store
            fd, tmp = self.new_tmp()
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            self.place_blob(scope, digest, tmp)
            self.record_blobs(scope, [(digest, len(body), ctype)])
            manifest[path] = [digest, len(body), ctype]
        encoded = _encode_manifest(manifest)
        metadata = json.dumps({"assets": {"config": {}}, "compatibility_date": "2025-01-01"})
        now = time.time()
        versions, scripts = [], []
        for name in names:
            vid = str(uuid.uuid4())
            versions.append((vid, account, namespace, name, 1, encoded, metadata, now, "[]"))
            scripts.append(
                (account, namespace, name, vid, json.dumps(tags(name)), now, now, str(uuid.uuid4()))
            )
        with self.db.write() as db:
            db.executemany("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", versions)
            db.executemany(
                "INSERT INTO scripts (account, namespace, name, version, tags, created, modified, "
                "deployment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                scripts,
            )
        self.generation += 1


def _names_query(tags: TagFilter) -> tuple[str, dict[str, str]]:
    """SQL selecting the ``name`` of each live script of ``:account``'s ``:namespace`` that the
    tag filter keeps, with its tag arguments. With a wanted tag it reads only the scripts that
    carry it (``script_tags`` holds live scripts' tags only); every other tag is one lookup per
    script."""
    args = {f"t{i}": tag for i, (tag, _) in enumerate(tags)}
    first = next((i for i, (_, wanted) in enumerate(tags) if wanted), None)
    if first is None:
        sql = "SELECT o.name AS name FROM scripts o WHERE o.version IS NOT NULL"
    else:
        sql = f"SELECT o.name AS name FROM script_tags o WHERE o.tag = :t{first}"
    sql += " AND o.account = :account AND o.namespace = :namespace"
    for i, (_, wanted) in enumerate(tags):
        if i != first:
            sql += (
                f" AND {'' if wanted else 'NOT '}EXISTS (SELECT 1 FROM script_tags x WHERE "
                f"x.account = o.account AND x.namespace = o.namespace AND x.tag = :t{i} AND x.name = o.name)"
            )
    return sql, args
