"""Showing a sync to a person: a progress bar on a terminal, a few plain lines elsewhere.

Kept apart from the engine (as black keeps its report apart from printing): the engine emits
:mod:`assetsync.events`, a :class:`Renderer` turns them into text on stderr, and watch mode's
:class:`~assetsync.watcher.DeployLine` becomes its line here too. ``--json`` output is the
report's own ``to_json``, printed by the CLI on stdout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from ..events import (
    Built,
    Deployed,
    Event,
    Restarting,
    Retrying,
    SessionOpened,
    SyncAllReport,
    SyncReport,
    TenantEvent,
    TenantFinished,
    TenantProgress,
    Uploaded,
)
from ..folder.limits import human_size
from ..pacing import Meter
from ..wire.target import in_ci

if TYPE_CHECKING:
    from ..watcher import DeployLine


LINE_EVERY = 10.0  # seconds between progress lines where there is no bar (CI logs, pipes)


def output_mode(quiet: bool, as_json: bool) -> str:
    """The renderers' ``mode``: "bar" on a terminal, "lines" in CI and pipes, "quiet" when only
    errors (or the --json document) are wanted."""
    if quiet or as_json:
        return "quiet"
    return "bar" if sys.stderr.isatty() and not in_ci() else "lines"


def deploy_line(line: DeployLine) -> str:
    """Watch mode's line for one deploy, stamped with the time it is shown."""
    return (
        f"{time.strftime('%H:%M:%S')} deployed: +{line.added} ~{line.changed} -{line.removed}, "
        f"uploaded {line.uploaded} file{'s' if line.uploaded != 1 else ''} "
        f"({human_size(line.uploaded_bytes)}) "
        f"in {line.latency * 1000:.0f} ms from the first change"
    )


class _StatusLine:
    """Text on stderr with one status line redrawn under it (``mode`` "bar"), or plain lines
    ("lines"), or nothing but what must be said ("quiet")."""

    def __init__(self, mode: str, stream: TextIO | None, verbose: bool) -> None:
        self.mode = mode
        self.out = stream or sys.stderr
        self.verbose = verbose
        self._last_draw = 0.0
        self._bar_shown = False

    def say(self, text: str) -> None:
        if self.mode == "quiet":
            return
        self._clear_bar()
        print(text, file=self.out, flush=True)

    def _show(self, line: str) -> None:
        self.out.write(line)
        self.out.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._bar_shown = False


class Renderer(_StatusLine):
    """Consumes events; ``mode`` is "bar" (a terminal), "lines" (CI, pipes) or "quiet"."""

    def __init__(
        self,
        mode: str,
        stream: TextIO | None = None,
        verbose: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(mode, stream, verbose)
        self.clock = clock
        self.total_files = self.total_bytes = 0
        self.sent_bytes = self.done_files = 0
        self.t_upload = 0.0
        self.meter = Meter()  # the rate shown and the ETA: the last seconds' rate, not the average
        self._last_line = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, Uploaded):
            self.sent_bytes += event.bytes
            self.done_files += event.files
            now = self.clock()
            self.meter.add(event.bytes, now)
            if self.mode == "bar":
                self._draw(now)
            elif self.mode == "lines" and now - self._last_line >= LINE_EVERY:
                self._last_line = now
                self.say(f"uploading: {self._progress(now)}")
        elif isinstance(event, Built):
            if self.verbose or self.mode == "lines":
                self.say(
                    f"Scanned {event.files:,} files ({human_size(event.bytes)}): {event.hashed:,} hashed, "
                    f"{event.verified:,} verified, {event.cached:,} from cache, in {event.seconds:.2f}s"
                )
        elif isinstance(event, SessionOpened):
            self.total_files, self.total_bytes = event.missing_files, event.missing_bytes
            self.sent_bytes = self.done_files = 0
            self.t_upload = self._last_line = self.clock()
            self.meter = Meter()
            if event.missing_files:
                self.say(
                    f"Uploading {event.missing_files:,} of {event.files:,} files "
                    f"({human_size(event.missing_bytes)}) in {event.requests:,} request"
                    f"{'s' if event.requests != 1 else ''}"
                )
            else:
                self.say(f"All {event.files:,} files are already uploaded")
        elif isinstance(event, Retrying):
            if self.mode != "quiet":
                self.say(f"retry {event.attempt}: {event.what} in {event.delay:.1f}s ({event.reason})")
        elif isinstance(event, Restarting):
            self.say(f"opening a new upload session: {event.reason}")
        elif isinstance(event, Deployed):
            if self.total_files:
                took = self.clock() - self.t_upload - event.seconds
                size = human_size(self.total_bytes)
                rate = f" at {human_size(self.total_bytes / took)}/s" if took > 0.5 else ""
                self.say(f"Uploaded {self.total_files:,} files ({size}) in {took:.2f}s{rate}")
            where = f" in namespace {event.namespace}" if event.namespace else ""
            self.say(f"Deployed {event.script}{where} in {event.seconds:.2f}s")

    def finish(self, report: SyncReport) -> None:
        self._clear_bar()
        for line in where_it_went(report):
            self.say(line)

    def _draw(self, now: float) -> None:
        if now - self._last_draw < 0.1 and self.sent_bytes < self.total_bytes:
            return
        self._last_draw = now
        frac = self.sent_bytes / self.total_bytes if self.total_bytes else 1.0
        width = 24
        filled = int(width * min(1.0, frac))
        bar = f"[{'#' * filled}{'.' * (width - filled)}]"
        self._show(f"\r{bar} {self.done_files:,}/{self.total_files:,} files  {self._progress(now)} ")

    def _progress(self, now: float) -> str:
        """Bytes sent of all, the link's rate over the last seconds, and the time left at that
        rate (none until there is a rate to go by)."""
        done = f"{human_size(max(0, self.sent_bytes))}/{human_size(self.total_bytes)}"
        rate = self.meter.rate(now)
        if not rate:
            return f"{done}  measuring the link"
        left = max(0, self.total_bytes - self.sent_bytes) / rate
        return f"{done}  {human_size(rate)}/s  ETA {_duration(left)}"


def _duration(seconds: float) -> str:
    """``seconds`` as a person reads it: 45s, 3m20s, 1h05m."""
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def where_it_went(report: SyncReport) -> list[str]:
    """The lines that say where a deploy went: the preview of the local emulator; on the API an
    account's Worker's workers.dev URL (or why there is none) or a namespace's script; and the
    version and deployment ids the deploy answered with."""
    if report.dry_run:
        return []
    if report.preview_url:
        return [f"Preview: {report.preview_url}  (start the preview server with: assetsync serve)"]
    lines = []
    if report.namespace:
        lines.append(
            f"Live as script {report.script} in dispatch namespace {report.namespace}: requests reach it "
            "through the namespace's dispatch Worker"
        )
    elif report.workers_dev_url:
        lines.append(f"URL: {report.workers_dev_url}")
    elif report.workers_dev_enabled is False:
        lines.append(
            f"workers.dev: off for {report.script}, so it answers only on its routes and custom domains "
            "(turn workers.dev on in the dashboard, under the Worker's Settings > Domains & Routes)"
        )
    elif report.workers_dev_enabled:
        lines.append(
            "workers.dev: the account has no workers.dev subdomain yet (choose one in the dashboard, "
            "Workers & Pages), so there is no workers.dev URL"
        )
    version, deployment = report.version_id, report.deployment_id
    ids = [f"Version: {version}"] if version else []
    if deployment and deployment.replace("-", "") != (version or "").replace("-", ""):
        ids.append(f"Deployment: {deployment}")  # on Cloudflare it is the version's id, said once
    if ids:
        lines.append("  ".join(ids))
    return lines


class TenantsRenderer(_StatusLine):
    """Shows a sync-all run: one line redrawn on a terminal (tenants done and failed of the total,
    bytes uploaded), and in CI a progress line every tenth of the run; each failure on a line
    of its own as it happens."""

    def __init__(self, mode: str, total: int, stream: TextIO | None = None, verbose: bool = False) -> None:
        super().__init__(mode, stream, verbose)
        self.total = total
        self.deployed = self.failed = 0
        self.sent_bytes = 0
        self.t0 = time.monotonic()
        self._step = max(1, total // 10)

    def __call__(self, event: TenantEvent) -> None:
        if isinstance(event, TenantProgress):
            inner = event.event
            if isinstance(inner, Uploaded):
                self.sent_bytes += inner.bytes
                if self.mode == "bar":
                    self._draw()
            elif isinstance(inner, Retrying) and self.verbose:
                self.say(
                    f"{event.tenant}: retry {inner.attempt}: {inner.what} in {inner.delay:.1f}s "
                    f"({inner.reason})"
                )
            elif isinstance(inner, Restarting):
                self.say(f"{event.tenant}: opening a new upload session: {inner.reason}")
        elif isinstance(event, TenantFinished):
            row = event.result
            if row.ok:
                self.deployed += 1
                if self.verbose and row.report is not None:
                    r = row.report
                    self.say(
                        f"ok {row.tenant}: {r.uploaded:,} of {r.files:,} files uploaded "
                        f"({human_size(r.uploaded_bytes)}) in {row.seconds:.2f}s"
                    )
            else:
                self.failed += 1
                first = (row.error or "").strip().splitlines()[0] if row.error else ""
                self.say(f"FAILED {row.tenant} (exit {row.exit_code}): {first}")
            finished = self.deployed + self.failed
            if self.mode == "lines" and (finished % self._step == 0 or finished == self.total):
                self.say(f"[{finished:,}/{self.total:,}] {self._counts()}")
            elif self.mode == "bar":
                self._draw(force=True)

    def _counts(self) -> str:
        return f"{self.deployed:,} deployed, {self.failed:,} failed, {human_size(self.sent_bytes)} uploaded"

    def finish(self, report: SyncAllReport) -> None:
        self._clear_bar()
        reports = [t.report for t in report.tenants if t.report is not None]
        files = sum(r.files for r in reports)
        uploaded = sum(r.uploaded for r in reports)
        sent = sum(r.uploaded_bytes for r in reports)
        verb = "Checked" if report.dry_run else "Deployed"
        self.say(
            f"{verb} {len(reports):,} of {len(report.tenants):,} tenants into namespace "
            f"{report.namespace} in {report.seconds:.2f}s: {files:,} files, {uploaded:,} uploaded "
            f"({human_size(sent)})" + (f"; {len(report.failed):,} failed" if report.failed else "")
        )

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        finished = self.deployed + self.failed
        rate = self.sent_bytes / max(1e-6, now - self.t0)
        self._show(f"\rtenants {finished:,}/{self.total:,}: {self._counts()}  {human_size(rate)}/s \x1b[K")
