"""Scripts in Workers for Platforms dispatch namespaces (PROTOCOL.md 5): get, list, delete.

What assetsync and wrangler ask of a namespace: one script (a missing one is a 404 with code
10092, the only answer wrangler takes for it), a page of scripts filtered by tags, deletion one
by one or by tags, and the account's namespaces.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..envelope import BAD_REQUEST, DISPATCH_SCRIPT_NOT_FOUND, ApiError, envelope
from .base import RouteGroup, check_namespace
from .shapes import iso, listed_json, script_json


class Namespaces(RouteGroup):
    """The routes under ``/workers/dispatch/namespaces``."""

    async def get_script(self, request: Request) -> Response:
        account, ns, script = self._ns_script(request)
        s = self.store.script(account, ns, script)
        if s is None:
            raise ApiError(404, DISPATCH_SCRIPT_NOT_FOUND, "Worker not found in dispatch namespace.")
        return envelope(
            {
                "created_on": iso(s.created),
                "modified_on": iso(s.modified),
                "dispatch_namespace": ns,
                "script": script_json(self.store, s),
            }
        )

    async def delete_script(self, request: Request) -> Response:
        account, ns, script = self._ns_script(request)
        if not self.store.delete_script(account, ns, script):
            raise ApiError(404, DISPATCH_SCRIPT_NOT_FOUND, "Worker not found in dispatch namespace.")
        return envelope(None)

    async def list_scripts(self, request: Request) -> Response:
        """A page of the namespace's scripts (by name), read as one page: a namespace may hold
        100,000 of them."""
        account, ns = self._namespace(request)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
            per_page = min(1000, max(1, int(request.query_params.get("per_page", "100"))))
        except ValueError:
            raise ApiError(400, BAD_REQUEST, "page and per_page must be whole numbers") from None
        filters = _tag_filters(request.query_params.get("tags") or "")
        chunk = self.store.listed(account, ns, filters, (page - 1) * per_page, per_page)
        total = self.store.count_live(account, ns, filters)
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": total}
        return envelope([listed_json(item) for item in chunk], extra={"result_info": info})

    async def delete_scripts(self, request: Request) -> Response:
        account, ns = self._namespace(request)
        raw = request.query_params.get("tags")
        if not raw:
            raise ApiError(400, BAD_REQUEST, "deleting scripts in bulk needs a ?tags=tag:yes filter")
        for name in self.store.names_matching(account, ns, _tag_filters(raw)):
            self.store.delete_script(account, ns, name)
        return envelope(None)

    async def list_namespaces(self, request: Request) -> Response:
        names = self.store.namespaces(self.account(request))
        return envelope([{"namespace_name": n, "namespace_id": n, "script_count": 0} for n in names])

    def _namespace(self, request: Request) -> tuple[str, str]:
        """The account (credentials checked) and the valid namespace the path names."""
        account = self.account(request)
        ns = request.path_params["namespace"]
        check_namespace(ns)
        return account, ns

    def _ns_script(self, request: Request) -> tuple[str, str, str]:
        # The script's name is not checked: a name no script can have is simply not found.
        return *self._namespace(request), request.path_params["script"]


def _tag_filters(raw: str) -> list[tuple[str, bool]]:
    filters = []
    for item in filter(None, raw.split(",")):
        tag, sep, want = item.rpartition(":")
        if not sep or not tag or want not in ("yes", "no"):
            raise ApiError(400, BAD_REQUEST, f"tag filter {item!r} must look like 'tag:yes' or 'tag:no'")
        filters.append((tag, want == "yes"))
    return filters
