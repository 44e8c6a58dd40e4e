"""Durable Object migrations: what a wrangler config's ``migrations`` send with a deploy.

Besides its ``durable_objects`` bindings, a Worker with Durable Objects sends
``metadata.migrations`` = ``{"old_tag"?, "new_tag", "steps"}``: the config's ``migrations`` after
the tag the live script already has (all of them for a new script, nothing when it is up to
date), each step the config's table without its ``tag`` (wrangler's ``getMigrationsToUpload``).
The API creates, renames, moves or deletes the classes, and refuses a deploy whose ``old_tag`` is
not the live one, so the engine reads the live tag just before the deploy and
:func:`assetsync.protocol.migrations_to_upload` picks the steps. :func:`config_migrations` checks
the config's.
"""

from __future__ import annotations

from collections.abc import Mapping

from .bindings import Entry, Fail, describe

__all__ = ["config_migrations"]

_CLASS_LISTS = ("new_classes", "new_sqlite_classes", "deleted_classes")
_CLASS_MOVES = {"renamed_classes": ("from", "to"), "transferred_classes": ("from", "from_script", "to")}


def config_migrations(config: Mapping[str, object], fail: Fail) -> tuple[dict[str, object], ...]:
    """The config's ``migrations``, checked as wrangler checks them: each a table with a string
    ``tag`` and lists of class names (``renamed_classes``: ``{from, to}``; ``transferred_classes``:
    ``{from, from_script, to}``)."""
    value = config.get("migrations")
    if value is None:
        return ()
    if not isinstance(value, list):
        fail(
            ("migrations",),
            f"is {describe(value)}, but must be an array",
            "Write one [[migrations]] table per tag",
        )
    out = []
    for i, step in enumerate(value):
        if not isinstance(step, dict):
            fail(
                ("migrations", i),
                f"is {describe(step)}, but must be an object",
                'Write it as { tag = "v1", new_classes = [...] }',
            )
        e = Entry(step, ("migrations", i), fail)
        e.required("tag", 'a tag naming the migration, e.g. "v1"')
        for field in _CLASS_LISTS:
            e.strings(field)
        for field, parts in _CLASS_MOVES.items():
            moves = step.get(field, [])
            if not isinstance(moves, list) or not all(
                isinstance(m, dict) and all(isinstance(m.get(p), str) for p in parts) for m in moves
            ):
                shape = "{" + ", ".join(f"{p}: string" for p in parts) + "}"
                fail(
                    ("migrations", i, field),
                    f"must be an array of {shape} objects",
                    f"Write each entry as {shape}",
                )
        out.append(dict(step))
    return tuple(out)
