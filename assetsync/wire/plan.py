"""What to send, decided without I/O: upload requests from the server's buckets.

- :func:`plan_uploads` turns the session's buckets into upload requests, checking that every
  hash the server names is one of ours, and splitting buckets that are larger than we want in
  one request.
- :func:`check_script_name`, :func:`check_namespace` and :func:`script_name_from_folder` word
  Workers' naming rules (:mod:`assetsync.protocol`) as errors for the user; so do
  :func:`check_binding_name`, :func:`check_compatibility_date` and :func:`check_main_module` for
  what a deploy says, and :func:`check_spec` checks a whole Worker spec before anything is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import AssetsyncError, ConfigError, ProtocolError, UsageError
from ..folder.manifest import Manifest
from ..protocol import (
    BINDING_NAME_RULE,
    NAMESPACE_RULE,
    SCRIPT_NAME_RULE,
    Module,
    WorkerSpec,
    api_today,
    date_problem,
    is_binding_name,
    is_namespace,
    is_script_name,
)
from ..protocol.assetrules.staticrouting import StaticRoutingError, parse_static_routing
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


def check_binding_name(name: str, where: str, error: type[AssetsyncError] = UsageError) -> str:
    """``name`` if it can name a binding; else ``error``, naming ``where`` it was set (the flag, or
    the config file and key)."""
    if not is_binding_name(name):
        raise error(f"{where} is {name!r}, which is not a binding name: use {BINDING_NAME_RULE}.")
    return name


def check_compatibility_date(
    value: str, where: str, error: type[AssetsyncError] = UsageError, today: str | None = None
) -> str:
    """``value`` if the API takes it as a compatibility date on ``today`` (default
    :func:`~assetsync.protocol.api_today`, in UTC): a real day, not after today. Else ``error`` in
    the words of :func:`~assetsync.protocol.date_problem`; ``where`` names the flag, or the config
    file and key."""
    words = date_problem(value, today or api_today())
    if words is not None:
        raise error(f"{where} is {value!r}, {words[0]}. {words[1]}")
    return value


# What a main module written in a language the runtime does not run is, by its extension.
_UNBUILT = {".ts": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript", ".tsx": "TSX", ".jsx": "JSX"}


def check_main_module(path: str, where: str) -> str:
    """``path`` if it can be a Worker's main module as it is (``.js`` / ``.mjs``); else a
    :class:`ConfigError` that says what to point ``where`` at instead. assetsync uploads modules
    as they are: it does not bundle or compile."""
    ext = os.path.splitext(path)[1].lower()
    if ext in _UNBUILT:
        raise ConfigError(
            f"{where} {path} is {_UNBUILT[ext]}, and assetsync does not bundle or compile: it uploads "
            "the Worker's JavaScript modules as they are. Build first and point it at the JavaScript "
            "that comes out, e.g. `wrangler deploy --dry-run --outdir dist` (then dist/index.js) or "
            "`esbuild src/index.ts --bundle --format=esm --outfile=dist/index.js`."
        )
    if ext not in (".js", ".mjs"):
        raise ConfigError(
            f"{where} {path} is not a .js or .mjs file: a Worker's main module is an ES module."
        )
    return path


def check_spec(spec: WorkerSpec, modules: Sequence[Module]) -> None:
    """A Worker spec the API would refuse at the deploy, refused before any upload instead: its
    compatibility date, assets binding name, a ``run_worker_first`` list the platform cannot route
    by (in Cloudflare's words, as wrangler says them), and a main module that is not among
    ``modules``."""
    if spec.compatibility_date is not None:
        check_compatibility_date(spec.compatibility_date, "the compatibility date")
    check_binding_name(spec.assets_binding, "the assets binding")
    rwf = spec.assets.run_worker_first
    if isinstance(rwf, tuple):
        try:
            parse_static_routing(rwf)
        except StaticRoutingError as exc:
            raise UsageError(
                f"run_worker_first {list(rwf)!r} cannot route requests: {exc}\nWrite each rule as "
                "/path/* (the Worker first) or !/path/* (the assets first), with at least one of the former."
            ) from None
    if spec.main_module is not None:
        names = [m.name for m in modules]
        if spec.main_module not in names:
            raise UsageError(
                f"the main module {spec.main_module!r} is not among the modules to upload "
                f"({', '.join(names) or 'none'}): pass its file with the modules."
            )


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
