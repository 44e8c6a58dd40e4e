"""The emulator's credentials, without a server: API tokens, and the session JWTs it mints."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from assetsync.emulator.envelope import AUTH_ERROR, UPLOAD_TOKEN_INVALID, ApiError
from assetsync.emulator.tokens import COMPLETION, UPLOAD, Grant, Tokens, load_api_token

ACCT = "0123456789abcdef0123456789abcdef"
NO_KEY: Any = None  # alg "none" takes no key; PyJWT's stubs disagree across versions


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def refused(call: object, *args: object) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)  # type: ignore[operator]
    return info.value


def test_api_token_is_made_once_kept_private_and_read_back(tmp_path: Path) -> None:
    token = load_api_token(str(tmp_path))
    assert len(token) == 40  # 30 random bytes, URL-safe base64
    assert (tmp_path / "api-token").read_text() == token + "\n"
    assert mode(tmp_path / "api-token") == 0o600
    assert load_api_token(str(tmp_path)) == token


def test_a_kept_token_is_trimmed_and_an_empty_file_is_replaced_privately(tmp_path: Path) -> None:
    (tmp_path / "api-token").write_text("  my-token \n")
    assert load_api_token(str(tmp_path)) == "my-token"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "api-token").write_text("\n")
    os.chmod(empty / "api-token", 0o644)
    token = load_api_token(str(empty))
    assert len(token) == 40
    assert (empty / "api-token").read_text() == token + "\n"
    assert mode(empty / "api-token") == 0o600


def test_signing_key_is_private_and_survives_a_restart(tmp_path: Path) -> None:
    first = Tokens(str(tmp_path), {"t": None})
    key = (tmp_path / "jwt-secret").read_text().strip()
    assert len(key) == 64 and int(key, 16) >= 0
    assert mode(tmp_path / "jwt-secret") == 0o600
    assert not (tmp_path / "api-token").exists()  # given tokens: none generated
    token = first.mint(UPLOAD, ACCT, None, "site", "s1")
    assert Tokens(str(tmp_path), {"t": None}).verify(token, UPLOAD).session == "s1"


def test_the_generated_api_token_opens_every_account(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path))
    generated = (tmp_path / "api-token").read_text().strip()
    tokens.check_api(f"Bearer {generated}", ACCT)
    tokens.check_api(f"Bearer {generated}", "another")


@pytest.mark.parametrize("header", ["Bearer good", "bearer good", "BEARER  good  "])
def test_bearer_header_forms_accepted(tmp_path: Path, header: str) -> None:
    Tokens(str(tmp_path), {"good": None}).check_api(header, ACCT)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authentication error: missing Authorization: Bearer header"),
        ("", "Authentication error: missing Authorization: Bearer header"),
        ("Basic good", "Authentication error: expected Authorization: Bearer <token>"),
        ("Bearer", "Authentication error: expected Authorization: Bearer <token>"),
        ("Bearer    ", "Authentication error: expected Authorization: Bearer <token>"),
        ("Bearergood", "Authentication error: expected Authorization: Bearer <token>"),
        ("Bearer bad", "Authentication error: invalid API token"),
        ("Bearer goodx", "Authentication error: invalid API token"),
        ("Bearer a.b", "Authentication error: invalid API token"),
        ("Bearer a.b.c", "Authentication error: an upload token cannot call this route"),
    ],
)
def test_api_token_refusals_are_401_auth_errors(tmp_path: Path, header: str | None, message: str) -> None:
    err = refused(Tokens(str(tmp_path), {"good": None}).check_api, header, ACCT)
    assert (err.status, err.code, err.message) == (401, AUTH_ERROR, message)


def test_a_token_limited_to_an_account_is_403_elsewhere(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path), {"mine": ACCT, "admin": None})
    tokens.check_api("Bearer mine", ACCT)
    tokens.check_api("Bearer admin", "other")
    err = refused(tokens.check_api, "Bearer mine", "other")
    assert (err.status, err.code) == (403, AUTH_ERROR)
    assert err.message == "Authentication error: this token has no access to that account"


def test_minted_tokens_carry_their_grant(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path), {"t": None}, ttl=600)
    tokens.clock = lambda: time.time() + 0.9  # minting truncates "now" to whole seconds
    now = int(tokens.clock())
    up = tokens.mint(UPLOAD, ACCT, "ns1", "site", "sid-1")
    assert tokens.verify(up, UPLOAD) == Grant(UPLOAD, ACCT, "ns1", "site", "sid-1", now + 600)
    done = tokens.mint(COMPLETION, ACCT, None, "w", "sid-2")
    assert tokens.verify_bearer(f"Bearer {done}", COMPLETION) == Grant(
        COMPLETION, ACCT, None, "w", "sid-2", now + 600
    )
    claims = jwt.decode(up, options={"verify_signature": False})
    assert claims["iat"] == now and jwt.get_unverified_header(up)["alg"] == "HS256"


def test_token_lifetime_default_and_at_least_a_second(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path), {"t": None})
    tokens.clock = lambda: 1_000.0
    assert tokens.ttl == 3600
    assert tokens.verify(tokens.mint(UPLOAD, ACCT, None, "s", "x"), UPLOAD).exp == 4_600
    tokens.ttl = 0.5
    assert tokens.verify(tokens.mint(UPLOAD, ACCT, None, "s", "x"), UPLOAD).exp == 1_001


def test_expiry_follows_the_emulators_clock_not_the_wall_clock(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path), {"t": None}, ttl=60)
    tokens.clock = lambda: 1_000.0  # long ago: the wall clock says expired, the emulator does not
    token = tokens.mint(UPLOAD, ACCT, None, "s", "x")
    assert tokens.verify(token, UPLOAD).exp == 1_060
    tokens.clock = lambda: 1_059.5
    tokens.verify(token, UPLOAD)
    tokens.clock = lambda: 1_060.0
    err = refused(tokens.verify, token, UPLOAD)
    assert (err.status, err.code) == (401, UPLOAD_TOKEN_INVALID)
    assert err.message == "the upload token has expired: open a new upload session"
    future = Tokens(str(tmp_path), {"t": None}, ttl=60)
    future.clock = lambda: time.time() + 10**6  # issued "in the future" for the wall clock
    future.verify(future.mint(UPLOAD, ACCT, None, "s", "x"), UPLOAD)


def test_the_other_kind_of_token_is_refused(tmp_path: Path) -> None:
    tokens = Tokens(str(tmp_path), {"t": None})
    err = refused(tokens.verify, tokens.mint(UPLOAD, ACCT, None, "s", "x"), COMPLETION)
    assert (err.status, err.code) == (401, UPLOAD_TOKEN_INVALID)
    assert err.message == "expected a completion token, got a upload token"


def test_forged_and_foreign_tokens_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours, theirs = Tokens(str(tmp_path / "a"), {"t": None}), Tokens(str(tmp_path / "b"), {"t": None})
    key = (tmp_path / "a" / "jwt-secret").read_text().strip()
    good = {"kind": UPLOAD, "acct": ACCT, "script": "s", "sid": "x", "exp": int(time.time()) + 60}
    assert ours.verify(jwt.encode(good, key, algorithm="HS256"), UPLOAD).namespace is None
    bad = {
        theirs.mint(UPLOAD, ACCT, None, "s", "x"): "its signature does not match",  # another emulator's key
        jwt.encode(good, key, algorithm="HS512"): "only HS256 tokens are accepted",
        jwt.encode(good, NO_KEY, algorithm="none"): "only HS256 tokens are accepted",
        "not.a.jwt": "it is not a well-formed JWT",
        **{
            jwt.encode(
                {k: v for k, v in good.items() if k != gone}, key
            ): f'Token is missing the "{gone}" claim'
            for gone in ("acct", "script", "sid")
        },
    }
    for token, why in bad.items():
        err = refused(ours.verify_bearer, f"Bearer {token}", UPLOAD)
        assert (err.status, err.code, err.message) == (
            401,
            UPLOAD_TOKEN_INVALID,
            f"invalid upload token: {why}",
        )
    for gone in ("exp", "kind"):
        token = jwt.encode({k: v for k, v in good.items() if k != gone}, key)
        why = f'Token is missing the "{gone}" claim'
        assert refused(ours.verify, token, COMPLETION).message == f"invalid completion token: {why}"
    fractional = jwt.encode({**good, "exp": time.time() + 60.5}, key)
    assert refused(ours.verify, fractional, UPLOAD).message.endswith("has expired: open a new upload session")
