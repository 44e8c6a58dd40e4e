"""What a plain ``wrangler deploy`` asks along the way, answered as the recorded traces show.

Before and after the deploy itself wrangler reads the service, the Worker and its deployments
(and its settings and secrets, which :mod:`.secrets` answers), patches its non-versioned
settings (tags), sets up its workers.dev subdomain (PROTOCOL.md 7), sets the Cron Triggers of
``[triggers] crons``, checks that the queues a config binds exist and, for Durable Object
migrations, lists the account's Workers. None of it
changes what is served; the answers only have to satisfy wrangler.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...protocol import check_cron
from ..envelope import BAD_REQUEST, SCRIPT_NOT_FOUND, SERVICE_NOT_FOUND, ApiError, envelope
from ..store import Script
from .base import RouteGroup
from .shapes import deployment_json, iso, listed_json, script_json, settings_json


class Wrangler(RouteGroup):
    """The account's Workers as wrangler sees them around a deploy."""

    async def get_service(self, request: Request) -> Response:
        s = self._live(request, SERVICE_NOT_FOUND)
        script = {**script_json(self.store, s), "last_deployed_from": "wrangler"}
        return envelope(
            {
                "id": s.name,
                "created_on": iso(s.created),
                "modified_on": iso(s.modified),
                "default_environment": {
                    "environment": "production",
                    "created_on": iso(s.created),
                    "modified_on": iso(s.modified),
                    "script": script,
                },
            }
        )

    async def get_worker(self, request: Request) -> Response:
        s = self._live(request)
        return envelope(
            {
                "id": hashlib.md5(s.name.encode()).hexdigest(),
                "name": s.name,
                "created_on": iso(s.created),
                "updated_on": iso(s.modified),
                "tags": s.tags,
                "logpush": False,
                "observability": s.settings.get("observability", {"enabled": False}),
                "subdomain": {"enabled": s.subdomain, "previews_enabled": s.subdomain},
                "tail_consumers": [],
            }
        )

    async def list_deployments(self, request: Request) -> Response:
        s = self._live(request)
        version = self.store.version(s.version) if s.version else None
        deployments = [deployment_json(s, version)] if version else []
        return envelope({"deployments": deployments})

    async def get_settings(self, request: Request) -> Response:
        return envelope(settings_json(self._live(request)))

    async def patch_settings(self, request: Request) -> Response:
        s = self._live(request)
        body = await self.json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, BAD_REQUEST, "settings must be a JSON object")
        settings = {**s.settings, **{k: v for k, v in body.items() if k != "tags"}}
        fields: dict[str, Any] = {"settings": settings}
        if isinstance(body.get("tags"), list):
            fields["tags"] = body["tags"]
        self.store.update_script(s.account, s.namespace, s.name, **fields)
        return envelope(settings_json(self._live(request)))

    async def list_scripts(self, request: Request) -> Response:
        """The account's Workers: wrangler reads a script's migration tag from this list."""
        account = self.account(request)
        return envelope([listed_json(item) for item in self.store.listed(account, "")])

    async def list_queues(self, request: Request) -> Response:
        """The queues asked for by ``name``, every one present. The emulator does not model
        queues: like any other binding, a queue producer's is taken as it is written. wrangler
        checks that its producers' queues exist before it deploys, so it must find them."""
        self.account(request)
        names = request.query_params.getlist("name")
        return envelope([{"queue_id": hashlib.md5(n.encode()).hexdigest(), "queue_name": n} for n in names])

    async def account_subdomain(self, request: Request) -> Response:
        self.account(request)
        if self.state.subdomain is None:  # as the API answers an account that never registered one
            raise ApiError(
                404,
                SCRIPT_NOT_FOUND,
                "This account has no workers.dev subdomain: register one on the dashboard (Workers & Pages).",
            )
        return envelope({"subdomain": self.state.subdomain})

    async def script_subdomain(self, request: Request) -> Response:
        s = self._live(request)
        if request.method == "POST":
            body = await self.json_body(request)
            enabled = bool(body.get("enabled", True)) if isinstance(body, dict) else True
            self.store.update_script(s.account, s.namespace, s.name, subdomain=int(enabled))
            return envelope({"enabled": enabled, "previews_enabled": enabled})
        return envelope({"enabled": s.subdomain, "previews_enabled": s.subdomain})

    async def schedules(self, request: Request) -> Response:
        """GET lists the script's Cron Triggers; PUT ``[{"cron": ...}]`` replaces them all."""
        s = self._live(request)
        if request.method == "PUT":
            body = await self.json_body(request)
            if not isinstance(body, list) or not all(
                isinstance(item, dict) and isinstance(item.get("cron"), str) for item in body
            ):
                raise ApiError(400, BAD_REQUEST, 'the body must be a list of {"cron": "<expression>"}')
            crons = [item["cron"] for item in body]
            for cron in crons:
                problem = check_cron(cron)
                if problem is not None:
                    raise ApiError(400, BAD_REQUEST, f"invalid cron expression {cron!r}: it {problem}")
            rows = self.store.set_schedules(s.account, s.name, crons)
        else:
            rows = self.store.schedules(s.account, s.name)
        listed = [
            {"cron": c, "created_on": iso(created), "modified_on": iso(modified)}
            for c, created, modified in rows
        ]
        return envelope({"schedules": listed})

    def _live(self, request: Request, code: int = SCRIPT_NOT_FOUND) -> Script:
        """The account's live Worker the path names, or a 404 with ``code``."""
        account = self.account(request)
        s = self.store.script(account, "", request.path_params["script"])
        if s is None:
            raise ApiError(404, code, "This Worker does not exist on your account.")
        return s
