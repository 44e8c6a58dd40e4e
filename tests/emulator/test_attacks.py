"""The emulator as a server others could reach: raw requests over a real socket, as an attacker
would send them. Every answer to a bad request is a 4xx Cloudflare envelope, never a 500 and never
a crash; credentials are checked on every route; tokens stay inside their account, scope, script
and session; previews only ever serve files of a deployed manifest."""

from __future__ import annotations

import base64
import errno
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from assetsync.emulator.api import Limits

from ..conftest import ACCOUNT, SOAK, soak_runs
from ..helpers import LiveEmulator, make_tree, multipart, run_cli
from .test_api import api, deploy, manifest_of, publish, session, upload

OTHER = "fedcba9876543210fedcba9876543210"
NO_KEY: Any = None  # alg "none" takes no key; PyJWT's stubs disagree across versions
ALL = "token-for-every-account-0123456789abcdef"  # long enough to be an HMAC key, for one test
TOKENS = {ALL: None, "token-a": ACCOUNT, "token-b": OTHER}

# Generated input: bounded and the same on every run in CI; ASSETSYNC_SOAK=N tries N fresh examples
# (never fewer than CI's).
GENERATED = soak_runs(60)
EXAMPLES = settings(
    max_examples=GENERATED,
    deadline=None,
    derandomize=not SOAK,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SOAK_TIME = pytest.mark.timeout(max(120, GENERATED))  # a soak may take a second per example


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEmulator]:
    """One emulator for the module: every test here either is refused or works in its own scripts."""
    with LiveEmulator(tmp_path_factory.mktemp("attacks"), api_tokens=TOKENS) as live:
        live.token = ALL
        yield live


@pytest.fixture(scope="module")
def client(server: LiveEmulator) -> Iterator[httpx.Client]:
    """One API client for the generated tests (a client per example would cost more than the test)."""
    with api(server) as c:
        yield c


def envelope_of(r: httpx.Response) -> tuple[int, int]:
    """(status, error code) of an error answer, after checking it is a well-formed envelope."""
    assert r.headers.get("content-type") == "application/json", (r.status_code, r.text[:200])
    body = r.json()
    assert set(body) >= {"success", "errors", "messages", "result"}
    assert body["success"] is False and body["result"] is None
    assert isinstance(body["errors"], list) and len(body["errors"]) == 1
    error = body["errors"][0]
    assert isinstance(error["code"], int) and isinstance(error["message"], str) and error["message"]
    return r.status_code, error["code"]


def raw_request(port: int, data: bytes) -> tuple[int, bytes]:
    """Send a request exactly as given (no client normalises its path), asking the server to close
    the connection after it; (status, body) of the answer."""
    line, _, rest = data.partition(b"\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(line + b"\r\nConnection: close\r\n" + rest)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def still_serving(live: LiveEmulator) -> None:
    """The server answers a plain request after whatever came before, and kept no half-blob."""
    r = httpx.get(
        f"{live.api}/accounts/{ACCOUNT}/workers/subdomain", headers={"Authorization": f"Bearer {ALL}"}
    )
    assert r.status_code == 200
    assert os.listdir(live.emulator.store.tmp_dir) == []


# -- credentials on every route ------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every route the API serves, with its parameters filled in."""
    from assetsync.emulator.api import Api

    out = []
    for route in Api.routes(Api.__new__(Api)):  # the route table needs no state
        path = route.path.replace("{key:path}", "a%2Fkey").format(
            account=ACCOUNT, script="site", namespace="ns", secret="KEY", kv_namespace="0" * 32
        )
        for method in sorted(route.methods or ()):
            if method != "HEAD":  # HEAD answers have no body to check
                out.append((method, "/client/v4" + path))
    return out


ROUTES = _routes()
UPLOAD_ROUTE = f"/client/v4/accounts/{ACCOUNT}/workers/assets/upload"


def _claims(live: LiveEmulator, kind: str = "upload") -> dict[str, Any]:
    """Claims of a token for a session that was never opened."""
    now = int(time.time())
    return {
        "kind": kind,
        "acct": ACCOUNT,
        "ns": None,
        "script": "site",
        "sid": "0" * 32,
        "iat": now,
        "exp": now + 600,
    }


def _signed(live: LiveEmulator, claims: dict[str, Any]) -> str:
    return pyjwt.encode(claims, live.emulator.tokens._key, algorithm="HS256")


@dataclass(frozen=True, slots=True)
class Issued:
    """Upload tokens the emulator really issued, for open sessions: each bad credential below is
    one of them with a single defect, so that defect is the only reason left to refuse it."""

    key: str  # the emulator's signing key
    token: str  # ACCOUNT's script "site"
    other: str  # the same script of OTHER, another account

    @property
    def claims(self) -> dict[str, Any]:
        return dict(pyjwt.decode(self.token, options={"verify_signature": False}))

    def tampered(self) -> str:
        """The real token with its payload edited afterwards (another script), signature kept."""
        header, _, signature = self.token.split(".")
        edited = json.dumps({**self.claims, "script": "victim"}).encode()
        return f"{header}.{base64.urlsafe_b64encode(edited).rstrip(b'=').decode()}.{signature}"


@pytest.fixture(scope="module")
def issued(server: LiveEmulator) -> Issued:
    # A hash no session ever uploads, so both sessions stay open for the whole module.
    manifest = {"/open.txt": {"hash": "b" * 32, "size": 1}}
    tokens = []
    with api(server) as c:
        for account in (ACCOUNT, OTHER):
            r = c.post(
                f"/accounts/{account}/workers/scripts/site/assets-upload-session", json={"manifest": manifest}
            )
            assert r.json()["result"]["buckets"] == [["b" * 32]]
            tokens.append(str(r.json()["result"]["jwt"]))
    return Issued(server.emulator.tokens._key, *tokens)


# Authorization header of each bad credential (None: no header at all).
CREDENTIALS: dict[str, Callable[[Issued], str | None]] = {
    "none": lambda i: None,
    "empty bearer": lambda i: "Bearer",
    "basic auth": lambda i: "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "wrong api token": lambda i: "Bearer not-a-token",
    "api token of another account": lambda i: "Bearer token-b",
    "expired jwt": lambda i: (
        "Bearer " + pyjwt.encode({**i.claims, "exp": int(time.time()) - 10}, i.key, algorithm="HS256")
    ),
    "jwt signed with another key": lambda i: (
        "Bearer " + pyjwt.encode(i.claims, "another-key-" * 4, algorithm="HS256")
    ),
    "jwt with alg none": lambda i: "Bearer " + pyjwt.encode(i.claims, NO_KEY, algorithm="none"),
    "jwt with a tampered payload": lambda i: "Bearer " + i.tampered(),
    "upload token of another account": lambda i: "Bearer " + i.other,
    "jwt signed with the api token": lambda i: "Bearer " + pyjwt.encode(i.claims, ALL, algorithm="HS256"),
}

# What each is refused with, (status, code, message): on the API routes, which take API tokens,
# and on the upload route, which takes upload tokens only. The message names the reason, so a
# credential refused for another one (an "expired" token whose session does not exist, say)
# fails the test.
MISSING = (401, 10000, "Authentication error: missing Authorization: Bearer header")
NOT_BEARER = (401, 10000, "Authentication error: expected Authorization: Bearer <token>")
A_JWT = (401, 10000, "Authentication error: an upload token cannot call this route")
NOT_A_JWT = (401, 10001, "invalid upload token: it is not a well-formed JWT")
BAD_SIGNATURE = (401, 10001, "invalid upload token: its signature does not match")
REFUSED: dict[str, tuple[tuple[int, int, str], tuple[int, int, str]]] = {
    "none": (MISSING, MISSING),
    "empty bearer": (NOT_BEARER, NOT_BEARER),
    "basic auth": (NOT_BEARER, NOT_BEARER),
    "wrong api token": ((401, 10000, "Authentication error: invalid API token"), NOT_A_JWT),
    "api token of another account": (
        (403, 10000, "Authentication error: this token has no access to that account"),
        NOT_A_JWT,
    ),
    "expired jwt": (A_JWT, (401, 10001, "the upload token has expired: open a new upload session")),
    "jwt signed with another key": (A_JWT, BAD_SIGNATURE),
    "jwt with alg none": (A_JWT, (401, 10001, "invalid upload token: only HS256 tokens are accepted")),
    "jwt with a tampered payload": (A_JWT, BAD_SIGNATURE),
    "upload token of another account": (
        A_JWT,
        (401, 10001, "the upload token was issued for another account"),
    ),
    "jwt signed with the api token": (A_JWT, BAD_SIGNATURE),
}


def refusal_of(r: httpx.Response) -> tuple[int, int, str]:
    """(status, error code, message) of a well-formed error envelope."""
    return (*envelope_of(r), r.json()["errors"][0]["message"])


def _body_for(method: str, path: str) -> dict[str, Any]:
    """A well-formed body for the route, so that only the credentials can be what is refused."""
    if method in ("GET", "DELETE"):
        return {}
    if path == UPLOAD_ROUTE:
        ctype, body = multipart([("a" * 32, "a" * 32, "text/plain", b"")])
        return {"content": body, "headers": {"Content-Type": ctype}}
    if path.endswith("assets-upload-session"):
        return {"json": {"manifest": {"/a.txt": {"hash": "a" * 32, "size": 0}}}}
    if method == "PUT":
        ctype, body = multipart([("metadata", None, None, b'{"assets": {"keep_assets": true}}')])
        return {"content": body, "headers": {"Content-Type": ctype}}
    return {"json": {"versions": [{"version_id": "x", "percentage": 100}], "enabled": True}}


@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_every_route_refuses_bad_credentials(
    server: LiveEmulator, issued: Issued, credentials: str, tried: Callable[..., None]
) -> None:
    tried("attacks", f"every API route with {credentials}", len(ROUTES))
    header = CREDENTIALS[credentials](issued)
    on_api, on_upload = REFUSED[credentials]
    store = server.emulator.store
    before = (store.all_live(), store.db.query("SELECT COUNT(*) FROM sessions"))
    with httpx.Client(base_url=server.origin, timeout=30) as c:
        for method, path in ROUTES:
            kw = _body_for(method, path)
            headers = {**kw.pop("headers", {}), **({"Authorization": header} if header is not None else {})}
            r = c.request(method, path, headers=headers, **kw)
            assert refusal_of(r) == (on_upload if path == UPLOAD_ROUTE else on_api), (method, path)
    assert (store.all_live(), store.db.query("SELECT COUNT(*) FROM sessions")) == before  # nothing made


def test_the_issued_token_itself_gets_past_the_credentials_check(
    server: LiveEmulator, issued: Issued
) -> None:
    # The control for the matrix above: unaltered, the token is let in, and what is refused then
    # is the upload itself (the body names a hash the session did not ask for).
    kw = _body_for("POST", UPLOAD_ROUTE)
    headers = {**kw.pop("headers"), "Authorization": f"Bearer {issued.token}"}
    r = httpx.post(server.origin + UPLOAD_ROUTE, headers=headers, timeout=30, **kw)
    assert (
        refusal_of(r)[:2] == (400, 10021) and "not a hash this upload session asked for" in refusal_of(r)[2]
    )


def test_routes_cover_the_api() -> None:
    # A route added later is in the matrix above without anyone listing it.
    assert len(ROUTES) >= 22 and ("POST", UPLOAD_ROUTE) in ROUTES


# -- tokens stay in their account, scope, script and session -------------------------------------


def _hashes(result: dict[str, Any]) -> list[str]:
    return [h for bucket in result["buckets"] for h in bucket]


def test_an_upload_token_writes_only_into_its_own_namespace(
    server: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("attacks", "upload token used to write into another namespace")
    files = {"/same.txt": b"the very same bytes"}  # unsalted: both namespaces name the same hash
    m = manifest_of(files)
    digest = m["/same.txt"]["hash"]
    with api(server) as c:
        a = session(c, m, "same", "scope-a").json()["result"]
        b = session(c, m, "same", "scope-b").json()["result"]
    assert _hashes(a) == _hashes(b) == [digest]
    done = upload(server, a["jwt"], files, m, [digest])
    assert done.status_code == 201
    # Stored for scope-a only: scope-b still lacks it, and its session cannot complete on a's upload.
    with api(server) as c:
        again = session(c, m, "same", "scope-b").json()["result"]
        assert _hashes(again) == [digest]
        status, code = envelope_of(deploy(c, {"assets": {"jwt": b["jwt"]}}, "same", "scope-b"))
        assert (status, code) == (401, 10001)  # an upload token is not a completion token
    # a's token cannot name a hash of b's session that a's manifest lacks either.
    other = {"/b-only.txt": b"only in b"}
    mb = manifest_of(other)
    with api(server) as c:
        session(c, mb, "same", "scope-b")
    r = upload(server, a["jwt"], other, mb, [mb["/b-only.txt"]["hash"]])
    assert envelope_of(r) == (400, 10021)
    store = server.emulator.store
    assert store.present(f"ns:{ACCOUNT}:scope-b", [digest, mb["/b-only.txt"]["hash"]]) == {}
    assert not os.path.exists(store.blob_path(f"ns:{ACCOUNT}:scope-b", digest))


@pytest.mark.parametrize(
    ("script", "namespace", "account"),
    [("two", "ns", ACCOUNT), ("one", "other-ns", ACCOUNT), ("one", None, ACCOUNT), ("one", "ns", OTHER)],
    ids=["other-script", "other-namespace", "account-workers", "other-account"],
)
def test_a_completion_token_is_not_replayed_elsewhere(
    server: LiveEmulator, script: str, namespace: str | None, account: str, tried: Callable[..., None]
) -> None:
    tried("attacks", "completion token replayed for another script, namespace or account")
    files = {"/x.txt": b"x for one"}
    m = manifest_of(files, "one")
    with api(server) as c:
        res = session(c, m, "one", "ns").json()["result"]
    completion = res["jwt"]  # stored by an earlier case already: the session completed at once
    if _hashes(res):
        completion = upload(server, res["jwt"], files, m, _hashes(res)).json()["result"]["jwt"]
    where = f"dispatch/namespaces/{namespace}/scripts" if namespace else "scripts"
    ctype, body = multipart([("metadata", None, None, json.dumps({"assets": {"jwt": completion}}).encode())])
    r = httpx.put(
        f"{server.api}/accounts/{account}/workers/{where}/{script}",
        content=body,
        headers={"Authorization": f"Bearer {ALL}", "Content-Type": ctype},
    )
    assert envelope_of(r) == (403, 10001)
    assert server.emulator.store.script(account, namespace or "", script) is None
    with api(server) as c:  # where it was issued for, it works
        assert deploy(c, {"assets": {"jwt": completion}}, "one", "ns").status_code == 200


def test_a_deploy_cannot_reference_blobs_outside_its_scope(
    server: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("attacks", "deploy referencing blobs of another scope")
    secret = {"/secret.txt": b"only the owner of scope-x may serve this"}
    publish(server, secret, script="owner", ns="scope-x")
    m = manifest_of(secret, "owner")  # the owner's very hashes, named from another namespace
    with api(server) as c:
        res = session(c, m, "thief", "scope-y").json()["result"]
        assert _hashes(res) == [m["/secret.txt"]["hash"]]  # not present there: it must be uploaded
        for metadata in (
            {"assets": {"jwt": res["jwt"]}},  # the upload token: not a completion token
            {"assets": {"keep_assets": True}},  # the thief has no previous version to keep
            {"keep_assets": True, "assets": {}},
            # Signed with the emulator's own key, for a session that never existed.
            {
                "assets": {
                    "jwt": _signed(
                        server, {**_claims(server, "completion"), "ns": "scope-y", "script": "thief"}
                    )
                }
            },
        ):
            r = deploy(c, metadata, "thief", "scope-y")
            assert envelope_of(r)[0] in (400, 401), metadata
    assert server.emulator.store.script(ACCOUNT, "scope-y", "thief") is None
    r = httpx.get(f"{server.origin}/secret.txt", headers={"Host": "thief.scope-y.localhost"})
    assert r.status_code == 404 and b"only the owner" not in r.content


# -- sizes, and bodies that do not parse ----------------------------------------------------------

SMALL = Limits(
    max_json_body=4096,
    max_script_body=4096,
    max_upload_body=4096,
    max_file_size=1024,
    bucket_bytes=1024,
    bucket_files=2,
)
CAP_FILE = {"/cap.txt": b"a small file"}


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path_factory.mktemp("capped"), api_tokens=TOKENS, limits=SMALL) as live:
        live.token = ALL
        yield live


def _upload_token(live: LiveEmulator, files: dict[str, bytes] = CAP_FILE) -> str:
    with api(live) as c:
        return str(session(c, manifest_of(files), "cap").json()["result"]["jwt"])


def _chunks(data: bytes, size: int = 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked): the cap must hold while it streams."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_caps_are_413_envelopes(capped: LiveEmulator, framing: str, tried: Callable[..., None]) -> None:
    tried("attacks", f"bodies over the size caps ({framing})")
    big = {"manifest": {f"/f{i}.txt": {"hash": f"{i:032x}", "size": 1} for i in range(200)}}
    json_body = json.dumps(big).encode()
    assert len(json_body) > SMALL.max_json_body
    meta = json.dumps({"assets": {"keep_assets": True}, "pad": "x" * 8000}).encode()
    script_type, script_body = multipart([("metadata", None, None, meta)])
    cap = max(SMALL.max_upload_body, SMALL.max_file_size * 4 // 3 + SMALL.bucket_files * 512 + 65536)
    # The same valid part again and again (re-uploads are accepted): only the total is too big.
    digest = manifest_of(CAP_FILE)["/cap.txt"]["hash"]
    part = (digest, None, None, base64.b64encode(CAP_FILE["/cap.txt"]))
    upload_type, upload_body = multipart([part] * (cap // 100))
    assert len(upload_body) > cap
    token = _upload_token(capped)
    cases = [
        (
            "POST",
            f"/accounts/{ACCOUNT}/workers/scripts/cap/assets-upload-session",
            json_body,
            "application/json",
            ALL,
        ),
        ("PUT", f"/accounts/{ACCOUNT}/workers/scripts/cap", script_body, script_type, ALL),
        ("POST", f"/accounts/{ACCOUNT}/workers/assets/upload?base64=true", upload_body, upload_type, token),
        ("POST", f"/accounts/{ACCOUNT}/workers/scripts/cap/deployments", json_body, "application/json", ALL),
    ]
    with httpx.Client(base_url=capped.api, timeout=60) as c:
        for method, path, body, ctype, bearer in cases:
            content: Any = body if framing == "content-length" else _chunks(body)
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": ctype}
            r = c.request(method, path, content=content, headers=headers)
            assert envelope_of(r) == (413, 10027), (method, path, r.text)
    still_serving(capped)


MALFORMED_JSON = [
    b"",
    b"{",
    b"\xff\xfe{}",
    b'{"manifest": {"/a": {"hash": "' + b"a" * 32 + b'", "size": 1}}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"manifest": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
    b"NaN",
    b'"just a string"',
    b'{"manifest": {"/\\ud800": {"hash": "' + b"a" * 32 + b'", "size": 0}}}',
    b'{"manifest": {"/a\\u0000b": {"hash": "' + b"a" * 32 + b'", "size": 0}}}',
    b'{"manifest": {"/a": {"hash": "' + b"a" * 32 + b'", "size": 1e400}}}',
    b'{"manifest": {"/a": {"hash": "' + b"a" * 32 + b'", "size": ' + b"9" * 5000 + b"}}}",
    # Well-formed JSON of the wrong shape.
    b'{"versions": [1, 2]}',
    b'{"versions": [{"version_id": "a", "percentage": "x"}, {"version_id": "b", "percentage": 1}]}',
    b'{"versions": [{"version_id": ["a"]}]}',
    b'{"metadata": {"main_module": ["index.js"]}}',
    b'{"metadata": {"main_module": {"a": 1}, "assets": {"keep_assets": true}}}',
]


def test_malformed_json_is_a_400_envelope(server: LiveEmulator, tried: Callable[..., None]) -> None:
    tried("attacks", "malformed JSON bodies", len(MALFORMED_JSON) * 3)
    routes = [
        ("POST", f"/accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session"),
        ("PUT", f"/accounts/{ACCOUNT}/workers/scripts/site"),  # the SDK's JSON form of a deploy
        ("POST", f"/accounts/{ACCOUNT}/workers/scripts/site/deployments"),
    ]
    with api(server) as c:
        for body in MALFORMED_JSON:
            for method, path in routes:
                r = c.request(method, path, content=body, headers={"Content-Type": "application/json"})
                status, _ = envelope_of(r)
                assert 400 <= status < 500, (method, path, body[:60], r.text)
    still_serving(server)


def test_a_manifest_path_that_is_not_unicode_is_refused_before_it_reaches_a_deploy(
    server: LiveEmulator, tried: Callable[..., None]
) -> None:
    # JSON's \ud800 escape decodes to a lone surrogate, which no UTF-8 store can hold.
    tried("attacks", "manifest path holding a lone surrogate")
    body = b'{"manifest": {"/caf\\ud800.txt": {"hash": "' + b"b" * 32 + b'", "size": 0}}}'
    with api(server) as c:
        r = c.post(f"/accounts/{ACCOUNT}/workers/scripts/lone/assets-upload-session", content=body)
    assert envelope_of(r) == (400, 10021)
    assert "is not valid Unicode" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "config",
    [
        {"_redirects": ["/a /b"]},
        {"_headers": 5},
        {"_headers": {"/*": {"X-A": "b"}}},
        {"run_worker_first": "/api/*"},
        {"run_worker_first": [1]},
        {"run_worker_first": ["api/*"]},
        {"run_worker_first": []},
    ],
    ids=[
        "redirects-list",
        "headers-number",
        "headers-object",
        "rwf-string",
        "rwf-numbers",
        "rwf-rule",
        "rwf-empty",
    ],
)
def test_a_deploy_config_that_previews_cannot_read_is_refused(
    server: LiveEmulator, config: dict[str, Any], tried: Callable[..., None]
) -> None:
    tried("attacks", "deploy config of the wrong types (would break every preview of the site)")
    token = publish_token(server)
    with api(server) as c:
        r = deploy(c, {"assets": {"jwt": token, "config": config}}, "gen")
    assert envelope_of(r) == (400, 10021)
    for path in ("/", "/g/a.txt"):
        assert httpx.get(f"{server.origin}{path}", headers={"Host": "gen.localhost"}).status_code < 500


MALFORMED_MULTIPART: list[tuple[str, bytes]] = [
    ("text/plain", b"x"),
    ("multipart/form-data", b"--b\r\n\r\n--b--\r\n"),  # no boundary parameter
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=b", b""),
    ("multipart/form-data; boundary=b", b"--b--\r\n"),
    ("multipart/form-data; boundary=b", b"--b\r\nbroken"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"),
    (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: attachment; name=x\r\n\r\nx\r\n--b--\r\n",
    ),
    (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="\xff\xfe"\r\n\r\nx\r\n--b--\r\n',
    ),
    (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data; name*=UTF-8''%ff\r\n\r\nx\r\n--b--\r\n",
    ),
    ("multipart/form-data; boundary=b", b"--b\r\nX-Long: " + b"y" * 70_000 + b"\r\n\r\nx\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{}'),
    (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n[1]\r\n--b--\r\n',
    ),
    ("multipart/form-data; boundary=b", b"\r\n" * 1000 + b"--b--\r\n"),
    ("multipart/form-data; boundary=" + "b" * 5000, b"--" + b"b" * 5000 + b"--\r\n"),
]


def test_malformed_multipart_is_a_400_envelope(server: LiveEmulator, tried: Callable[..., None]) -> None:
    tried("attacks", "malformed multipart bodies", len(MALFORMED_MULTIPART) * 2)
    token = _upload_token(server)
    with httpx.Client(base_url=server.api, timeout=30) as c:
        for ctype, body in MALFORMED_MULTIPART:
            for path, bearer in (
                (f"/accounts/{ACCOUNT}/workers/assets/upload?base64=true", token),
                (f"/accounts/{ACCOUNT}/workers/scripts/site", ALL),
            ):
                method = "POST" if "upload" in path else "PUT"
                r = c.request(
                    method,
                    path,
                    content=body,
                    headers={"Authorization": f"Bearer {bearer}", "Content-Type": ctype},
                )
                status, _ = envelope_of(r)
                assert 400 <= status < 500, (path, ctype[:40], body[:60], r.text)
    still_serving(server)


def test_long_headers_and_paths_are_refused_as_the_platform_does(
    server: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("attacks", "64 KiB headers and paths, and headers past the platform's limits")
    api_path = f"/client/v4/accounts/{ACCOUNT}/workers/subdomain"
    auth = f"Authorization: Bearer {ALL}\r\n".encode()
    cases = [
        (
            b"GET "
            + api_path.encode()
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + b"t" * 65536
            + b"\r\n\r\n",
            431,
        ),
        (
            b"GET "
            + api_path.encode()
            + b" HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"X-Pad: "
            + b"p" * 20_000
            + b"\r\n\r\n",
            431,
        ),
        (
            b"GET "
            + api_path.encode()
            + b" HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
            + b"\r\n",
            431,
        ),
        (
            b"GET " + api_path.encode() + b"/" + b"p" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
            414,
        ),
        (
            b"GET "
            + api_path.encode()
            + b"?q="
            + b"q" * 20_000
            + b" HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"\r\n",
            414,
        ),
    ]
    for request, status in cases:
        got, body = raw_request(server.port, request)
        answer = json.loads(body)
        assert (got, answer["success"], answer["errors"][0]["code"]) == (
            status,
            False,
            10028 if status == 414 else 10029,
        )
    # Previews: the same limits, in plain text (they are not API answers).
    got, body = raw_request(
        server.port, b"GET /" + b"p" * 20_000 + b" HTTP/1.1\r\nHost: site.localhost\r\n\r\n"
    )
    assert got == 414 and body.startswith(b"the URL is ")
    # A 64 KiB path is refused by the HTTP layer itself, before the emulator sees it: still a 4xx.
    for host in (b"x", b"site.localhost"):
        got, _ = raw_request(
            server.port, b"GET /" + b"p" * 65536 + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
        )
        assert got == 400
    # Just under the limits, a request is answered as usual.
    ok = httpx.get(
        f"{server.origin}{api_path}", headers={"Authorization": f"Bearer {ALL}", "X-Pad": "p" * 15_000}
    )
    assert ok.status_code == 200
    still_serving(server)


# -- generated input: whatever arrives, a 2xx or a 4xx envelope --------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=24)  # lone surrogates too
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
HEX32 = st.text("0123456789abcdef", min_size=32, max_size=32)
ENTRY = (
    st.fixed_dictionaries(
        {
            "hash": HEX32 | st.sampled_from(["A" * 32, "a" * 31, ""]) | JSON,
            "size": st.integers(-2, 26_214_402) | JSON,
        }
    )
    | JSON
)
PATH = (
    ANY_TEXT.map(lambda s: "/" + s)
    | ANY_TEXT
    | st.sampled_from(["/", "/a\x00b", "/\ud800", "/../../x", "//x"])
)
MANIFEST = st.dictionaries(PATH, ENTRY, max_size=6) | JSON


def _is_answer(r: httpx.Response) -> None:
    """A 2xx or a 4xx, always a well-formed envelope."""
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        envelope_of(r)
    else:
        assert r.json()["success"] is True


@SOAK_TIME
def test_generated_manifests_never_break_the_server(
    server: LiveEmulator, client: httpx.Client, tried: Callable[..., None]
) -> None:
    tried("attacks", "hypothesis-generated manifests", EXAMPLES.max_examples)

    @EXAMPLES
    @given(manifest=MANIFEST, wrap=st.booleans())
    def one(manifest: Any, wrap: bool) -> None:
        body = json.dumps({"manifest": manifest} if wrap else manifest).encode()  # surrogates escaped
        r = client.post(
            f"/accounts/{ACCOUNT}/workers/scripts/gen/assets-upload-session",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        _is_answer(r)
        if r.status_code == 200:
            listed = {e["hash"] for e in manifest.values()}
            asked = [h for bucket in r.json()["result"]["buckets"] for h in bucket]
            assert len(asked) == len(set(asked)) and set(asked) <= listed

    one()


GEN_FILES = {"/g/a.txt": b"generated a", "/g/b.css": b"b{}", "/g/empty": b""}
GEN_M = manifest_of(GEN_FILES, "gen")
GEN_HASHES = [e["hash"] for e in GEN_M.values()]
PART_NAME = st.sampled_from(GEN_HASHES) | HEX32 | st.text(max_size=40)
PART_BODY = (
    st.sampled_from([base64.b64encode(b) for b in GEN_FILES.values()])
    | st.binary(max_size=64)
    | st.binary(max_size=48).map(base64.b64encode)
)
PARTS = st.lists(
    st.tuples(
        PART_NAME,
        st.none() | st.text(max_size=20),
        st.none() | st.sampled_from(["text/plain", "application/null", ""]) | st.text(max_size=20),
        PART_BODY,
    ),
    max_size=5,
)
FLIPS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)


def _encodable(text: str | None) -> bool:
    return text is None or ("\r" not in text and "\n" not in text and '"' not in text)


@SOAK_TIME
def test_generated_multipart_uploads_never_break_the_server(
    server: LiveEmulator, client: httpx.Client, tried: Callable[..., None]
) -> None:
    tried("attacks", "hypothesis-generated multipart bodies", EXAMPLES.max_examples)
    store = server.emulator.store
    scope = f"acct:{ACCOUNT}"

    @EXAMPLES
    @given(parts=PARTS, flips=FLIPS, base64_query=st.booleans())
    def one(
        parts: list[tuple[str, str | None, str | None, bytes]],
        flips: list[tuple[int, int]],
        base64_query: bool,
    ) -> None:
        parts = [p for p in parts if _encodable(p[0]) and _encodable(p[1]) and _encodable(p[2])]
        ctype, body = multipart(parts)
        mutable = bytearray(body)
        for at, value in flips:  # then some bytes overwritten anywhere, headers and boundaries too
            if mutable:
                mutable[at % len(mutable)] = value
        token = session(client, GEN_M, "gen").json()["result"]["jwt"]
        r = client.post(
            f"/accounts/{ACCOUNT}/workers/assets/upload" + ("?base64=true" if base64_query else ""),
            content=bytes(mutable),
            headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
        )
        _is_answer(r)
        assert os.listdir(store.tmp_dir) == []  # a refused part leaves no half-blob
        for digest, (size, _) in store.present(scope, GEN_HASHES).items():
            assert os.path.getsize(store.blob_path(scope, digest)) == size

    one()


METADATA = st.dictionaries(
    st.sampled_from(
        ["main_module", "body_part", "compatibility_date", "tags", "assets", "keep_assets", "bindings"]
    )
    | ANY_TEXT,
    JSON,
    max_size=5,
)
CONFIG = st.dictionaries(
    st.sampled_from(["html_handling", "not_found_handling", "run_worker_first", "_redirects", "_headers"]),
    JSON | st.sampled_from(["none", "404-page", "single-page-application", "drop-trailing-slash"]) | ANY_TEXT,
    max_size=4,
)


@SOAK_TIME
def test_generated_deploys_never_break_the_server_or_its_previews(
    server: LiveEmulator, client: httpx.Client, tried: Callable[..., None]
) -> None:
    tried("attacks", "hypothesis-generated deploy metadata", EXAMPLES.max_examples)
    completion = publish_token(server)
    web = httpx.Client(base_url=server.origin, headers={"Host": "gen.localhost"}, timeout=30)

    @EXAMPLES
    @given(
        metadata=METADATA,
        config=CONFIG,
        real_token=st.booleans(),
        modules=st.lists(st.text(max_size=12), max_size=2),
    )
    def one(metadata: dict[str, Any], config: dict[str, Any], real_token: bool, modules: list[str]) -> None:
        if real_token:
            metadata = {**metadata, "assets": {"jwt": completion, "config": config}}
        parts: list[tuple[str, str | None, str | None, bytes]] = [
            ("metadata", None, None, json.dumps(metadata).encode())
        ]
        parts += [
            (m, m, "application/javascript+module", b"export default {}")
            for m in modules
            if _encodable(m) and m
        ]
        ctype, body = multipart(parts)
        r = client.put(
            f"/accounts/{ACCOUNT}/workers/scripts/gen", content=body, headers={"Content-Type": ctype}
        )
        _is_answer(r)
        if r.status_code == 200:  # whatever was accepted, its previews answer without a 500
            for path in ("/", "/g/a.txt", "/g/", "/missing", "/g/a.txt/"):
                p = web.get(path)
                assert p.status_code < 500, (metadata, path, p.text)

    with web:
        one()


def publish_token(live: LiveEmulator) -> str:
    """A completion token for the generated site (uploading it the first time)."""
    with api(live) as c:
        res = c.post(
            f"/accounts/{ACCOUNT}/workers/scripts/gen/assets-upload-session", json={"manifest": GEN_M}
        ).json()["result"]
    token = str(res["jwt"])
    for bucket in res["buckets"]:
        up = upload(live, res["jwt"], GEN_FILES, GEN_M, bucket)
        assert up.status_code in (201, 202), up.text
        if up.status_code == 201:
            token = up.json()["result"]["jwt"]
    return token


# -- previews never leave the deployed manifest ---------------------------------------------------

SECRET = b"SECRET-MARKER-never-served"
PAGES = {
    "/index.html": b"<h1>home</h1>",
    "/404.html": b"<h1>not here</h1>",
    "/docs/index.html": b"<h1>docs</h1>",
    "/docs/a.txt": b"docs a",
}
TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2e%2e/%2e%2e/secret.txt",
    "/.%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/..%2fsecret.txt",
    "/..%2f..%2fsecret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/docs%2f..%2f..%2fsecret.txt",
    "/..%5c..%5csecret.txt",
    "/..\\..\\secret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%00",
    "/secret.txt%00",
    "/docs/a.txt%00.html",
    "/%00/../secret.txt",
    "//secret.txt",
    "/..;/secret.txt",
    "/.../secret.txt",
    "/api-token",
    "/jwt-secret",
    "/emulator.sqlite3",
    "/blobs/",
    "/tmp/",
    "/%ff%fe",
    "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveEmulator, dict[str, bytes]]]:
    """A deployed site, and secrets in the data folder, beside it, and in a hostile manifest."""
    base = tmp_path_factory.mktemp("planted")
    data = base / "data"
    with LiveEmulator(data) as live:
        for folder in (data, base, data / "blobs", data / "tmp"):
            (folder / "secret.txt").write_bytes(SECRET)
        publish(live, PAGES, script="site", config={"not_found_handling": "404-page"})
        publish(live, PAGES, script="spa", config={"not_found_handling": "single-page-application"})
        # A manifest may name any path: these are keys, looked up as keys, never as files.
        publish(live, {"/../secret.txt": b"decoy one", "/a/../../secret.txt": b"decoy two"}, script="keys")
        served = {**PAGES, "/decoy-1": b"decoy one", "/decoy-2": b"decoy two"}
        yield live, served


@pytest.mark.parametrize("script", ["site", "spa", "keys"])
@pytest.mark.parametrize("form", ["host", "path"])
def test_preview_paths_never_leave_the_deployed_manifest(
    planted: tuple[LiveEmulator, dict[str, bytes]], script: str, form: str, tried: Callable[..., None]
) -> None:
    tried("attacks", "preview paths with .., %2e%2e, encoded slashes, NUL, overlong UTF-8", len(TRAVERSALS))
    live, served = planted
    allowed = set(served.values()) | {b"", b"Not Found", b"Bad Request: the path is not valid UTF-8"}
    for path in TRAVERSALS:
        if form == "host":
            request = f"GET {path} HTTP/1.1\r\nHost: {script}.localhost\r\n\r\n"
        else:
            request = f"GET /__preview/{script}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        status, body = raw_request(live.port, request.encode("latin-1"))
        assert status < 500 and SECRET not in body, (path, status)
        assert body in allowed, (path, status, body[:80])
    # The same through the site segment of the path form.
    for segment in ("..", "%2e%2e", "..%2f..", f"{script}%2f..%2f..", "%00", "%c0%ae%c0%ae"):
        status, body = raw_request(
            live.port, f"GET /__preview/{segment}/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert status == 404 and SECRET not in body, segment


# -- where it listens -----------------------------------------------------------------------------


def test_serve_and_dev_listen_on_loopback_by_default(tried: Callable[..., None]) -> None:
    tried("attacks", "default bind address of serve and dev")
    from assetsync.cli import main

    for command in ("serve", "dev"):
        host = next(p for p in main.commands[command].params if p.name == "host")
        assert host.default == "127.0.0.1", command


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("", True),
        ("::", True),
        ("192.168.1.20", True),
        ("10.0.0.1", True),
        ("203.0.113.9", True),
        ("2001:db8::1", True),
    ],
)
def test_a_reachable_address_gets_a_loud_warning(host: str, public: bool) -> None:
    from assetsync.emulator.server import bind_warning

    warning = bind_warning(host)
    if not public:
        assert warning is None
    else:
        assert warning == (
            f"WARNING: listening on {host or 'every address'}, which other machines can reach. Anyone who "
            "can connect sees every deployed site (previews need no token) and can try the API. The "
            "emulator is a development tool: bind 127.0.0.1 (the default) unless you mean it."
        )


def test_the_cli_warns_before_binding_and_refuses_an_address_it_cannot_have(
    tmp_path: Path, tried: Callable[..., None]
) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface: the bind fails, and nothing ever listens publicly.
    tried("attacks", "serve/dev on a public address: warned; an address it cannot bind: refused")
    site = make_tree(tmp_path / "site", {"index.html": "x"})
    warning = (
        "WARNING: listening on 192.0.2.1, which other machines can reach. Anyone who can connect sees every "
        "deployed site (previews need no token) and can try the API. The emulator is a development tool: "
        "bind 127.0.0.1 (the default) unless you mean it.\n"
    )
    refused = (
        f"error: cannot listen on 192.0.2.1:0 ({os.strerror(errno.EADDRNOTAVAIL)}). Pick another --host or "
        "--port.\n"
    )
    serve = run_cli("serve", "--host", "192.0.2.1", "--port", "0", "--data", str(tmp_path / "data"))
    assert (serve.returncode, serve.stderr) == (2, warning + refused)
    dev = run_cli(
        "dev",
        str(site),
        "--host",
        "192.0.2.1",
        "--port",
        "0",
        "--local-data",
        str(tmp_path / "data"),
        "--no-cache",
    )
    assert (dev.returncode, dev.stderr) == (2, warning + refused)
    with socket.socket() as taken:  # a port already in use: the same clear refusal, no traceback
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli("serve", "--port", str(port), "--data", str(tmp_path / "data"))
    assert (busy.returncode, busy.stderr) == (
        2,
        f"error: cannot listen on 127.0.0.1:{port} ({os.strerror(errno.EADDRINUSE)}). Pick another --host "
        "or --port.\n",
    )
