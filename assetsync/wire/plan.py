"""What to send, decided without I/O: upload requests from the server's buckets.

- :func:`plan_uploads` turns the session's buckets into upload requests, checking that every
  hash the server names is one of ours, and splitting buckets that are larger than we want in
  one request.
- :func:`check_script_name`, :func:`check_namespace` and :func:`script_name_from_folder` word
  Workers' naming rules (:mod:`assetsync.protocol`) as errors for the user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import ProtocolError, UsageError
from ..folder.manifest import Manifest
from ..protocol import NAMESPACE_RULE, SCRIPT_NAME_RULE, is_namespace, is_script_name
from .body import PartSource


def check_script_name(name: str, fix: str = "Pass a valid one with --name.") -> str:
    """``name`` if Workers accepts it as a script name; else a :class:`UsageError` ending in ``fix``
    (what to change, which depends on where the name came from)."""
    if not is_script_name(name):
        raise UsageError(f"{name!r} is not a valid Worker name: use {SCRIPT_NAME_RULE}. {fix}")
    return name


def check_namespace(namespace: str) -> str:
    """``namespace`` if it can be a dispatch namespace; else a :class:`UsageError`."""
    if not is_namespace(namespace):
        raise UsageError(
            f"--namespace {namespace!r} is not a dispatch namespace name: use {NAMESPACE_RULE} "
            "(the name shown by `wrangler dispatch-namespace list`)."
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
    fingerprint)``, what :meth:`~assetsync.folder.build.BuildResult.sources` gives. A hash the
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
