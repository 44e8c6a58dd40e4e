"""The API's route table: which handler answers each method and path under ``/client/v4``.

Paths are the protocol's own (:mod:`assetsync.protocol` builds them for the client), with
Starlette's ``{placeholders}`` for the parts a request fills in, so client and emulator cannot
disagree on where a call goes.
"""

from __future__ import annotations

from starlette.routing import Route

from ... import protocol  # the API paths, built by the same functions the client uses
from ...protocol.kv import kv_path
from .base import ApiState
from .deploys import Deploys
from .kv import Kv
from .namespaces import Namespaces
from .secrets import Secrets
from .uploads import Uploads
from .wrangler import Wrangler

ACCOUNT, SCRIPT, NAMESPACE = "{account}", "{script}", "{namespace}"
KV_NAMESPACE = "{kv_namespace}"


class Api(ApiState):
    """Every route of the emulated API, over one store and one token keeper."""

    def routes(self) -> list[Route]:
        """The route table; it reads no state, so it can be listed without an emulator."""
        up, dep, ns, wr, sec = Uploads(self), Deploys(self), Namespaces(self), Wrangler(self), Secrets(self)
        workers = f"/accounts/{ACCOUNT}/workers"
        script = protocol.script_path(ACCOUNT, SCRIPT)
        ns_script = protocol.script_path(ACCOUNT, SCRIPT, NAMESPACE)
        ns_scripts = protocol.namespace_scripts_path(ACCOUNT, NAMESPACE)
        return (
            [
                Route(protocol.session_path(ACCOUNT, SCRIPT), up.upload_session, methods=["POST"]),
                Route(protocol.session_path(ACCOUNT, SCRIPT, NAMESPACE), up.upload_session, methods=["POST"]),
                Route(protocol.upload_path(ACCOUNT), up.upload, methods=["POST"]),
                Route(script, dep.deploy, methods=["PUT"]),
                Route(ns_script, dep.deploy, methods=["PUT"]),
                Route(ns_script, ns.get_script, methods=["GET"]),
                Route(ns_script, ns.delete_script, methods=["DELETE"]),
                Route(ns_scripts, ns.list_scripts, methods=["GET"]),
                Route(ns_scripts, ns.delete_scripts, methods=["DELETE"]),
                Route(workers + "/dispatch/namespaces", ns.list_namespaces, methods=["GET"]),
                Route(workers + f"/services/{SCRIPT}", wr.get_service, methods=["GET"]),
                Route(workers + f"/workers/{SCRIPT}", wr.get_worker, methods=["GET"]),
                Route(script + "/versions", dep.create_version, methods=["POST"]),
                Route(script + "/deployments", wr.list_deployments, methods=["GET"]),
                Route(script + "/deployments", dep.create_deployment, methods=["POST"]),
                Route(script + "/script-settings", wr.get_settings, methods=["GET"]),
                Route(script + "/script-settings", wr.patch_settings, methods=["PATCH"]),
                Route(protocol.subdomain_path(ACCOUNT), wr.account_subdomain, methods=["GET"]),
                Route(f"/accounts/{ACCOUNT}/queues", wr.list_queues, methods=["GET"]),
                Route(workers + "/scripts", wr.list_scripts, methods=["GET"]),
                Route(script + "/subdomain", wr.script_subdomain, methods=["GET", "POST"]),
                Route(script + "/schedules", wr.schedules, methods=["GET", "PUT"]),
            ]
            + self._kv_routes()
            + [  # secrets and settings, of an account's script and of a namespace's alike
                route
                for where in (None, NAMESPACE)
                for route in (
                    Route(protocol.secrets_path(ACCOUNT, SCRIPT, where), sec.put_secret, methods=["PUT"]),
                    Route(protocol.secrets_path(ACCOUNT, SCRIPT, where), sec.list_secrets, methods=["GET"]),
                    Route(
                        protocol.secrets_path(ACCOUNT, SCRIPT, where) + "-bulk",
                        sec.bulk_secrets,
                        methods=["PATCH"],
                    ),
                    Route(
                        protocol.secrets_path(ACCOUNT, SCRIPT, where) + "/{secret}",
                        sec.get_secret,
                        methods=["GET"],
                    ),
                    Route(
                        protocol.secrets_path(ACCOUNT, SCRIPT, where) + "/{secret}",
                        sec.delete_secret,
                        methods=["DELETE"],
                    ),
                    Route(protocol.settings_path(ACCOUNT, SCRIPT, where), sec.get_settings, methods=["GET"]),
                    Route(
                        protocol.settings_path(ACCOUNT, SCRIPT, where), sec.patch_settings, methods=["PATCH"]
                    ),
                )
            ]
        )

    def _kv_routes(self) -> list[Route]:
        """Workers KV: namespaces, and the values, metadata and keys in each (``{key:path}``: a
        key may hold ``/``; the handlers read it from the raw path)."""
        kv = Kv(self)
        every, one = kv_path(ACCOUNT), kv_path(ACCOUNT, KV_NAMESPACE)
        return [
            Route(every, kv.list_namespaces, methods=["GET"]),
            Route(every, kv.create_namespace, methods=["POST"]),
            Route(one, kv.get_namespace, methods=["GET"]),
            Route(one, kv.rename_namespace, methods=["PUT"]),
            Route(one, kv.delete_namespace, methods=["DELETE"]),
            Route(one + "/values/{key:path}", kv.get_value, methods=["GET"]),
            Route(one + "/values/{key:path}", kv.put_value, methods=["PUT"]),
            Route(one + "/values/{key:path}", kv.delete_value, methods=["DELETE"]),
            Route(one + "/metadata/{key:path}", kv.get_metadata, methods=["GET"]),
            Route(one + "/keys", kv.list_keys, methods=["GET"]),
            Route(one + "/bulk", kv.bulk_put, methods=["PUT"]),
            Route(one + "/bulk", kv.bulk_delete, methods=["DELETE"]),  # the older form
            Route(one + "/bulk/delete", kv.bulk_delete, methods=["POST"]),
            Route(one + "/bulk/get", kv.bulk_get, methods=["POST"]),
        ]
