"""The API's rate limit, as the platform applies it: a budget per credential, then a block.

Fixed windows, not a sliding log: the platform states its budget as requests "per five minute
period", its ``Ratelimit`` header gives "the time the next window resets", and going over blocks
every call "for the next five minutes". A sliding log has no reset time (its capacity trickles
back request by request); a window that resets does. So, per credential:

- A window of ``seconds`` opens with the credential's first request after the last one ended,
  and admits ``requests`` calls.
- The first call over the quota is refused, and so is every call after it until one whole
  window has passed since that refusal (refused calls do not lengthen the block). Then a fresh
  window opens with the next call.
- Every answer says what is left (``Ratelimit``) and the budget (``Ratelimit-Policy``); a
  refusal is HTTP 429 with ``Retry-After`` (seconds to the block's end, rounded up) and the
  API's error envelope, code 971.

A credential is the bearer token (an API token, or a session's upload or completion token) or
the global API key with its email; only a digest of it is kept. The clock is injectable, so
tests step through windows without sleeping.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send

from ..protocol.ratelimit import (
    RATE_LIMITED,
    RATE_LIMITED_MESSAGE,
    RATELIMIT,
    RATELIMIT_POLICY,
    RateLimit,
    format_policy,
    format_remaining,
)
from .envelope import ApiError, error_response

PRUNE_AT = 4096  # credentials remembered before those whose window and block are over are dropped


@dataclass(slots=True)
class _Window:
    start: float
    used: int = 0
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """One call's fate: admitted or not, what is left, and seconds until the window (or block) ends."""

    allowed: bool
    remaining: int
    reset: float

    def headers(self, limit: RateLimit) -> list[tuple[bytes, bytes]]:
        out = [
            (RATELIMIT.lower().encode(), format_remaining(self.remaining, self.reset).encode()),
            (RATELIMIT_POLICY.lower().encode(), format_policy(limit).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, math.ceil(self.reset))).encode()))
        return out


class RateLimiter:
    """Counts calls per credential in fixed windows, and blocks a credential that goes over."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.quota = max(1, math.floor(limit.requests))
        self.clock = clock
        self.refused = 0  # calls answered 429, for tests and benchmarks
        self.blocks = 0  # times a credential went over its quota
        self._windows: dict[bytes, _Window] = {}
        self._lock = threading.Lock()

    def take(self, credential: bytes) -> Decision:
        """Count one call of ``credential`` now, and say whether it is admitted."""
        key = hashlib.sha256(credential).digest()
        with self._lock:
            now = self.clock()
            w = self._windows.get(key)
            if w is not None and now < w.blocked_until:
                self.refused += 1
                return Decision(False, 0, w.blocked_until - now)
            if w is None or now >= w.start + self.limit.seconds:
                if len(self._windows) >= PRUNE_AT:
                    self._prune(now)
                w = self._windows[key] = _Window(now)
            w.used += 1
            if w.used > self.quota:
                w.blocked_until = now + self.limit.seconds
                self.blocks += 1
                self.refused += 1
                return Decision(False, 0, self.limit.seconds)
            return Decision(True, self.quota - w.used, w.start + self.limit.seconds - now)

    def __len__(self) -> int:
        """Credentials remembered (those whose window and block are over go at the next prune)."""
        return len(self._windows)

    def spend(self, credential: bytes, calls: int) -> None:
        """Count ``calls`` more of ``credential`` as if another client had made them (tests)."""
        for _ in range(calls):
            self.take(credential)

    def _prune(self, now: float) -> None:
        seconds = self.limit.seconds
        gone = [k for k, w in self._windows.items() if now >= max(w.start + seconds, w.blocked_until)]
        for k in gone:
            del self._windows[k]


def credential_of(scope: Scope) -> bytes:
    """The credential a request carries, as the platform counts it: its bearer token, or its
    global API key with the email (nothing: counted together with every call that has none)."""
    auth = key = email = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == b"x-auth-key":
            key = value
        elif name == b"x-auth-email":
            email = value
    return b"key\0" + key + b"\0" + email if key and not auth else b"auth\0" + auth


async def limited(limiter: RateLimiter, scope: Scope, receive: Receive, send: Send) -> tuple[bool, Send]:
    """Apply the limit to one API call: (True, a ``send`` that stamps the answer's headers) when
    it is admitted; else the 429 is answered here (after reading the body, so the connection
    stays usable) and (False, ``send``)."""
    decision = limiter.take(credential_of(scope))
    headers = decision.headers(limiter.limit)
    if not decision.allowed:
        more = True
        while more:  # the request's body, unread: the client may still be sending it
            message = await receive()
            more = message.get("more_body", False) and message["type"] == "http.request"
        response = error_response(ApiError(429, RATE_LIMITED, RATE_LIMITED_MESSAGE))
        response.raw_headers.extend(headers)
        await response(scope, receive, send)
        return False, send

    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return True, stamped
