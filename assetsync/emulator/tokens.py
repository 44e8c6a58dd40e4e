"""Credentials: the API token(s), global API keys, and the upload / completion JWTs the emulator issues.

JWTs are real HS256 tokens (PyJWT) with ``exp``, bound to account, scope (an account's Workers
or one dispatch namespace), script and upload session, so one tenant's token can neither upload
into nor deploy from another's session. The signing key and a generated API token live in the
data folder with mode 0600.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from ..protocol import TOKEN_LIFETIME
from .envelope import AUTH_ERROR, UPLOAD_TOKEN_INVALID, ApiError

UNKNOWN_AUTH_KEY = 9103  # the API's code for an X-Auth-Key / X-Auth-Email pair it does not know
UPLOAD = "upload"
COMPLETION = "completion"
# Why PyJWT refused a token, in words a client's user can act on (first match wins: a bad
# signature is also a DecodeError).
_WHY: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "its signature does not match"),
    (jwt.InvalidAlgorithmError, "only HS256 tokens are accepted"),
    (jwt.DecodeError, "it is not a well-formed JWT"),
)


def _read_or_create_secret(path: str, make: Any) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return str(value)


def load_api_token(data_dir: str) -> str:
    """The emulator's API token: kept in ``DATA/api-token``, generated on first start."""
    return _read_or_create_secret(os.path.join(data_dir, "api-token"), lambda: secrets.token_urlsafe(30))


@dataclass(frozen=True, slots=True)
class Grant:
    """What an upload or completion token allows."""

    kind: str
    account: str
    namespace: str | None
    script: str
    session: str
    exp: int


class Tokens:
    """Checks API tokens and mints / verifies the session JWTs."""

    def __init__(
        self,
        data_dir: str,
        api_tokens: dict[str, str | None] | None = None,
        ttl: float = TOKEN_LIFETIME,
        api_keys: dict[str, str] | None = None,
    ) -> None:
        """``api_tokens`` maps token -> account it is limited to (None: every account);
        ``api_keys`` maps an email -> the global API key of its user (every account), as
        ``X-Auth-Email`` / ``X-Auth-Key`` carry them. No key is accepted unless configured."""
        self._key = _read_or_create_secret(
            os.path.join(data_dir, "jwt-secret"), lambda: secrets.token_hex(32)
        )
        if api_tokens is None:
            api_tokens = {load_api_token(data_dir): None}
        self._api_tokens = dict(api_tokens)
        self._api_keys = dict(api_keys or {})
        self.ttl = ttl
        # What "now" is for minting and expiry; tests move it forward to expire tokens on cue.
        self.clock: Callable[[], float] = time.time

    def check_api(
        self, header: str | None, account: str, key: str | None = None, email: str | None = None
    ) -> None:
        """Accept the request's bearer API token for ``account`` (or, with no ``Authorization``
        header, its global API ``key`` and ``email``), or raise a 401/403 ApiError."""
        if header is None and (key is not None or email is not None):
            self._check_key(key, email)
            return
        token = _bearer(header)
        allowed = None
        found = False
        for known, acct in self._api_tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found, allowed = True, acct
        if not found:
            if token.count(".") == 2:
                raise ApiError(
                    401, AUTH_ERROR, "Authentication error: an upload token cannot call this route"
                )
            raise ApiError(401, AUTH_ERROR, "Authentication error: invalid API token")
        if allowed is not None and allowed != account:
            raise ApiError(403, AUTH_ERROR, "Authentication error: this token has no access to that account")

    def _check_key(self, key: str | None, email: str | None) -> None:
        known = self._api_keys.get(email or "")
        if key is None or email is None:
            raise ApiError(400, AUTH_ERROR, "Authentication error: X-Auth-Key and X-Auth-Email go together")
        if known is None or not hmac.compare_digest(known.encode(), key.encode()):
            raise ApiError(403, UNKNOWN_AUTH_KEY, "Unknown X-Auth-Key or X-Auth-Email")

    def mint(self, kind: str, account: str, namespace: str | None, script: str, session: str) -> str:
        now = int(self.clock())
        claims = {
            "kind": kind,
            "acct": account,
            "ns": namespace,
            "script": script,
            "sid": session,
            "iat": now,
            "exp": now + max(1, int(self.ttl)),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str, kind: str) -> Grant:
        """The grant a JWT carries; 401 if it is forged, expired or of the other kind."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                # Time is checked below against self.clock, not PyJWT's wall clock.
                options={
                    "require": ["exp", "kind", "acct", "script", "sid"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            why = next((text for cls, text in _WHY if isinstance(exc, cls)), str(exc))
            raise ApiError(401, UPLOAD_TOKEN_INVALID, f"invalid {kind} token: {why}") from None
        if not isinstance(claims["exp"], int) or claims["exp"] <= self.clock():
            raise ApiError(
                401, UPLOAD_TOKEN_INVALID, f"the {kind} token has expired: open a new upload session"
            )
        if claims.get("kind") != kind:
            raise ApiError(
                401, UPLOAD_TOKEN_INVALID, f"expected a {kind} token, got a {claims.get('kind')} token"
            )
        return Grant(kind, claims["acct"], claims.get("ns"), claims["script"], claims["sid"], claims["exp"])

    def verify_bearer(self, header: str | None, kind: str) -> Grant:
        return self.verify(_bearer(header), kind)


def _bearer(header: str | None) -> str:
    if not header:
        raise ApiError(401, AUTH_ERROR, "Authentication error: missing Authorization: Bearer header")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, AUTH_ERROR, "Authentication error: expected Authorization: Bearer <token>")
    return token
