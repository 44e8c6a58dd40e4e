"""Showing a sync to a person: a progress bar on a terminal, a few plain lines elsewhere.

Kept apart from the engine (as black keeps its report apart from printing): the engine emits
:mod:`assetsync.events`, a :class:`Renderer` turns them into text on stderr, and watch mode's
:class:`~assetsync.watcher.DeployLine` becomes its line here too (:class:`WatchOutput`, which
also writes watch mode's ``--json`` events). A sync's ``--json`` output is the report's own
``to_json``, printed by the CLI on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
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
    json_document,
)
from ..folder.limits import human_size
from ..pacing import Meter
from ..tenantplan import plural
from ..wire.target import in_ci

if TYPE_CHECKING:
    from ..watcher import DeployLine, Step


LINE_EVERY = 10.0  # seconds between progress lines where there is no bar (CI logs, pipes)


def output_mode(quiet: bool, as_json: bool) -> str:
    """The renderers' ``mode``: "bar" on a terminal, "lines" in CI and pipes, "quiet" when only
    errors (or the --json document) are wanted."""
    if quiet or as_json:
        return "quiet"
    return "bar" if sys.stderr.isatty() and not in_ci() else "lines"


SHOWN_PATHS = 3  # changed paths named on a deploy line; the rest are counted
JSON_PATHS = 1000  # changed paths listed in a --json deploy event; the rest are counted


def stamp(text: str, when: float | None = None) -> str:
    """``text`` after the local time (HH:MM:SS); its further lines (an error's list of files)
    indented under the first, so each message stays one block."""
    at = time.strftime("%H:%M:%S", time.localtime(when))
    return f"{at} " + text.replace("\n", "\n" + " " * (len(at) + 1))


def some_paths(paths: Sequence[str], shown: int = SHOWN_PATHS) -> str:
    """The first ``shown`` of ``paths``, and how many more: ``/a, /b, /c +4 more``."""
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" +{more:,} more" if more > 0 else "")


def _files(n: int) -> str:
    return f"{n:,} file{'s' if n != 1 else ''}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f}s"


def deploy_line(line: DeployLine) -> str:
    """Watch mode's line for one deploy: what it changed, what it uploaded, how long the deploy
    took, and (for a change) how long from the first change noticed to live. The first deploy
    says what is live, not what changed (nothing did: watch only started)."""
    took = _ms(line.report.durations.get("total", line.latency))
    sent = f"uploaded {_files(line.uploaded)} ({human_size(line.uploaded_bytes)})" if line.uploaded else ""
    sent = sent or "nothing to upload"
    if line.cause == "start":
        return f"live: {_files(line.report.files)}, {sent}, in {took}"
    named = f" {some_paths(line.paths)}" if line.paths else ""
    return (
        f"deployed: +{line.added} ~{line.changed} -{line.removed}{named}, {sent}, in {took}; "
        f"live {_ms(line.latency)} after the first change"
    )


class WatchOutput:
    """What ``watch`` and ``dev`` show: human lines on stderr, each stamped with the local time,
    and with ``as_json`` one JSON event per line on stdout (and nothing else there).

    Every event is a ``--json`` document (``"schema"`` first) with ``"event"`` and ``"time"``
    (ISO 8601, local, with its offset): started, deployed, unchanged, waiting, error, stopped.
    """

    def __init__(
        self, as_json: bool = False, quiet: bool = False, err: TextIO | None = None, out: TextIO | None = None
    ) -> None:
        self.as_json, self.quiet = as_json, quiet
        self.err, self.out = err, out
        self.url: str | None = None  # where the site is previewed (dev)
        self._error: str | None = None  # the last error event: not repeated until it changes
        self._holding = False  # a "waiting" event went out for the build being held
        self._lock = threading.Lock()  # file events' warnings come from the watcher's thread

    def say(self, text: str, at_once: bool = False) -> None:
        """A line for a person: warnings and errors too (shown even with --quiet)."""
        self._write(self.err or sys.stderr, stamp(text), at_once)

    def _write(self, stream: TextIO, line: str, at_once: bool) -> None:
        """``at_once``: from a signal handler, as the process ends. The main thread it interrupts
        may be inside a print or hold the lock, so the line goes straight to the file."""
        if at_once:
            os.write(stream.fileno(), (line + "\n").encode())
            return
        with self._lock:
            print(line, file=stream, flush=True)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}")

    def event(self, name: str, at_once: bool = False, **fields: object) -> None:
        if not self.as_json:
            return
        when = datetime.now().astimezone().isoformat(timespec="milliseconds")
        line = json.dumps(json_document({"event": name, "time": when, **fields}))
        self._write(self.out or sys.stdout, line, at_once)

    def started(self, folder: str, script: str, namespace: str | None, target: str) -> None:
        where = f" in namespace {namespace}" if namespace else ""
        self.say(f"Watching {folder} -> {script}{where} on {target} (Ctrl-C stops)")
        self.event("started", folder=folder, script=script, namespace=namespace, target=target, url=self.url)

    def deployed(self, line: DeployLine) -> None:
        if not self.quiet:
            self.say(deploy_line(line))
        r = line.report
        self.event(
            "deployed",
            cause=line.cause,
            added=line.added,
            changed=line.changed,
            removed=line.removed,
            paths=list(line.paths[:JSON_PATHS]),
            more_paths=max(0, len(line.paths) - JSON_PATHS),
            files=r.files,
            uploaded=line.uploaded,
            uploaded_bytes=line.uploaded_bytes,
            deploy_ms=round(r.durations.get("total", 0.0) * 1000, 1),
            latency_ms=round(line.latency * 1000, 1),
            url=self.url or r.workers_dev_url or r.preview_url,
            version_id=r.version_id,
            deployment_id=r.deployment_id,
        )

    def step(self, step: Step) -> None:
        """A pass of the watch loop as an event, unless it deployed (:meth:`deployed` said it):
        "error" once until the failure changes (the watcher says it on stderr), "unchanged" (a
        change, saved with the same bytes: not an idle rescan), or any other outcome by its name
        ("waiting", once per hold: a build is still emptying the folder)."""
        if step.outcome == "failed":
            if step.error != self._error:
                self._error = step.error
                self.event("error", cause=step.cause, message=step.error)
            return
        self._error = None
        if step.outcome == "held":  # a build is emptying the folder: one event per hold
            if not self._holding:
                self._holding = True
                self.event("waiting", cause=step.cause, message="waiting for the build to finish")
            return
        self._holding = False
        if step.outcome == "unchanged" and step.cause != "change":
            return  # the idle rescan found nothing new: no news
        if step.outcome != "deployed" and step.error:
            self.event(step.outcome, cause=step.cause, message=step.error)
        elif step.outcome != "deployed":
            self.event(step.outcome, cause=step.cause)

    def stopped(self, deploy: str, forced: bool, deploys: int) -> None:
        """The last line. ``deploy``: what became of the deploy in flight ("none", "finished",
        "cancelled" before its request, or "sent": its request was out when the process ended);
        ``forced``: a second Ctrl-C ended the process at once."""
        said = {
            "none": "",
            "finished": " once the deploy in flight had finished",
            "cancelled": ": the deploy in flight was cancelled before it went live (the previous "
            "version is still live)",
            "sent": ": the deploy request was already sent, so the live version is the new one or "
            "the previous one, never a mix",
        }[deploy]
        self.say(("interrupted at once" if forced else "stopped") + said, at_once=forced)
        code = 130 if forced else 0
        self.event("stopped", at_once=forced, deploy=deploy, forced=forced, deploys=deploys, exit_code=code)


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


def cron_lines(crons: list[str] | None, preview: str | None = None) -> list[str]:
    """What a deploy did to the script's Cron Triggers (nothing said when it left them alone); on a
    preview, how to fire one by hand."""
    if crons is None:
        return []
    if not crons:
        return ["Cron Triggers: none (the deploy removed them)"]
    lines = [f"Cron Triggers: {', '.join(crons)}"]
    if preview:
        query = urllib.parse.urlencode({"cron": crons[0]})
        lines.append(f"  fire one now: curl '{preview.rstrip('/')}/cdn-cgi/local/scheduled?{query}'")
    return lines


def where_it_went(report: SyncReport) -> list[str]:
    """The lines that say where a deploy went: the preview of the local emulator; on the API an
    account's Worker's workers.dev URL (or why there is none) or a namespace's script; and the
    version and deployment ids the deploy answered with."""
    if report.dry_run:
        return []
    if report.preview_url:
        return [
            f"Preview: {report.preview_url}  (start the preview server with: assetsync serve)",
            *cron_lines(report.crons, report.preview_url),
        ]
    lines = cron_lines(report.crons)
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
    """Shows a sync-all run: one line redrawn on a terminal (tenants deployed, unchanged and
    failed of the total, bytes uploaded, requests sent), and in CI a progress line every tenth of
    the run; each failure on a line of its own as it happens."""

    def __init__(
        self,
        mode: str,
        total: int,
        stream: TextIO | None = None,
        verbose: bool = False,
        dry_run: bool = False,
    ) -> None:
        super().__init__(mode, stream, verbose)
        self.total = total
        self.dry_run = dry_run  # tenants are then "to deploy", not "deployed"
        self.deployed = self.unchanged = self.failed = 0
        self.requests = 0  # sent so far by the run (the rate limit counts them)
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
            self.requests = max(self.requests, event.requests)
            if row.unchanged:
                self.unchanged += 1
                if self.verbose:
                    self.say(f"unchanged {row.tenant}: skipped (its record and the namespace's list agree)")
            elif row.ok:
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
            finished = self.deployed + self.unchanged + self.failed
            if self.mode == "lines" and (finished % self._step == 0 or finished == self.total):
                self.say(f"[{finished:,}/{self.total:,}] {self._counts()}")
            elif self.mode == "bar":
                self._draw(force=True)

    def _counts(self) -> str:
        deployed = "to deploy" if self.dry_run else "deployed"
        return (
            f"{self.deployed:,} {deployed}, {self.unchanged:,} unchanged, {self.failed:,} failed, "
            f"{human_size(self.sent_bytes)} uploaded, {plural(self.requests, 'request')}"
        )

    def finish(self, report: SyncAllReport) -> None:
        self._clear_bar()
        reports = [t.report for t in report.tenants if t.report is not None]
        files = sum(r.files for r in reports)
        uploaded = sum(r.uploaded for r in reports)
        sent = sum(r.uploaded_bytes for r in reports)
        unchanged = len(report.unchanged)
        failed = f"; {len(report.failed):,} failed" if report.failed else ""
        if report.dry_run:
            self.say(
                f"Checked {len(report.tenants):,} tenants for namespace {report.namespace} in "
                f"{report.seconds:.2f}s: {len(reports) - unchanged:,} to deploy, {unchanged:,} unchanged, "
                f"{files:,} files{failed}"
            )
        else:
            self.say(
                f"Deployed {len(reports) - unchanged:,} of {len(report.tenants):,} tenants into namespace "
                f"{report.namespace} in {report.seconds:.2f}s"
                + (f" ({unchanged:,} unchanged, skipped)" if unchanged else "")
                + f": {files:,} files, {uploaded:,} uploaded ({human_size(sent)}), "
                + plural(report.requests, "request")
                + failed
            )
        if report.plan is not None:
            for line in report.plan.lines():
                self.say(line)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        finished = self.deployed + self.unchanged + self.failed
        rate = self.sent_bytes / max(1e-6, now - self.t0)
        self._show(f"\rtenants {finished:,}/{self.total:,}: {self._counts()}  {human_size(rate)}/s \x1b[K")
