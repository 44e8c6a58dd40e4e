"""What to send, decided without I/O: upload requests from the server's buckets, and the deploy.

- :func:`plan_uploads` turns the session's buckets into upload requests, checking that every
  hash the server names is one of ours, and splitting buckets that are larger than we want in
  one request.
- :func:`deploy_metadata` builds the script metadata of PROTOCOL.md section 4.3: a Worker's
  (main module, bindings, assets) or the assets-only form (only ``assets``,
  ``compatibility_date`` and ``compatibility_flags``).
- :func:`check_script_name`, :func:`check_namespace` and :func:`script_name_from_folder` apply
  Workers' naming rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .body import PartSource
from .errors import ProtocolError, UsageError
from .manifest import Manifest

SCRIPT_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?")
HTML_HANDLING = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
NOT_FOUND_HANDLING = ("none", "404-page", "single-page-application")


def check_script_name(name: str, fix: str = "Pass a valid one with --name.") -> str:
    """``name`` if Workers accepts it as a script name; else a :class:`UsageError` ending in ``fix``
    (what to change, which depends on where the name came from)."""
    if not SCRIPT_NAME_RE.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a valid Worker name: use 1-63 lowercase letters, digits, '-' or '_', "
            f"starting and ending with a letter or digit. {fix}"
        )
    return name


URL_SAFE_RE = re.compile(r"[A-Za-z0-9._~-]{1,255}")


def check_namespace(namespace: str) -> str:
    """``namespace`` if it can be a dispatch namespace in a URL path; else a :class:`UsageError`."""
    if not URL_SAFE_RE.fullmatch(namespace) or namespace in (".", ".."):
        raise UsageError(
            f"--namespace {namespace!r} is not a dispatch namespace name: use letters, digits, '-' "
            "and '_' (the name shown by `wrangler dispatch-namespace list`)."
        )
    return namespace


def script_name_from_folder(folder_name: str) -> str:
    """A valid Worker name from a folder name: lower-cased, other characters as '-'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")[:63].strip("-_")
    return slug


def _shown(digest: str) -> str:
    """A hash from the server, quoted and cut short: it may be anything."""
    return repr(digest if len(digest) <= 64 else digest[:64] + "...")


@dataclass(frozen=True, slots=True)
class Request:
    """One upload request: the blobs it carries, in the order the server listed them."""

    parts: tuple[PartSource, ...]

    @property
    def raw_bytes(self) -> int:
        return sum(p.size for p in self.parts)


def plan_uploads(
    buckets: Sequence[Sequence[str]],
    manifest: Manifest,
    source: Mapping[str, tuple[str, str, int, int, int, bytes]],
    max_request_bytes: int = 40 << 20,
    request: str = "the upload session request",
) -> list[Request]:
    """Upload requests for the server's ``buckets``.

    ``source`` maps each hash to ``(manifest key, abspath, size, mtime_ns, ctime_ns, xxh3_128
    fingerprint)``, what :meth:`~assetsync.build.BuildResult.sources` gives. A hash the
    manifest does not hold means the server and we disagree on what is being deployed: that is
    a :class:`ProtocolError` naming ``request`` (the session request that answered the buckets),
    never a guess. A hash listed twice is sent once.
    """
    seen: set[str] = set()
    out: list[Request] = []
    for bucket in buckets:
        parts: list[PartSource] = []
        size = 0
        for digest in bucket:
            if digest in seen:
                continue
            seen.add(digest)
            src = source.get(digest)
            if src is None:
                raise ProtocolError(
                    f"opening the upload session: the answer to {request} asks for {_shown(digest)}, "
                    "which is not a hash of the manifest sent. The server and assetsync disagree on "
                    "what is being deployed, so nothing was uploaded or deployed: run again, and "
                    "report it to the server's operators if it persists.",
                    request=request,
                )
            path, abspath, n, mtime_ns, ctime_ns, fingerprint = src
            if parts and size + n > max_request_bytes:
                out.append(Request(tuple(parts)))
                parts, size = [], 0
            ctype = manifest[path].content_type
            parts.append(PartSource(digest, abspath, path, n, mtime_ns, ctime_ns, ctype, fingerprint))
            size += n
        if parts:
            out.append(Request(tuple(parts)))
    return out


@dataclass(frozen=True, slots=True)
class AssetsConfig:
    """``assets.config`` of the deploy: only what was set is sent."""

    html_handling: str | None = None
    not_found_handling: str | None = None
    run_worker_first: bool | tuple[str, ...] | None = None
    redirects: str | None = None  # the text of the root _redirects
    headers: str | None = None  # the text of the root _headers

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.html_handling is not None:
            if self.html_handling not in HTML_HANDLING:
                raise UsageError(f"html_handling must be one of {', '.join(HTML_HANDLING)}")
            out["html_handling"] = self.html_handling
        if self.not_found_handling is not None:
            if self.not_found_handling not in NOT_FOUND_HANDLING:
                raise UsageError(f"not_found_handling must be one of {', '.join(NOT_FOUND_HANDLING)}")
            out["not_found_handling"] = self.not_found_handling
        if self.run_worker_first is not None:
            rwf = self.run_worker_first
            out["run_worker_first"] = rwf if isinstance(rwf, bool) else list(rwf)
        if self.redirects is not None:
            out["_redirects"] = self.redirects
        if self.headers is not None:
            out["_headers"] = self.headers
        return out


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a deploy says besides the assets."""

    main_module: str | None = None  # None: an assets-only deploy
    assets_binding: str = "ASSETS"
    bindings: tuple[Mapping[str, Any], ...] = ()
    compatibility_date: str = "2025-01-01"
    compatibility_flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    assets: AssetsConfig = field(default_factory=AssetsConfig)


def deploy_metadata(spec: WorkerSpec, completion_jwt: str) -> dict[str, Any]:
    """The ``metadata`` part of the deploy (PROTOCOL.md 4.3)."""
    assets = {"jwt": completion_jwt, "config": spec.assets.to_json()}
    if spec.main_module is None:
        meta: dict[str, Any] = {
            "assets": assets,
            "compatibility_date": spec.compatibility_date,
            "compatibility_flags": list(spec.compatibility_flags),
        }
        if spec.tags:  # only when asked for: the plain assets-only form has no tags
            meta["tags"] = list(spec.tags)
        return meta
    return {
        "main_module": spec.main_module,
        "bindings": [{"name": spec.assets_binding, "type": "assets"}, *map(dict, spec.bindings)],
        "compatibility_date": spec.compatibility_date,
        "compatibility_flags": list(spec.compatibility_flags),
        "tags": list(spec.tags),
        "assets": assets,
    }


def parse_binding(text: str) -> dict[str, Any]:
    """``kv:NAME=NAMESPACE_ID`` or ``text:NAME=VALUE`` (also ``kv_namespace:`` / ``plain_text:``)."""
    kind, sep, rest = text.partition(":")
    name, eq, value = rest.partition("=")
    if not sep or not eq or not name:
        raise UsageError(f"--binding {text!r}: use kv:NAME=NAMESPACE_ID or text:NAME=VALUE")
    if kind in ("kv", "kv_namespace"):
        return {"type": "kv_namespace", "name": name, "namespace_id": value}
    if kind in ("text", "plain_text"):
        return {"type": "plain_text", "name": name, "text": value}
    raise UsageError(f"--binding {text!r}: unknown type {kind!r} (kv or text)")
