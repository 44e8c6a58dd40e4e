"""The HTTP layer: one call per API operation, over httpx's async client.

Each call sends one request and turns its answer into a value or an exception from
:mod:`assetsync.errors`; retrying is the caller's business (:mod:`assetsync.retry` decides), and a
call of several requests (every page of a listing) takes the caller's :class:`~assetsync.retry.Retrier`.
Every request goes through the client's :class:`~assetsync.ratepacer.RateGate`, which keeps a run
under the API's rate limit and learns the budget from the answers.
The API token and upload tokens go only into ``Authorization`` headers (a global API key and its
email into ``X-Auth-Key`` / ``X-Auth-Email``, as wrangler sends them): no message, exception or
log line carries them. Requests are named in errors by method and path.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from .._version import __version__
from ..errors import (
    ApiError,
    AuthError,
    NetworkError,
    ProtocolError,
    RateLimited,
    RequestRefused,
    ServerError,
)
from ..protocol import (
    NO_ROUTE,
    SCRIPT_NOT_FOUND,
    Module,
    namespace_scripts_path,
    schedules_path,
    script_path,
    secrets_path,
    session_path,
    settings_path,
    subdomain_path,
    upload_path,
)
from ..ratepacer import Pacer, RateGate
from ..retry import Retrier, parse_retry_after
from .body import MultipartBody
from .target import credential

# Unsent bytes a connection's kernel buffer may hold: a body write then completes as the link
# carries it, not megabytes ahead, so progress, the measured rate and a stall are the link's.
NOTSENT_LOWAT = 128 << 10
MAX_ANSWER = 16 << 20  # an API answer larger than this is not one the protocol allows
BASE_URL_SETTINGS = "--api-base, CLOUDFLARE_API_BASE_URL"


class _Request(TypedDict, total=False):
    """What a request carries besides its method and path."""

    token: str  # an upload token, instead of the API token
    content: bytes | MultipartBody
    headers: Mapping[str, str]
    files: list[tuple[str, tuple[str | None, bytes, str | None]]]
    params: Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class UploadSession:
    jwt: str
    buckets: list[list[str]]


def _stalled(exc: httpx.TimeoutException, what: str, request: str, timeout: float) -> str:
    """What a request that made no progress for ``timeout`` seconds was waiting for."""
    if isinstance(exc, httpx.WriteTimeout):
        waiting = f"no bytes of the request moved for {timeout:g}s: the link stalled"
    elif isinstance(exc, httpx.ConnectTimeout):
        waiting = f"no connection within {min(10.0, timeout):g}s"
    elif isinstance(exc, httpx.PoolTimeout):
        waiting = f"no free connection within {timeout:g}s"
    else:
        waiting = f"no answer within {timeout:g}s"
    return (
        f"{what}: {waiting} on {request}. A slow link is not a stall (uploads take as long as it "
        "needs); assetsync retries, and --timeout sets how long no progress is tolerated."
    )


def _network(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """The transport to the network: httpx's, with :data:`NOTSENT_LOWAT` on every connection
    where the system has the option (Linux, macOS)."""
    option = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    options = [(socket.IPPROTO_TCP, option, NOTSENT_LOWAT)] if option is not None else []
    return httpx.AsyncHTTPTransport(limits=limits, socket_options=options)


class ApiClient:
    """Talks to the Cloudflare API (or anything that speaks it) for one account."""

    def __init__(
        self,
        base_url: str,
        token: str,
        account_id: str,
        *,
        email: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        max_connections: int = 32,
        pacer: Pacer | None = None,
    ) -> None:
        """``token``: an API token, or with ``email`` the global API key of that email's user.
        Either is checked for characters no header can carry (a
        :class:`~assetsync.errors.UsageError` that does not show it). ``pacer``: how the run's
        requests are paced (default: not at all until an answer states a budget)."""
        self.account_id = account_id
        self.gate = RateGate(pacer)
        self.timeout = timeout
        self.requests_sent = 0  # every request this client sent, retries included: a run's cost
        self._token = credential(token, "the API token") or ""
        self._email = credential(email, "the email") if email is not None else None
        self._check = (
            "Check CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL (the global API key of that email's user)"
            if self._email
            else "Check CLOUDFLARE_API_TOKEN (it needs the Workers Scripts edit permission)"
        )
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport or _network(limits),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=limits,
            headers={"User-Agent": f"assetsync/{__version__}"},
            follow_redirects=False,
        )

    @property
    def pacer(self) -> Pacer:
        """The run's pacing: its rate (:attr:`~assetsync.ratepacer.Pacer.rate`), the budget left..."""
        return self.gate.pacer

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing ------------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, what: str, **kw: Unpack[_Request]) -> tuple[int, object]:
        """Send one request; return (status, envelope result) or raise an ApiError."""
        status, envelope = await self._exchange(method, path, what=what, **kw)
        return status, envelope.get("result")

    async def _exchange(
        self, method: str, path: str, *, what: str, **kw: Unpack[_Request]
    ) -> tuple[int, dict[str, Any]]:
        """Send one request; return (status, the whole envelope) or raise an ApiError."""
        request = f"{method} {path}"
        headers = {**kw.get("headers", {}), **self._auth(kw.get("token"))}
        ticket = await self.gate.acquire()
        self.requests_sent += 1
        try:
            req = self._http.build_request(
                method,
                path,
                headers=headers,
                content=kw.get("content"),
                files=kw.get("files"),
                params=kw.get("params"),
            )
            response = await self._http.send(req, stream=True)
            try:
                raw = await _read_capped(response, request, what)
            finally:
                await response.aclose()
        except BaseException as exc:
            self.gate.failed()
            if isinstance(exc, httpx.TimeoutException):
                raise NetworkError(_stalled(exc, what, request, self.timeout), request=request) from None
            if isinstance(exc, httpx.HTTPError):
                text = self._scrub(f"{what}: {_describe(exc)} on {request}.", kw.get("token"))
                raise NetworkError(text, request=request) from None
            raise
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        # Only answers to the run's own credential speak of its budget; an upload token has its own.
        paced = self.gate.answered(
            ticket, status, response.headers, retry_after, learn=kw.get("token") is None
        )
        envelope = _parse(raw)
        if 200 <= status < 300 and envelope is not None and envelope.get("success") is not False:
            return status, envelope
        error = _error(status, envelope, raw, request, what, response.headers, self._check)
        error.paced = paced
        raise error

    def _auth(self, token: str | None) -> dict[str, str]:
        """The credential headers: an upload token's, else the API token's or global key's."""
        if token is None and self._email is not None:
            return {"X-Auth-Key": self._token, "X-Auth-Email": self._email}
        return {"Authorization": f"Bearer {token or self._token}"}

    def _scrub(self, text: str, token: str | None) -> str:
        """``text`` with every credential this request carried cut out (an HTTP library's error
        may quote a header). One under 8 characters is no real credential, and cutting it out
        would mangle the words around it."""
        for secret in (token, self._token, self._email):
            if secret and len(secret) >= 8:
                text = text.replace(secret, "<credential>")
        return text

    # -- the asset upload protocol -------------------------------------------------------

    async def open_session(self, script: str, namespace: str | None, manifest_json: str) -> UploadSession:
        """POST the manifest; the server answers which hashes it lacks, in buckets."""
        path = session_path(self.account_id, script, namespace)
        _, result = await self._send(
            "POST",
            path,
            what="opening the upload session",
            content=manifest_json.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        request = f"POST {path}"
        if not isinstance(result, dict) or not _token_like(result.get("jwt")):
            if not isinstance(result, dict):
                problem = f"result: {_short(result)}"
            elif "jwt" not in result:
                problem = "the result has no 'jwt'"
            else:
                problem = "its 'jwt' is not a token"  # and is not shown: tokens never are
            raise ProtocolError(
                f"opening the upload session: the server answered without an upload token ({problem}) "
                f"on {request}. This is usually a passing fault on the server's side: run again.",
                request=request,
            )
        buckets = result.get("buckets") or []
        if not isinstance(buckets, list) or not all(
            isinstance(b, list) and all(isinstance(h, str) for h in b) for b in buckets
        ):
            raise ProtocolError(
                f"opening the upload session: 'buckets' is not a list of lists of hashes on {request}.",
                request=request,
            )
        return UploadSession(result["jwt"], [b for b in buckets if b])

    async def upload(self, jwt: str, body: MultipartBody) -> str | None:
        """Upload one bucket; returns the completion token if this request completed the set."""
        path = upload_path(self.account_id) + "?base64=true"
        status, result = await self._send(
            "POST",
            path,
            token=jwt,
            what=f"uploading {len(body.parts)} file{'s' if len(body.parts) != 1 else ''}",
            content=body,
            headers={"Content-Type": body.content_type, "Content-Length": str(body.length)},
        )
        if isinstance(result, dict) and result.get("jwt"):
            if not _token_like(result["jwt"]):
                raise ProtocolError(
                    f"uploading: the completion token in the answer is not a token on POST {path}.",
                    status=status,
                    request=f"POST {path}",
                )
            return str(result["jwt"])
        return None

    async def deploy(
        self, script: str, namespace: str | None, metadata: Mapping[str, Any], modules: Sequence[Module] = ()
    ) -> dict[str, Any]:
        """PUT the script: metadata first, then one part per module (PROTOCOL.md 4.3)."""
        files: list[tuple[str, tuple[str | None, bytes, str | None]]] = [
            ("metadata", (None, json.dumps(metadata).encode(), None))
        ]
        files += [(m.name, (m.name, m.body, m.content_type)) for m in modules]
        path = script_path(self.account_id, script, namespace)
        _, result = await self._send("PUT", path, what="deploying", files=files)
        return result if isinstance(result, dict) else {}

    async def migration_tag(self, script: str, namespace: str | None) -> str | None:
        """The live script's Durable Object migration tag: ``None`` for a script that does not
        exist yet or never migrated. A deploy with migrations must start from it."""
        if namespace:
            path = script_path(self.account_id, script, namespace)
        else:  # the script as a service: one script's record, where wrangler lists every script
            path = f"/accounts/{self.account_id}/workers/services/{script}"
        try:
            _, result = await self._send("GET", path, what="reading the live migration tag")
        except RequestRefused as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(result, dict) and not namespace:
            result = result.get("default_environment")
        record = result.get("script") if isinstance(result, dict) else None
        tag = record.get("migration_tag") if isinstance(record, dict) else None
        return tag if isinstance(tag, str) and tag else None

    # -- where a deploy went (information only) ------------------------------------------

    async def account_subdomain(self) -> str | None:
        """The account's workers.dev subdomain (``<sub>`` of ``<script>.<sub>.workers.dev``), or
        None when the account has none (the API answers 404, code 10007, as wrangler expects)."""
        path = subdomain_path(self.account_id)
        try:
            _, result = await self._send("GET", path, what="reading the workers.dev subdomain")
        except RequestRefused as exc:
            if exc.status == 404 and exc.code in (None, SCRIPT_NOT_FOUND):
                return None
            raise
        sub = result.get("subdomain") if isinstance(result, dict) else None
        if not isinstance(sub, str) or not _SUBDOMAIN.fullmatch(sub.lower()):
            raise ProtocolError(f"the answer to GET {path} has no valid 'subdomain'.", request=f"GET {path}")
        return sub.lower()

    async def workers_dev_enabled(self, script: str) -> bool:
        """Whether the script answers on its workers.dev URL (its ``subdomain.enabled`` flag)."""
        path = script_path(self.account_id, script) + "/subdomain"
        _, result = await self._send("GET", path, what="reading the script's workers.dev setting")
        if not isinstance(result, dict) or not isinstance(result.get("enabled"), bool):
            raise ProtocolError(f"the answer to GET {path} has no 'enabled' flag.", request=f"GET {path}")
        return bool(result["enabled"])

    # -- scripts in a dispatch namespace -------------------------------------------------

    async def _scripts_page(
        self, namespace: str, page: int, per_page: int = 100, tags: str | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the namespace's scripts, and the ``total_count`` the server reports (or None).

        ``tags`` is the server-side filter of PROTOCOL.md section 5 (``tag:yes,other:no``).
        """
        path = namespace_scripts_path(self.account_id, namespace)
        params: dict[str, str | int] = {"page": page, "per_page": per_page}
        if tags:
            params["tags"] = tags
        _, envelope = await self._exchange("GET", path, what="listing scripts", params=params)
        result = envelope.get("result")
        if not isinstance(result, list):
            raise ProtocolError(
                f"listing scripts: the result is not a list on GET {path}.", request=f"GET {path}"
            )
        info = envelope.get("result_info")
        total = info.get("total_count") if isinstance(info, dict) else None
        return [r for r in result if isinstance(r, dict)], total if isinstance(total, int) else None

    async def list_scripts(
        self, namespace: str, tags: str | None, retrying: Retrier, per_page: int = 100
    ) -> list[dict[str, Any]]:
        """Every script in the namespace (all pages), filtered as ``tags`` says (``tag:yes,other:no``);
        each page is asked for through ``retrying``.

        Pages are followed until ``result_info.total_count`` scripts have arrived, or, from a
        server that reports no total, until an empty page: a server that caps ``per_page`` below
        what was asked must not end the listing after its first page. A page of nothing new (a
        server ignoring ``page``) ends it too, rather than looping for ever.
        """
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        page = 1
        while True:

            async def call(page: int = page) -> tuple[list[dict[str, Any]], int | None]:
                return await self._scripts_page(namespace, page, per_page, tags)

            rows, total = await retrying(f"listing the scripts of {namespace}", call)
            fresh = [r for r in rows if str(r.get("id")) not in seen]
            seen.update(str(r.get("id")) for r in rows)
            out.extend(fresh)
            if not rows or not fresh or (total is not None and len(out) >= total):
                return out
            page += 1

    async def delete_script(self, namespace: str, script: str) -> None:
        await self._send("DELETE", script_path(self.account_id, script, namespace), what=f"deleting {script}")

    # -- a script's secrets and settings; the account's workers.dev subdomain ------------

    async def put_secret(self, script: str, namespace: str | None, name: str, text: str) -> None:
        """Set one secret of the script (a new version of it, live at once). The value goes into
        the request body only."""
        body = json.dumps({"name": name, "text": text, "type": "secret_text"}).encode()
        path = secrets_path(self.account_id, script, namespace)
        await self._send(
            "PUT",
            path,
            what=f"setting secret {name}",
            content=body,
            headers={"Content-Type": "application/json"},
        )

    async def put_schedules(self, script: str, crons: tuple[str, ...]) -> list[str]:
        """Replace the account script's Cron Triggers with ``crons`` (none: remove them all);
        returns the crons the answer lists."""
        path = schedules_path(self.account_id, script)
        body = json.dumps([{"cron": cron} for cron in crons]).encode()
        what = "setting the Cron Triggers"
        _, result = await self._send(
            "PUT", path, what=what, content=body, headers={"Content-Type": "application/json"}
        )
        listed = result.get("schedules") if isinstance(result, dict) else None
        if not isinstance(listed, list) or not all(isinstance(s, dict) for s in listed):
            raise ProtocolError(f"the answer to PUT {path} has no 'schedules' list.", request=f"PUT {path}")
        return [str(s.get("cron")) for s in listed]

    async def list_secrets(self, script: str, namespace: str | None) -> list[dict[str, Any]]:
        """The script's secrets: ``{"name", "type"}`` each (the API never shows their values)."""
        path = secrets_path(self.account_id, script, namespace)
        _, result = await self._send("GET", path, what="listing secrets")
        if not isinstance(result, list):
            raise ProtocolError(
                f"listing secrets: the result is not a list on GET {path}.", request=f"GET {path}"
            )
        return [r for r in result if isinstance(r, dict)]

    async def delete_secret(self, script: str, namespace: str | None, name: str) -> None:
        path = secrets_path(self.account_id, script, namespace) + "/" + quote(name, safe="")
        await self._send("DELETE", path, what=f"deleting secret {name}", params={"url_encoded": "true"})

    async def script_settings(self, script: str, namespace: str | None) -> dict[str, Any]:
        """The script's settings: its bindings (secrets without values), compatibility date and
        flags, tags..."""
        path = settings_path(self.account_id, script, namespace)
        _, result = await self._send("GET", path, what="reading settings")
        if not isinstance(result, dict):
            raise ProtocolError(
                f"reading settings: the result is not an object on GET {path}.", request=f"GET {path}"
            )
        return result


async def _read_capped(response: httpx.Response, request: str, what: str) -> bytes:
    """The answer's body, refused once it is bigger than any API answer can be.

    The refusal carries the HTTP status, so a 2xx with a giant body counts as the protocol
    breach it is and is not retried like a dropped connection.
    """

    def too_big() -> ProtocolError:
        return ProtocolError(
            f"{what}: the answer to {request} is over {MAX_ANSWER >> 20} MiB (HTTP {response.status_code}), "
            f"which no API answer is. Is the API base URL ({BASE_URL_SETTINGS}) right?",
            status=response.status_code,
            request=request,
        )

    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER and "content-encoding" not in response.headers:
        raise too_big()
    body = bytearray()
    async for chunk in response.aiter_bytes():  # decoded; capped after decoding, so no bomb gets by
        body += chunk
        if len(body) > MAX_ANSWER:
            raise too_big()
    return bytes(body)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser's depth
        return None
    return value if isinstance(value, dict) else None


_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}")  # what may follow "Bearer " in a header
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # one DNS label: it goes into a URL


def _token_like(value: object) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def _short(value: object, limit: int = 200) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(exc: httpx.HTTPError) -> str:
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or name}); is the API base URL right and the server up?"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection was cut short ({exc or name})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"the connection failed ({exc or name})"
    return f"{name}: {exc}"


def _error(
    status: int,
    envelope: dict[str, Any] | None,
    raw: bytes,
    request: str,
    what: str,
    headers: httpx.Headers,
    check: str = "Check CLOUDFLARE_API_TOKEN (it needs the Workers Scripts edit permission)",
) -> ApiError:
    code, message = None, ""
    if envelope is not None:
        errors = envelope.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            given = errors[0].get("code")
            code = given if isinstance(given, int) and not isinstance(given, bool) else None
            message = _short(errors[0].get("message", ""), 300)
    retry_after = parse_retry_after(headers.get("retry-after"), time.time())
    detail = (
        f"HTTP {status}"
        + (f", code {code}" if code is not None else "")
        + (f": {message}" if message else "")
    )
    kw: dict[str, Any] = {"status": status, "code": code, "request": request, "retry_after": retry_after}
    if envelope is None:
        kind = "an HTML page" if raw.lstrip()[:1] == b"<" else "not JSON"
        text = f"{what}: the server answered {kind} (HTTP {status}) on {request}"
        if status >= 500 or status in (408, 429):
            return (RateLimited if status == 429 else ServerError)(text + ". Retrying later may help.", **kw)
        return ProtocolError(f"{text}. Is the API base URL ({BASE_URL_SETTINGS}) right?", **kw)
    if 200 <= status < 300:
        return ProtocolError(
            f"{what}: the server reported failure with HTTP {status} ({detail}) on {request}.", **kw
        )
    if status == 404 and code == NO_ROUTE:
        return AuthError(
            f"{what}: {detail} on {request}. The API cannot route this request, which usually means "
            "a wrong account id: check CLOUDFLARE_ACCOUNT_ID (or --account-id) and the API base URL.",
            **kw,
        )
    if status in (401, 403):
        return AuthError(f"{what}: {detail} on {request}. {check} and the account id.", **kw)
    if status == 429:
        return RateLimited(f"{what}: rate limited ({detail}) on {request}.", **kw)
    if status >= 500:
        return ServerError(f"{what}: server error ({detail}) on {request}.", **kw)
    return RequestRefused(f"{what}: the server refused the request ({detail}) on {request}.", **kw)
