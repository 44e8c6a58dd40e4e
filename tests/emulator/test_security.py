"""Credentials, scoping and isolation: what the emulator refuses."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, multipart
from .test_api import FILES, api, deploy, errors_of, manifest_of, publish, session, upload

OTHER = "fedcba9876543210fedcba9876543210"
NO_KEY: Any = None  # alg "none" takes no key; PyJWT's stubs disagree across versions


@pytest.fixture
def scoped(tmp_path: Path):  # type: ignore[no-untyped-def]
    tokens = {"all-accounts": None, "token-a": ACCOUNT, "token-b": OTHER}
    with LiveEmulator(tmp_path / "d", api_tokens=tokens) as live:
        live.token = "all-accounts"
        yield live


def test_every_api_route_needs_a_valid_token(emulator: LiveEmulator) -> None:
    url = f"{emulator.api}/accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session"
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ):
        status, code, message = errors_of(httpx.post(url, json={"manifest": {}}, headers=headers))
        assert (status, code) == (401, 10000) and "Authentication error" in message
    for method, path in [
        ("GET", "dispatch/namespaces/ns/scripts"),
        ("GET", "dispatch/namespaces/ns/scripts/x"),
        ("PUT", "scripts/x"),
        ("DELETE", "dispatch/namespaces/ns/scripts/x"),
        ("GET", "services/x"),
        ("GET", "subdomain"),
    ]:
        r = httpx.request(method, f"{emulator.api}/accounts/{ACCOUNT}/workers/{path}")
        assert errors_of(r)[:2] == (401, 10000), (method, path)


def test_token_of_another_account_is_403(scoped: LiveEmulator) -> None:
    with api(scoped, "token-b") as c:
        status, code, _ = errors_of(session(c, manifest_of(FILES)))
        assert (status, code) == (403, 10000)
    with api(scoped, "token-a") as c:
        assert session(c, manifest_of(FILES)).status_code == 200


def test_upload_token_is_not_an_api_token_and_vice_versa(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        jwt = session(c, m).json()["result"]["jwt"]
    with api(emulator, jwt) as c:
        status, _, message = errors_of(session(c, m))
        assert status == 401 and "upload token cannot call this route" in message
    ctype, body = multipart([("a" * 32, None, None, b"")])
    r = httpx.post(
        f"{emulator.api}/accounts/{ACCOUNT}/workers/assets/upload?base64=true",
        content=body,
        headers={"Authorization": f"Bearer {emulator.token}", "Content-Type": ctype},
    )
    assert errors_of(r)[:2] == (401, 10001)


def _claims(token: str) -> dict[str, object]:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_expired_and_forged_tokens_are_refused(emulator: LiveEmulator) -> None:
    m = manifest_of(FILES)
    with api(emulator) as c:
        res = session(c, m).json()["result"]
    claims = _claims(res["jwt"])
    key = emulator.app.tokens._key
    expired = pyjwt.encode({**claims, "exp": int(time.time()) - 5}, key, algorithm="HS256")
    forged = pyjwt.encode({**claims, "exp": int(time.time()) + 60}, "not-the-key-" * 4, algorithm="HS256")
    unsigned = pyjwt.encode(claims, NO_KEY, algorithm="none")
    hashes = [h for b in res["buckets"] for h in b]
    for token, refusal in [
        (expired, "the upload token has expired: open a new upload session"),
        (forged, "invalid upload token: its signature does not match"),
        (unsigned, "invalid upload token: only HS256 tokens are accepted"),
    ]:
        status, code, message = errors_of(upload(emulator, token, FILES, m, hashes))
        assert (status, code, message) == (401, 10001, refusal)
    assert upload(emulator, res["jwt"], FILES, m, hashes).status_code == 201


def test_upload_token_cannot_write_into_another_namespace(emulator: LiveEmulator) -> None:
    files_a, files_b = {"/a.txt": b"tenant a"}, {"/b.txt": b"tenant b"}
    ma, mb = manifest_of(files_a, "a"), manifest_of(files_b, "b")
    with api(emulator) as c:
        ja = session(c, ma, "a", "ns-a").json()["result"]["jwt"]
        session(c, mb, "b", "ns-b")
    # A's token names B's hash: not a hash of A's session.
    status, _, message = errors_of(
        upload(emulator, ja, {**files_a, **files_b}, {**ma, **mb}, [mb["/b.txt"]["hash"]])
    )
    assert status == 400 and "not a hash this upload session asked for" in message
    # A's token used under another account's URL.
    ctype, body = multipart([(ma["/a.txt"]["hash"], None, None, base64.b64encode(b"tenant a"))])
    r = httpx.post(
        f"{emulator.api}/accounts/{OTHER}/workers/assets/upload?base64=true",
        content=body,
        headers={"Authorization": f"Bearer {ja}", "Content-Type": ctype},
    )
    assert errors_of(r)[:2] == (401, 10001)


def test_blobs_are_scoped_per_namespace_and_per_account(emulator: LiveEmulator) -> None:
    files = {"/same.txt": b"identical bytes"}
    publish(emulator, files, script="t", ns="ns-a")
    m = manifest_of(files, "t")  # the very same hashes, in another namespace
    with api(emulator) as c:
        res = session(c, m, "t", "ns-b").json()["result"]
        assert [h for b in res["buckets"] for h in b] == [m["/same.txt"]["hash"]]
        res = session(c, m, "t", None).json()["result"]  # the account's own Workers: another scope
        assert res["buckets"]


def test_completion_token_cannot_be_replayed_for_another_script(emulator: LiveEmulator) -> None:
    files = {"/x.txt": b"x"}
    m = manifest_of(files, "one")
    with api(emulator) as c:
        res = session(c, m, "one", "ns").json()["result"]
        done = upload(emulator, res["jwt"], files, m, res["buckets"][0]).json()["result"]["jwt"]
        for script, ns in [("two", "ns"), ("one", "other-ns"), ("one", None)]:
            status, code, message = errors_of(deploy(c, {"assets": {"jwt": done}}, script, ns))
            assert (status, code) == (403, 10001) and "was issued for script 'one'" in message
        assert deploy(c, {"assets": {"jwt": done}}, "one", "ns").status_code == 200


def test_generated_token_and_secret_are_private(emulator: LiveEmulator) -> None:
    data = Path(emulator.app.config.data_dir)
    for name in ("api-token", "jwt-secret"):
        assert (data / name).stat().st_mode & 0o777 == 0o600
