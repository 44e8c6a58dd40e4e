"""The emulator's SQLite schema, and how a data folder of an older emulator is brought up to it.

Every lookup a request makes is meant to be a search by key: a namespace holds 100,000 scripts on
a platform of tenants, and a query that scans them all makes each deploy, preview and list page
cost as much as the whole namespace. Two tables exist only for that:

- ``scripts_by_name`` lets a preview find every account's script of one name (the scripts'
  primary key starts with the account, which a preview address may leave out);
- ``script_tags`` holds one row per tag of each live script, kept by triggers from
  ``scripts.tags`` (the JSON the API answers with), so that a ``tags=x:yes`` filter reads only
  the scripts carrying ``x``, and ``x:no`` is one lookup per script. Being triggers, they keep it
  right whoever writes a script, an older emulator sharing the data folder included.
"""

from __future__ import annotations

import contextlib
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    scope TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (scope, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, namespace TEXT, script TEXT NOT NULL,
    manifest TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS session_hashes (
    session TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL,
    PRIMARY KEY (session, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scripts (
    account TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, version TEXT,
    tags TEXT NOT NULL DEFAULT '[]', settings TEXT NOT NULL DEFAULT '{}',
    subdomain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, modified REAL NOT NULL, deployment TEXT,
    PRIMARY KEY (account, namespace, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scripts_by_name ON scripts (namespace, name) WHERE version IS NOT NULL;
CREATE TABLE IF NOT EXISTS script_tags (
    account TEXT NOT NULL, namespace TEXT NOT NULL, tag TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (account, namespace, tag, name)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS script_tags_on_insert AFTER INSERT ON scripts
WHEN NEW.version IS NOT NULL BEGIN
    INSERT OR IGNORE INTO script_tags
    SELECT NEW.account, NEW.namespace, value, NEW.name FROM json_each(NEW.tags) WHERE type = 'text';
END;
CREATE TRIGGER IF NOT EXISTS script_tags_on_update AFTER UPDATE OF tags, version ON scripts BEGIN
    DELETE FROM script_tags WHERE account = OLD.account AND namespace = OLD.namespace
        AND tag IN (SELECT value FROM json_each(OLD.tags)) AND name = OLD.name;
    INSERT OR IGNORE INTO script_tags
    SELECT NEW.account, NEW.namespace, value, NEW.name FROM json_each(NEW.tags)
    WHERE type = 'text' AND NEW.version IS NOT NULL;
END;
CREATE TRIGGER IF NOT EXISTS script_tags_on_delete AFTER DELETE ON scripts BEGIN
    DELETE FROM script_tags WHERE account = OLD.account AND namespace = OLD.namespace
        AND tag IN (SELECT value FROM json_each(OLD.tags)) AND name = OLD.name;
END;
CREATE TABLE IF NOT EXISTS schedules (
    account TEXT NOT NULL, name TEXT NOT NULL, cron TEXT NOT NULL, created REAL NOT NULL,
    modified REAL NOT NULL, PRIMARY KEY (account, name, cron));
CREATE TRIGGER IF NOT EXISTS schedules_on_delete AFTER DELETE ON scripts WHEN OLD.namespace = '' BEGIN
    DELETE FROM schedules WHERE account = OLD.account AND name = OLD.name;
END;
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, namespace TEXT NOT NULL, script TEXT NOT NULL,
    number INTEGER NOT NULL, manifest TEXT, metadata TEXT NOT NULL, created REAL NOT NULL,
    bindings TEXT);
CREATE INDEX IF NOT EXISTS versions_by_script ON versions (account, namespace, script, number);
CREATE INDEX IF NOT EXISTS versions_migrating ON versions (account, namespace, script, number)
    WHERE metadata LIKE '%"migrations"%';
CREATE TABLE IF NOT EXISTS modules (
    version TEXT NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (version, name)) WITHOUT ROWID;
"""

# PRAGMA user_version of a data folder whose tables are filled as this schema expects (0: an
# older emulator's, whose live scripts' tags are not yet in script_tags).
VERSION = 1


def migration_tag_of(account: str, namespace: str, script: str) -> str:
    """SQL of a script's Durable Object migration tag, the script named by three SQL
    expressions: the ``new_tag`` of its newest version that migrated, read through the partial
    index of such versions (a version's metadata lies past its manifest, a megabyte at 10,000
    files: scanning every version read every manifest)."""
    return (
        "(SELECT json_extract(m.metadata, '$.migrations.new_tag') "
        "FROM versions m INDEXED BY versions_migrating "
        f"WHERE m.account = {account} AND m.namespace = {namespace} AND m.script = {script} "
        "AND m.metadata LIKE '%\"migrations\"%' "
        "AND json_type(m.metadata, '$.migrations.new_tag') = 'text' ORDER BY m.number DESC LIMIT 1)"
    )


def migrate(db: sqlite3.Connection) -> None:
    """Create what is missing and bring a data folder of an older emulator up to this schema.

    Run at every start. New tables, indexes and triggers are created by ``SCHEMA`` itself; what
    they need from existing rows is filled here once, in one transaction that re-reads the
    folder's version (another process may be migrating the same folder)."""
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(versions)")}
    if "bindings" not in columns:
        # A version recorded before bindings were: its bindings are those its metadata sent.
        with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
            db.execute("ALTER TABLE versions ADD COLUMN bindings TEXT")
    if db.execute("PRAGMA user_version").fetchone()[0] >= VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < VERSION:
            db.execute(
                "INSERT OR IGNORE INTO script_tags SELECT s.account, s.namespace, t.value, s.name "
                "FROM scripts s, json_each(s.tags) t WHERE s.version IS NOT NULL AND t.type = 'text'"
            )
            db.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
