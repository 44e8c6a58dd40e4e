"""The API's rate limit, as the platform states it: the budget, its headers, and its refusal.

Cloudflare's client API allows 1,200 requests per five minutes per user or account token,
counted across every client using that credential; once a client goes over, every call is
answered HTTP 429 (error code 971) for the next five minutes. Every REST answer carries
``Ratelimit: "default";r=<remaining>;t=<seconds until the window resets>`` and
``Ratelimit-Policy: "burst";q=<quota>;w=<window seconds>`` (the IETF rate-limit headers draft:
Structured Field lists of items with parameters); a refusal adds ``Retry-After`` (seconds,
rounded up). The emulator writes these headers and the client reads them, both through here.

Pure values and parsing: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import UsageError

RATE_LIMITED = 971  # the API's error code for a call refused by the rate limit
RATE_LIMITED_MESSAGE = "Please wait and consider throttling your request speed"
RATELIMIT = "Ratelimit"  # what is left of the budget, and when it resets
RATELIMIT_POLICY = "Ratelimit-Policy"  # the budget itself


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A budget of ``requests`` per ``seconds``. ``requests`` may be fractional once a budget is
    shared (:meth:`share`): a quarter of 10 requests is 2.5 requests per window."""

    requests: float
    seconds: float

    def __post_init__(self) -> None:
        if not all(0 < v < math.inf for v in (self.requests, self.seconds)):
            raise ValueError(
                f"a rate limit needs a finite number above 0 of requests and of seconds: {self!r}"
            )

    @classmethod
    def parse(cls, text: str, option: str = "--rate-limit") -> RateLimit:
        """``"1200/300"`` -> 1,200 requests per 300 seconds; anything else is a
        :class:`~assetsync.errors.UsageError` that names ``option`` and shows the form."""
        m = _FORM.fullmatch(text)
        if m is not None and int(m[1]) > 0 and float(m[2]) > 0:
            return cls(int(m[1]), float(m[2]))
        raise UsageError(
            f"{option} {text!r}: use REQUESTS/SECONDS, a whole number of requests per a number of "
            "seconds, both above 0; e.g. 1200/300 (the API's own limit: 1,200 per five minutes)"
        )

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def share(self, parts: int) -> RateLimit:
        """One of ``parts`` equal shares of this budget (a shard of a CI matrix on one token)."""
        return RateLimit(self.requests / max(1, parts), self.seconds)

    def __str__(self) -> str:
        return f"{self.requests:g}/{self.seconds:g}"


API_RATE_LIMIT = RateLimit(1200, 300)  # Cloudflare's documented limit per user or account token


@dataclass(frozen=True, slots=True)
class Remaining:
    """What a ``Ratelimit`` header says: ``requests`` left until the window resets in ``reset`` seconds."""

    requests: int
    reset: float


# -- the header grammar: a list of items, each a name and ";key=value" parameters ----------------

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*")  # REQUESTS/SECONDS
_ITEM = re.compile(
    r"""\s*(?P<name>"(?:[^"\\]|\\.)*"|[A-Za-z*][\w:/!#$%&'*+.^`|~-]*)"""
    r"""(?P<params>(?:\s*;\s*[a-z*][a-z0-9_.*-]*(?:=(?:"(?:[^"\\]|\\.)*"|[^;,\s"]*))?)*)\s*(?:,|$)"""
)
_PARAM = re.compile(r"""\s*;\s*([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\.)*"|[^;,\s"]*))?""")


def _items(header: str | None) -> list[dict[str, str]]:
    """The parameters of each item of a Structured Field list (the items' names say nothing the
    client acts on); nothing for text that is not such a list."""
    if not header:
        return []
    out: list[dict[str, str]] = []
    pos, text = 0, header.strip()
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None or m.end() == pos:
            return []
        out.append(dict(_PARAM.findall(m.group("params"))))
        pos = m.end()
    return out


def _number(value: str | None) -> float | None:
    return float(value) if value is not None and _NUMBER.fullmatch(value) else None


def parse_policy(header: str | None) -> RateLimit | None:
    """The tightest budget a ``Ratelimit-Policy`` header states (fewest requests per second), or
    None when it states none that can be read."""
    found = []
    for params in _items(header):
        quota, window = _number(params.get("q")), _number(params.get("w"))
        if quota and window:
            found.append(RateLimit(quota, window))
    return min(found, key=lambda p: p.per_second, default=None)


def parse_remaining(header: str | None) -> Remaining | None:
    """The scarcest item of a ``Ratelimit`` header (fewest requests left, then the latest reset),
    or None."""
    found = []
    for params in _items(header):
        left, reset = _number(params.get("r")), _number(params.get("t"))
        if left is not None and reset is not None:
            found.append(Remaining(int(left), reset))
    return min(found, key=lambda r: (r.requests, -r.reset), default=None)


def format_policy(limit: RateLimit) -> str:
    """The ``Ratelimit-Policy`` value for ``limit`` (whole numbers, as the platform writes them)."""
    return f'"burst";q={math.floor(limit.requests)};w={math.ceil(limit.seconds)}'


def format_remaining(requests: int, reset: float) -> str:
    """The ``Ratelimit`` value: ``requests`` left, the window resetting in ``reset`` seconds (rounded up)."""
    return f'"default";r={max(0, requests)};t={max(0, math.ceil(reset))}'
