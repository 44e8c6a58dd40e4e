"""What a sync-all run would cost: the plan ``sync-all --dry-run`` prints before anything is spent.

The API counts requests against a budget per token (Cloudflare's: 1,200 requests per 300 s,
shared by every client of the token), so a platform's run is measured in requests: the pages of
the namespace's script list that check unchanged tenants, then per tenant to deploy one session,
its uploads and one deploy. At the budget's steady rate that is the run's shortest duration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .protocol import BUCKET_BYTES, BUCKET_FILES
from .protocol.ratelimit import API_RATE_LIMIT, RateLimit


@dataclass(frozen=True, slots=True)
class RateBudget:
    """``requests`` per ``seconds`` for the token, of which this run takes one ``share``-th
    (``--shard I/N``: the N shards share the token's budget)."""

    requests: int
    seconds: float
    share: int = 1

    @classmethod
    def parse(cls, text: str, flag: str = "--rate-limit") -> RateBudget:
        """``"1200/300"`` -> 1,200 requests per 300 s, read as ``--rate-limit`` is read
        (:meth:`RateLimit.parse <assetsync.protocol.ratelimit.RateLimit.parse>`)."""
        return cls.of(RateLimit.parse(text, flag))

    @classmethod
    def of(cls, limit: RateLimit) -> RateBudget:
        """The budget a rate limit states (``--rate-limit``, a server's ``Ratelimit-Policy``)."""
        return cls(max(1, math.floor(limit.requests)), float(limit.seconds))

    def shared_by(self, count: int) -> RateBudget:
        return RateBudget(self.requests, self.seconds, self.share * max(1, count))

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds / self.share

    def __str__(self) -> str:
        text = f"{self.requests:,} requests / {self.seconds:g} s"
        return f"1/{self.share} of {text}" if self.share > 1 else text

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": self.seconds, "share": self.share}


UNCHANGED = "unchanged"  # the verdict of a tenant that is skipped (assetsync.tenantcheck names the others)

# Per user or account token, across every client using it (developers.cloudflare.com, "Rate limits").
CLOUDFLARE_BUDGET = RateBudget.of(API_RATE_LIMIT)


def estimate_uploads(sizes: Iterable[int]) -> int:
    """Upload requests for blobs of these sizes when the server lacks all of them: the server's
    buckets (at most :data:`BUCKET_FILES` files and :data:`BUCKET_BYTES` bytes), one request each."""
    requests = files = size = 0
    for n in sizes:
        if files and (size + n > BUCKET_BYTES or files >= BUCKET_FILES):
            requests += 1
            files = size = 0
        files += 1
        size += n
    return requests + (1 if files else 0)


@dataclass(slots=True)
class TenantPlan:
    """What the run that the dry run stands for would do, and the requests it would take."""

    budget: RateBudget
    tenants: int = 0
    deploy: int = 0  # tenants that would be deployed
    unchanged: int = 0  # tenants that would be skipped
    failed: int = 0  # tenants whose folder or settings stop them before any request
    checks: dict[str, int] = field(default_factory=dict)  # why each tenant deploys or not (tenantcheck)
    list_pages: int = 0
    sessions: int = 0
    uploads: int = 0
    deploys: int = 0
    other: int = 0  # reads of a live migration tag, prune deletions
    uploads_estimated: bool = False  # some tenant's uploads were not asked of the server
    unverified: bool = False  # unchanged by the records alone: the list was not read (offline)
    spent: int = 0  # requests the dry run itself made

    def add_unchanged(self, check: str) -> None:
        self.tenants += 1
        self.unchanged += 1
        self._count(check)

    def add_deploy(self, check: str, uploads: int, other: int = 0, estimated: bool = False) -> None:
        """A tenant to deploy (``check`` says why): a session, ``uploads`` upload requests,
        ``other`` requests (a migration tag read), a deploy."""
        self.tenants += 1
        self.deploy += 1
        self._count(check)
        self.sessions += 1
        self.deploys += 1
        self.uploads += uploads
        self.other += other
        self.uploads_estimated |= estimated

    def _count(self, check: str) -> None:
        self.checks[check] = self.checks.get(check, 0) + 1

    def add_failed(self) -> None:
        self.tenants += 1
        self.failed += 1

    @property
    def requests(self) -> int:
        return self.list_pages + self.sessions + self.uploads + self.deploys + self.other

    @property
    def seconds(self) -> float:
        """The run's duration at the budget's steady rate."""
        return self.requests / self.budget.per_second

    def to_json(self) -> dict[str, Any]:
        return {
            "tenants": self.tenants,
            "deploy": self.deploy,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "checks": dict(sorted(self.checks.items())),
            "requests": {
                "list_pages": self.list_pages,
                "sessions": self.sessions,
                "uploads": self.uploads,
                "deploys": self.deploys,
                "other": self.other,
                "total": self.requests,
            },
            "uploads_estimated": self.uploads_estimated,
            "unverified": self.unverified,
            "rate_limit": self.budget.to_json(),
            "seconds": round(self.seconds, 3),
            "dry_run_requests": self.spent,
        }

    def lines(self) -> list[str]:
        """The plan as a person reads it."""
        why = ", ".join(f"{n:,} {check}" for check, n in sorted(self.checks.items()) if check != UNCHANGED)
        skipped = "unchanged by their records (the list was not read)" if self.unverified else "unchanged"
        parts = [
            plural(self.list_pages, "list page"),
            plural(self.sessions, "session"),
            plural(self.uploads, "upload")
            + (" (estimated: every file of a tenant to deploy)" if self.uploads_estimated else ""),
            plural(self.deploys, "deploy"),
        ]
        if self.other:
            parts.append(f"{self.other:,} other")
        return [
            f"Plan: {self.deploy:,} of {self.tenants:,} tenants would deploy"
            + (f" ({why})" if why else "")
            + f", {self.unchanged:,} {skipped} would be skipped"
            + (f", {self.failed:,} failed before any request" if self.failed else ""),
            f"Requests: {self.requests:,} = " + " + ".join(parts),
            f"Time at {self.budget}: about {duration(self.seconds)} "
            f"(this dry run made {plural(self.spent, 'request')})",
        ]


def plural(n: int, word: str) -> str:
    """``1 request``, ``2 requests``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """``seconds`` as a person says it: 0.4 s, 42 s, 4 min 10 s, 13 h 53 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
