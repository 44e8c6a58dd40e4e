"""Decide what a deployed site answers to a request, as Workers Static Assets does. Pure, no I/O.

A :class:`Site` is built once per deployed version from its asset paths (manifest keys such as
``/index.html``, raw UTF-8, starting with ``/``) and a :class:`SiteConfig`. :meth:`Site.resolve`
then takes a method and the request URL's pathname (percent-encoded as sent) and returns a
:class:`Resolution`: serve manifest key K with status 200 or 404, redirect (status and
``Location``), or a bodiless 404/405.
The path is only ever looked up in the given set; nothing touches a filesystem.

Cloudflare facts this relies on
-------------------------------
Docs: https://developers.cloudflare.com/workers/static-assets/routing/advanced/html-handling/,
.../routing/static-site-generation/ (404-page), .../routing/single-page-application/, and the
``_redirects``/``_headers`` pages (see :mod:`.redirects` and :mod:`.headers`). Code, in
``cloudflare/workers-sdk`` package ``workers-shared``: ``asset-worker/src/handler.ts``
(``getResponseOrAssetIntent``, ``getIntent``, the four ``htmlHandling*`` functions, ``notFound``,
``safeRedirect``, ``decodePath``/``encodePath``, ``handleRedirects``), at workers-sdk commit
f8308360283f97d33e188aee2e19c1ef9c09524a. Its tests (``fixtures/workers-shared-asset-config/``
and ``asset-worker/tests/handler.test.ts``) are ported in ``tests/upstream`` and all pass.

Order of work for one request (``handler.ts``):

1. ``_redirects`` first, for every method: a 301/302/303/307/308 rule answers at once; a 200 rule
   rewrites the path that is looked up (the URL the client sees does not change).
2. The pathname (what ``new URL(request.url).pathname`` gives: dot segments resolved, characters
   outside the URL path set percent-encoded) is decoded segment by segment with
   ``decodeURIComponent``; a segment that does not decode (a stray ``%``, bytes that are not
   UTF-8, as in ``/%A0``) is kept as sent. Runs of ``/`` collapse to one. Then html_handling finds
   an *intent*: an asset to serve (200, or 404 for a 404 page) or a path to redirect to.
3. No intent: 404 with no body, whatever the method.
4. An intent but a method other than GET or HEAD: 405. (HEAD is answered like GET.)
5. The canonical URL of what is served is the decoded path re-encoded with ``encodeURIComponent``
   per segment; if html_handling wants a redirect, or an asset was found but the pathname differs
   from its canonical form (``/[x]`` for ``/%5Bx%5D``, ``/a%2ebin`` for ``/a.bin``, ``/bin%2F``
   for ``/bin/``, ``//a`` for ``/a``, ``/%A0%A0`` for ``/%25A0%25A0``), answer 307 to the
   canonical path plus the request's query string.
6. Otherwise serve the asset with the intent's status.
7. ``_headers`` rules, matched on the original request path, are attached to every response.

html_handling (default ``auto-trailing-slash``), on a decoded path P:

* ``auto-trailing-slash``: files are canonical without a trailing slash (``/file`` serves
  ``/file.html``), folders with one (``/folder/`` serves ``/folder/index.html``); ``/file.html``,
  ``/file/``, ``/file/index(.html)`` 307 to ``/file``; ``/folder``, ``/folder.html``,
  ``/folder/index(.html)`` 307 to ``/folder/``. An exact file always wins; ``/index`` as a file is
  served as is.
* ``force-trailing-slash``: everything HTML is canonical with a trailing slash: ``/file/`` serves
  ``/file.html``, ``/file`` and ``/file.html`` 307 to ``/file/``.
* ``drop-trailing-slash``: everything HTML is canonical without one: ``/folder`` serves
  ``/folder/index.html``, ``/folder/`` 307 to ``/folder``; ``/`` is never dropped.
* ``none``: exact keys only.
* A redirect is only issued if the target is not itself an asset and resolving the target (without
  further redirects) lands on the very same asset (``safeRedirect``; Cloudflare compares ETags,
  i.e. content hashes: pass ``etags`` to :class:`Site` for the exact behaviour, otherwise keys are
  compared). So with both ``/both.html`` and ``/both/index.html``, each stays reachable.

not_found_handling (default ``none``), when html_handling found nothing:

* ``none``: 404 without a body.
* ``404-page``: the nearest ``404.html``, walking up from the requested folder (for ``/a/b/c``:
  ``/a/b/404.html``, ``/a/404.html``, ``/404.html``; for ``/a/b/``: ``/a/b/404.html`` first),
  served with status 404.
* ``single-page-application``: ``/index.html`` with status 200.
* If there is no such file, 404 without a body.

Beyond Cloudflare (which never sees a raw one: its URL parser resolves dot segments first), a
decoded path with a ``.`` or ``..`` segment (``/a/..%2Fb``), a NUL, or no leading ``/`` matches no
asset: it gets not_found_handling as if requested at ``/`` (so only ``/404.html`` for
``404-page``), where Cloudflare would look the odd key up and find nothing.

With a user Worker beside the assets, the router first asks :meth:`Site.can_fetch` (the asset
worker's ``canFetch``) whether the assets answer at all; :mod:`.compose` makes that decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ...protocol import HTML_HANDLING, NOT_FOUND_HANDLING
from ...protocol.assetrules.headers import HeaderUpdate, ParsedHeaders, parse_headers
from ...protocol.assetrules.redirects import ParsedRedirects, parse_redirects
from ...protocol.assetrules.rules import ParseWarning
from ...protocol.assetrules.urls import (
    PATH_ENCODE,
    decode_path,
    encode_path,
    pct_encode,
    search_string,
)

__all__ = [
    "Resolution",
    "Site",
    "SiteConfig",
]

_SERVE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """A deployed version's asset settings; ``redirects``/``headers`` are the files' text, if any."""

    html_handling: str = HTML_HANDLING[0]  # the protocol lists each mode's default first
    not_found_handling: str = NOT_FOUND_HANDLING[0]
    redirects: str | None = None
    headers: str | None = None

    def __post_init__(self) -> None:
        if self.html_handling not in HTML_HANDLING:
            raise ValueError(
                f"html_handling {self.html_handling!r} is not one of: {', '.join(HTML_HANDLING)}"
            )
        if self.not_found_handling not in NOT_FOUND_HANDLING:
            raise ValueError(
                f"not_found_handling {self.not_found_handling!r} is not one of: "
                f"{', '.join(NOT_FOUND_HANDLING)}"
            )


@dataclass(frozen=True, slots=True)
class Resolution:
    """What to answer.

    * ``asset`` set: send that manifest key's content with ``status`` (200, or 404 for a 404 page).
    * ``location`` set: a redirect with ``status`` (301/302/303/307/308); no asset.
    * neither: an empty response with ``status`` (404, 405; 500 only in a case Cloudflare also fails).

    ``headers`` and ``remove`` come from ``_headers`` (lower-case names): delete from the response
    every header named in ``remove`` (which includes every name in ``headers``: the first rule
    that sets a header replaces the response's own value), then add each pair of ``headers``.
    """

    status: int
    asset: str | None = None
    location: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Intent:
    asset: str | None = None
    status: int = 200
    redirect: str | None = None


_NO_HEADERS = HeaderUpdate()


def _unsafe(path: str) -> bool:
    """Paths that must not match any asset: see the module docstring."""
    if not path.startswith("/") or "\x00" in path:
        return True
    return any(seg in (".", "..") for seg in path.split("/"))


# One step of an html_handling lookup: (file, None) serves ``file`` if it is an asset; (file,
# destination) redirects to ``destination`` if that is a safe redirect to ``file`` (Site._safe_redirect).
_Step = tuple[str, str | None]


def _folder_index(p: str) -> tuple[str, str] | None:
    """For ``/x/index`` or ``/x/index.html``: the folder's index file ``/x/index.html`` and the
    folder ``/x/``; None for any other path."""
    if p.endswith("/index"):
        return p + ".html", p[: -len("index")]
    if p.endswith("/index.html"):
        return p, p[: -len("index.html")]
    return None


def _auto_steps(p: str) -> list[_Step]:
    """auto-trailing-slash: files are canonical without a trailing slash, folders with one."""
    index = _folder_index(p)
    if index is not None:
        file, folder = index
        steps: list[_Step] = [(file, folder), (folder[:-1] + ".html", folder[:-1])]
    elif p.endswith("/"):
        steps = [(p + "index.html", None), (p[:-1] + ".html", p[:-1])]
    elif p.endswith(".html"):
        stem = p[: -len(".html")]
        steps = [(p, stem), (stem + "/index.html", stem + "/")]
    else:
        steps = []
    return [*steps, (p, None), (p + ".html", None), (p + "/index.html", p + "/")]


def _force_steps(p: str) -> list[_Step]:
    """force-trailing-slash: every HTML page is canonical with a trailing slash."""
    index = _folder_index(p)
    if index is not None:
        file, folder = index
        steps: list[_Step] = [(file, folder), (folder[:-1] + ".html", folder)]
    elif p.endswith("/"):
        steps = [(p + "index.html", None), (p[:-1] + ".html", None)]
    elif p.endswith(".html"):
        stem = p[: -len(".html")]
        steps = [(p, stem + "/"), (p, None), (stem + "/index.html", stem + "/")]
    else:
        steps = []
    return [*steps, (p, None), (p + ".html", p + "/"), (p + "/index.html", p + "/")]


def _drop_steps(p: str) -> list[_Step]:
    """drop-trailing-slash: every HTML page is canonical without a trailing slash, bar ``/``."""
    index = _folder_index(p)
    if index is not None:
        file, folder = index
        stem = folder[:-1]
        steps: list[_Step] = [(file, stem or "/"), (p, None)]
        if stem:
            steps.append((stem + ".html", stem))
    elif p == "/":
        steps = [("/index.html", None)]
    elif p.endswith("/"):
        stem = p[:-1]
        steps = [(stem + ".html", stem), (p + "index.html", stem)]
    elif p.endswith(".html"):
        stem = p[: -len(".html")]
        steps = [(p, stem), (stem + "/index.html", stem)]
    else:
        steps = []
    return [*steps, (p, None), (p + ".html", None), (p + "/index.html", None)]


def _none_steps(p: str) -> list[_Step]:
    """none: exact keys only."""
    return [(p, None)]


_STEPS: dict[str, Callable[[str], list[_Step]]] = {
    "auto-trailing-slash": _auto_steps,
    "force-trailing-slash": _force_steps,
    "drop-trailing-slash": _drop_steps,
    "none": _none_steps,
}


class Site:
    """A deployed version: its asset paths and config, ready to answer requests.

    Construction does all the work that does not depend on the request (a set of keys, parsed and
    compiled ``_redirects``/``_headers``); :meth:`resolve` then costs a few set lookups plus one
    regex match per dynamic rule. ``etags`` optionally maps keys to content hashes, which
    Cloudflare uses to decide html_handling redirects; without it, keys stand in for hashes.
    Parse problems in ``_redirects``/``_headers`` never raise: they are listed in :attr:`warnings`.
    """

    __slots__ = ("config", "etags", "warnings", "_headers", "_keys", "_redirects", "_steps")

    def __init__(
        self,
        paths: Iterable[str],
        config: SiteConfig | None = None,
        *,
        etags: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config if config is not None else SiteConfig()
        self.etags = etags
        self._keys = frozenset(paths)
        cfg = self.config
        self._redirects: ParsedRedirects | None = (
            parse_redirects(cfg.redirects, html_handling=cfg.html_handling) if cfg.redirects else None
        )
        self._headers: ParsedHeaders | None = parse_headers(cfg.headers) if cfg.headers else None
        self.warnings: tuple[ParseWarning, ...] = (self._redirects.warnings if self._redirects else ()) + (
            self._headers.warnings if self._headers else ()
        )
        self._steps = _STEPS[cfg.html_handling]

    @property
    def paths(self) -> frozenset[str]:
        """The asset keys of this version."""
        return self._keys

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Site({len(self._keys)} paths, {self.config!r})"

    # ---------------------------------------------------------------------------------- requests

    def resolve(self, method: str, path: str, *, query: str = "", host: str | None = None) -> Resolution:
        """Answer ``method`` on the request URL's ``path`` as the client sent it.

        ``path`` is percent-encoded as on the wire (``/%5Bx%5D`` and ``/[x]`` differ: the second
        is redirected to the first); characters a URL parser would percent-encode (non-ASCII,
        spaces, ...) may also be given raw. Dot segments are expected to be resolved already
        (:func:`~assetsync.protocol.assetrules.urls.request_pathname`). ``query`` is the request's
        raw query string (with or without ``?``); it is carried into redirects. ``host`` is the
        request's ``Host``; it only matters for ``https://host/...`` rules in ``_headers`` and for
        ``_redirects`` destinations on the same origin.
        """
        pathname = pct_encode(path, PATH_ENCODE)  # what rules match: as sent, never decoded
        update = self._headers.update(pathname, host=host) if self._headers else _NO_HEADERS
        status, asset, location = self._answer(method, pathname, query, host)
        return Resolution(status, asset, location, update.headers, update.remove)

    def can_fetch(
        self, path: str, *, query: str = "", host: str | None = None, not_found: bool = False
    ) -> bool:
        """Whether the asset layer has an answer for the request, as the platform's router asks it
        (the asset worker's ``canFetch``) before falling back to the user Worker.

        Only "no intent" is False: a ``_redirects`` redirect, a 200 rewrite (even to nothing: that
        is a 404 of the assets'), an html_handling redirect, and an asset under any method (a POST
        gets the assets' 405) are all the assets' to answer, so the method is not asked for.
        ``not_found``: whether not_found_handling counts (the router keeps it with static routing,
        or for a navigation under ``assets_navigation_prefers_asset_serving``); otherwise it is
        taken as ``none``.
        """
        pathname = pct_encode(path, PATH_ENCODE)
        mode = self.config.not_found_handling if not_found else "none"
        match = self._redirects.match(pathname, query=query, host=host) if self._redirects else None
        if match is not None:
            return True
        decoded = decode_path(pathname)
        intent = self._not_found("/", mode) if _unsafe(decoded) else self._intent(decoded, False, mode)
        return intent is not None

    def _answer(
        self, method: str, pathname: str, query: str, host: str | None
    ) -> tuple[int, str | None, str | None]:
        match = self._redirects.match(pathname, query=query, host=host) if self._redirects else None
        if match is not None and not match.is_rewrite:
            return match.status, None, match.location
        if match is not None:  # a 200 rewrite: look up the destination's path instead
            pathname = match.pathname
        decoded = decode_path(pathname)
        unsafe = _unsafe(decoded)
        mode = self.config.not_found_handling
        intent = self._not_found("/", mode) if unsafe else self._intent(decoded, False, mode)
        if intent is None:
            return 404, None, None
        if method.upper() not in _SERVE_METHODS:
            return 405, None, None
        if not unsafe:
            # The canonical URL is the decoded path encoded again: any other spelling that finds
            # an asset (``/[x]``, ``/a%2ehtml``, ``//a``, a segment that is not UTF-8) redirects.
            destination = encode_path(intent.redirect or decoded)
            if intent.redirect or (intent.asset is not None and destination != pathname):
                return 307, None, destination + search_string(query)
        if intent.asset is None:
            return 500, None, None
        return intent.status, intent.asset, None

    # ----------------------------------------------------------------------------- html_handling

    def _etag(self, key: str) -> tuple[bool, str]:
        if self.etags is not None and key in self.etags:
            return True, self.etags[key]
        return False, key

    def _serve(self, key: str, status: int = 200) -> _Intent:
        return _Intent(asset=key, status=status)

    def _intent(self, p: str, skip: bool, not_found: str) -> _Intent | None:
        """What html_handling makes of the decoded path ``p``: the first of its mode's steps that
        applies, else not_found_handling ``not_found``. ``skip``: no redirects (a redirect's
        target is being resolved)."""
        keys = self._keys
        if p.endswith("/index") and p in keys:  # an /index file is served as is, in every mode
            return self._serve(p)
        for file, destination in self._steps(p):
            if destination is None:
                if file in keys:
                    return self._serve(file)
            elif not skip:
                redirect = self._safe_redirect(file, destination, not_found)
                if redirect is not None:
                    return redirect
        return self._not_found(p, not_found)

    def _safe_redirect(self, file: str, destination: str, not_found: str) -> _Intent | None:
        """Redirect to ``destination`` only if it is no asset itself but resolves to ``file``."""
        if destination in self._keys:
            return None
        intent = self._intent(destination, True, not_found)
        if (
            intent is not None
            and intent.asset is not None
            and file in self._keys
            and self._etag(intent.asset) == self._etag(file)
        ):
            return _Intent(redirect=destination)
        return None

    # ------------------------------------------------------------------------ not_found_handling

    def _not_found(self, p: str, mode: str) -> _Intent | None:
        if mode == "single-page-application":
            return self._serve("/index.html") if "/index.html" in self._keys else None
        if mode == "404-page":
            cwd = p
            while cwd:
                cwd = cwd[: cwd.rfind("/")]
                page = cwd + "/404.html"
                if page in self._keys:
                    return self._serve(page, 404)
        return None
