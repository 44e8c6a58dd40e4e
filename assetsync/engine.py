"""The sync engine: manifest -> upload session -> the missing blobs, concurrently -> deploy.

It never deploys an incomplete asset set: the deploy needs the completion token, which the
server only hands out once every blob it asked for has arrived.

Failures are retried as :mod:`assetsync.retry` decides. Uploads run under an AIMD concurrency
limit that halves on 429/503/524 and creeps back up; an upload or completion token that expires
or is refused opens a fresh session, whose buckets list only what is still missing; a file that
changed since it was hashed is never sent under its old hash, nor deployed under it: the manifest
is rebuilt and a new session opened.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .errors import ApiError, ConfigError, FilesChanging, NetworkError, NothingToPublish, ServerError
from .events import (
    Built,
    Deployed,
    Deploying,
    Event,
    Restarting,
    Retrying,
    SessionOpened,
    SyncReport,
    Uploaded,
)
from .folder.build import BuildOptions, BuildResult, build
from .folder.manifest import Manifest
from .pacing import (
    DEFAULT_CONCURRENCY,
    RESEND_MARGIN,
    RESEND_SECONDS,
    START_CONCURRENCY,
    Governor,
    Meter,
    piece_size,
    resend_from,
)
from .project.deployfiles import root_rule_texts
from .protocol import Module, WorkerSpec, deploy_metadata, session_path, version_id_of
from .protocol.assetrules.check import rule_problems
from .protocol.ratelimit import RateLimit
from .retry import Backoff, Concurrency, Retrier, Retries, Retry, Verdict, classify
from .wire.body import FileChanged, MultipartBody, PartSource
from .wire.client import ApiClient, UploadSession
from .wire.plan import Request, check_spec, plan_uploads
from .wire.target import Target

T = TypeVar("T")
MAX_SESSIONS = 4  # fresh sessions (expired tokens, changed files) before giving up


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How to publish one folder."""

    script: str
    namespace: str | None = None
    build: BuildOptions = field(default_factory=BuildOptions)
    worker: WorkerSpec = field(default_factory=WorkerSpec)
    modules: tuple[Module, ...] = ()
    concurrency: int = DEFAULT_CONCURRENCY
    attempts: int = 6  # per request, the first included
    timeout: float = 60.0  # seconds without progress before a request counts as stalled
    dry_run: bool = False
    offline: bool = False  # with dry_run: do not even ask the server
    allow_empty: bool = False  # deploy a folder with no files (it empties the live site)
    strict_rules: bool = False  # a _redirects/_headers line the platform would ignore is an error
    backoff: Backoff = field(default_factory=Backoff)
    # The most of the API's rate limit the run may use (--rate-limit), for a token shared with other
    # tools; None: what the server states. Every request is paced within it (assetsync.ratepacer).
    rate_limit: RateLimit | None = None
    # The script's Cron Triggers, set after each deploy (an account script's only); None: leave
    # them as they are, () removes them all.
    crons: tuple[str, ...] | None = None


def nothing_to_publish(root: str, script: str) -> NothingToPublish:
    """The refusal of a folder with no files (sync's, and watch's at start): deploying it would
    empty the live site."""
    return NothingToPublish(
        f"{root}: no files to publish (the folder is empty, or everything in it is ignored). "
        f"Deploying it would remove every asset of {script}: build the site first, or pass the "
        "folder that holds it (--allow-empty deploys it anyway).",
        root,
    )


class _Restart(Exception):
    """Internal: the current session cannot finish; open another."""

    def __init__(self, reason: str, files_changed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.files_changed = files_changed  # the manifest must be rebuilt before the new session


class Syncer:
    """One sync run: the state that the steps share."""

    def __init__(
        self,
        root: str,
        options: SyncOptions,
        target: Target,
        client: ApiClient,
        on_event: Callable[[Event], None] | None = None,
        warn: Callable[[str], None] | None = None,
        slots: UploadSlots | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``sleep`` waits out each back-off: tests pass one that records the wait instead."""
        self.root = root
        self.o = options
        self.target = target
        self.client = client
        self.emit = on_event or (lambda event: None)
        self.warn = warn
        self.retrying = Retrier(
            Retries(options.attempts, options.backoff), on_retry=self._retried, sleep=sleep
        )
        self.spec = options.worker  # what the deploy says: each publish adds the root files
        # What the last deploy sent and what the server answered (its etag and modified_on):
        # what sync-all records, so that the next run can tell whether anything changed since.
        self.deployed: tuple[Manifest, WorkerSpec, dict[str, Any]] | None = None
        self._rules_checked: tuple[str | None, str | None] | None = None  # the texts last checked
        # Uploads in flight: this run's own limit, or one shared by several runs (sync-all), so
        # that a server pushing back slows every run down, and N runs never mean N x the load.
        self._shared_slots = slots
        self.slots = slots or UploadSlots.up_to(options.concurrency)
        self.concurrency = self.slots.concurrency
        self.report = SyncReport(
            target="emulator" if target.kind == "emulator" else target.base_url,
            account_id=target.account_id,
            script=options.script,
            namespace=options.namespace,
            dry_run=options.dry_run,
        )

    # -- steps ---------------------------------------------------------------------------

    def _build(self) -> BuildResult:
        t0 = time.perf_counter()
        result = build(self.root, self.o.build, warn=self.warn)
        self._built(result, time.perf_counter() - t0)
        return result

    async def build_in_thread(self) -> BuildResult:
        """Build the manifest on a worker thread, so an event loop shared with other runs keeps
        uploading meanwhile; events are still emitted on the loop."""
        t0 = time.perf_counter()
        result = await asyncio.to_thread(build, self.root, self.o.build, self.warn)
        self._built(result, time.perf_counter() - t0)
        return result

    def _built(self, result: BuildResult, seconds: float) -> None:
        """Account for a build; refuse one with nothing in it unless allowed."""
        s = result.stats
        self.report.files, self.report.bytes = s.files, s.bytes
        self.report.durations["build"] = self.report.durations.get("build", 0.0) + seconds
        self.emit(Built(s.files, s.bytes, s.hashed, s.verified, s.cached, s.seconds))
        if not len(result.manifest) and not self.o.allow_empty:
            raise nothing_to_publish(self.root, self.o.script)

    def _with_root_files(self, spec: WorkerSpec) -> WorkerSpec:
        """``spec`` with the folder's root ``_headers`` and ``_redirects``, read anew for every
        publish (they configure the deployment, PROTOCOL.md section 4), unless set by the caller,
        and checked (:meth:`_check_rules`)."""
        a = spec.assets
        headers, redirects = root_rule_texts(self.root, a)
        self._check_rules(redirects, headers, a.html_handling)
        return replace(spec, assets=replace(a, headers=headers, redirects=redirects))

    def deploy_spec(self) -> WorkerSpec:
        """What a publish now would deploy besides the assets: the options' spec with the
        folder's root ``_headers`` and ``_redirects`` as they are now (checked, as a publish checks them)."""
        return self._with_root_files(self.o.worker)

    def _check_rules(self, redirects: str | None, headers: str | None, html_handling: str | None) -> None:
        """Say each line of ``_redirects``/``_headers`` the platform would reject or ignore, as
        ``FILE:LINE: why``, once per text; with ``strict_rules`` they stop the run, before any
        request. The parsers are the ones the emulator's preview serves with."""
        if self._rules_checked == (redirects, headers):
            return
        self._rules_checked = (redirects, headers)
        lines = [
            f"{os.path.join(self.root, w.file)}{'' if w.line is None else f':{w.line}'}: {w.message}"
            + (f" (the line: {w.text.strip()})" if w.text and w.text.strip() else "")
            for w in rule_problems(redirects=redirects, headers=headers, html_handling=html_handling)
        ]
        if lines and self.o.strict_rules:
            raise ConfigError(
                f"{len(lines)} line(s) of _redirects/_headers would be ignored by the platform "
                "(--strict makes that an error; nothing was uploaded):\n  " + "\n  ".join(lines)
            )
        for line in lines:
            if self.warn is not None:
                self.warn(line)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]], *, token: str | None = None) -> T:
        """``call()``, retried as :class:`~assetsync.retry.Retrier` decides.

        ``token`` names the session token the request carries ("upload", "completion"): if the
        server refuses it, a fresh session is needed, not a retry.
        """
        try:
            return await self.retrying(what, call, upload=token is not None)
        except ApiError as exc:
            if token is not None and classify(exc.status, upload=True) is Verdict.NEW_SESSION:
                raise _Restart(f"the {token} token was refused ({exc.code or exc.status})") from exc
            raise

    def _retried(self, retry: Retry) -> None:
        """Count and report a retry; a server that asks to slow down gets fewer uploads at once."""
        if retry.verdict is Verdict.SLOW_DOWN:
            self.concurrency.on_throttle()
        self.report.retries += 1
        self.emit(Retrying(retry.what, retry.attempt, retry.delay, str(retry.error)))

    async def _open(self, manifest_json: str) -> UploadSession:
        t0 = time.perf_counter()

        async def call() -> UploadSession:
            return await self.client.open_session(self.o.script, self.o.namespace, manifest_json)

        session = await self._retrying("opening the upload session", call)
        self.report.sessions += 1
        self.report.durations["session"] = (
            self.report.durations.get("session", 0.0) + time.perf_counter() - t0
        )
        return session

    async def _upload_one(self, jwt: str, request: Request, index: int, total: int) -> str | None:
        """Send one planned request's parts; returns the last upload token answered.

        A try that fails mid-body costs what it had not finished: its retry carries only the parts
        that had not reached the connection (:func:`~assetsync.pacing.resend_from`). After a second
        failure the rest goes in requests half the size, down to one part each.
        """
        what = f"upload request {index + 1}/{total}"
        pending = list(request.parts)
        cap: int | None = None  # most raw bytes in one try, once tries of this request failed
        failures = 0
        token: str | None = None

        async def call() -> str | None:
            nonlocal cap, failures
            batch = _leading(pending, cap)
            async with self.slots:
                body = MultipartBody(batch, on_progress=self._progress, piece=self.slots.piece)
                try:
                    answer = await self.client.upload(jwt, body)
                except BaseException as exc:
                    self._unsent(body.sent_raw)
                    if isinstance(exc, NetworkError) and body.sent:
                        delivered = resend_from(body.ends, body.sent, self.slots.margin())
                        self._delivered(batch[:delivered])
                        del pending[:delivered]
                        failures += 1
                        if failures >= 2 and len(batch) > delivered + 1:
                            cap = max(1, sum(p.size for p in batch[delivered:]) // 2)
                    raise
            del pending[: len(batch)]
            self.concurrency.on_success()
            self.emit(Uploaded(0, len(batch)))
            self.report.requests += 1
            self.report.uploaded += len(batch)
            return answer

        while pending:
            answer = await self._retrying(what, call, token="upload")
            token = answer or token
        return token

    def _progress(self, raw: int) -> None:
        self.report.uploaded_bytes += raw
        self.slots.sent(raw)
        self.emit(Uploaded(raw))

    def _unsent(self, raw: int) -> None:
        """A failed request's bytes do not count as uploaded (the link carried them all the same)."""
        if raw:
            self.report.uploaded_bytes -= raw
            self.report.resent_bytes += raw
            self.emit(Uploaded(-raw))

    def _delivered(self, parts: Sequence[PartSource]) -> None:
        """Parts of a failed request taken as received: they count as uploaded after all."""
        raw = sum(p.size for p in parts)
        if parts:
            self.report.uploaded_bytes += raw
            self.report.resent_bytes -= raw
            self.report.uploaded += len(parts)
            self.emit(Uploaded(raw, len(parts)))

    async def _upload_all(self, session: UploadSession, requests: list[Request]) -> str:
        """Upload every request; returns the completion token."""
        completion: str | None = None if requests else session.jwt
        tasks = [
            asyncio.ensure_future(self._upload_one(session.jwt, r, i, len(requests)))
            for i, r in enumerate(requests)
        ]
        try:
            for future in asyncio.as_completed(tasks):
                token = await future
                if token:
                    completion = token
        except FileChanged as exc:
            raise _Restart(f"{exc.path} changed while it was being uploaded", files_changed=True) from None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if completion is None:
            # The answer that carried it was lost or mangled (a 201 read as `result: null`). A new
            # session over the same manifest finds every blob stored and hands out a fresh one.
            raise _Restart("every upload was accepted, but no answer carried the completion token")
        return completion

    async def _deploy(self, completion: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        live_tag = None
        if self.spec.main_module and self.spec.migrations:  # they start from the live script's tag

            async def tag() -> str | None:
                return await self.client.migration_tag(self.o.script, self.o.namespace)

            live_tag = await self._retrying("reading the live migration tag", tag)
        metadata = deploy_metadata(self.spec, completion, live_tag)

        async def call() -> dict[str, Any]:
            return await self.client.deploy(self.o.script, self.o.namespace, metadata, self.o.modules)

        self.emit(Deploying(self.o.script, self.o.namespace))
        result = await self._retrying("deploying", call, token="completion")
        if self.o.crons is not None and self.o.namespace is None:
            crons = self.o.crons

            async def schedule() -> list[str]:
                return await self.client.put_schedules(self.o.script, crons)

            # After the deploy, as wrangler sets them: a new script exists only now.
            try:
                self.report.crons = await self._retrying("setting the Cron Triggers", schedule)
            except ApiError as exc:
                version = version_id_of(result)
                live = f"version {version} of {self.o.script}" if version else self.o.script
                raise exc.followed_by(
                    f"The deploy itself went through ({live} is live); run again to set the Cron Triggers."
                ) from None
        seconds = time.perf_counter() - t0
        self.report.durations["deploy"] = seconds
        deployment = result.get("deployment_id")
        self.report.deployment_id = deployment if isinstance(deployment, str) and deployment else None
        self.report.version_id = version_id_of(result)
        self.report.preview_url = self.target.preview_url(self.o.script, self.o.namespace)
        self.emit(Deployed(self.o.script, self.o.namespace, self.report.deployment_id, seconds))
        return result

    # -- the run -------------------------------------------------------------------------

    async def run(self) -> SyncReport:
        """Build the manifest of the folder, then :meth:`publish` it, and say where it went."""
        t0 = time.perf_counter()
        result = self._build()
        self.spec = self._with_root_files(self.o.worker)  # bad rules stop the run before any request
        if self.o.dry_run and self.o.offline:
            self.report.durations["total"] = time.perf_counter() - t0
            return self.report
        if self.o.dry_run or self.target.kind != "api" or self.o.namespace:
            # A namespace's script answers through its dispatch Worker, not on workers.dev.
            return await self.publish(result, t0=t0)
        # The lookups go out with the session, on connections of their own: on a far link they
        # then cost no round trip of their own.
        lookups = asyncio.ensure_future(self._lookups())
        try:
            report = await self.publish(result, t0=t0)
            await self._locate(lookups)
        finally:
            lookups.cancel()
        return report

    async def _lookups(self) -> tuple[object, object]:
        calls = (self.client.account_subdomain(), self.client.workers_dev_enabled(self.o.script))
        subdomain, enabled = await asyncio.gather(*calls, return_exceptions=True)
        return subdomain, enabled

    async def _locate(self, lookups: asyncio.Future[tuple[object, object]]) -> None:
        """Where an account's own Worker on the API answers: its workers.dev URL, when the account
        has a workers.dev subdomain and the script's workers.dev route is on (read, not set: the
        script keeps the setting it has, so asking before the deploy is as good as after, unless
        the script is new). Information only: one try each, and a failure leaves the report's
        fields None rather than fail a deploy that is done."""
        try:
            async with asyncio.timeout(min(10.0, self.o.timeout)):
                subdomain, enabled = await lookups
                if isinstance(enabled, Exception):  # a new script: it is there only now
                    ask = self.client.workers_dev_enabled(self.o.script)
                    (enabled,) = await asyncio.gather(ask, return_exceptions=True)
        except TimeoutError:
            return
        if isinstance(subdomain, BaseException) or isinstance(enabled, BaseException):
            for failed in (subdomain, enabled):
                if isinstance(failed, BaseException) and not isinstance(failed, Exception):
                    raise failed  # Ctrl-C, cancellation: not this lookup's to swallow
            return
        self.report.workers_dev_enabled = bool(enabled)
        if subdomain and enabled:
            self.report.workers_dev_url = f"https://{self.o.script}.{subdomain}.workers.dev"

    async def publish(
        self,
        result: BuildResult,
        rebuild: Callable[[], BuildResult] | None = None,
        t0: float | None = None,
        recheck: bool = True,
    ) -> SyncReport:
        """Upload what the server lacks of ``result`` and deploy it.

        ``rebuild`` gives a fresh manifest when files changed under the upload (default: scan
        the folder again); watch mode passes its incremental builder. ``recheck``: before the
        deploy, check that every file still has the stat it was hashed with, since a file whose
        blob the server already had was never read again (watch mode, which deploys again on
        every change anyway, turns it off).
        """
        t0 = time.perf_counter() if t0 is None else t0
        check_spec(self.o.worker, self.o.modules)  # what the deploy would refuse, before any upload
        self.spec = self._with_root_files(self.o.worker)
        if self._shared_slots is None:  # each publish of a watch loop starts from the configured limit
            self.slots = UploadSlots.up_to(self.o.concurrency)
            self.concurrency = self.slots.concurrency
        self.report.files, self.report.bytes = len(result.manifest), result.manifest.total_bytes
        for attempt in range(MAX_SESSIONS):
            session = await self._open(result.manifest.to_json())
            t_up = time.perf_counter()
            wanted = {h for bucket in session.buckets for h in bucket}
            requests = plan_uploads(
                session.buckets,
                result.manifest,
                result.sources(wanted),
                request=f"POST {session_path(self.client.account_id, self.o.script, self.o.namespace)}",
            )
            missing = sum(len(r.parts) for r in requests)
            missing_bytes = sum(r.raw_bytes for r in requests)
            if attempt == 0:
                self.report.skipped = len(result.manifest) - missing
            self.emit(SessionOpened(len(result.manifest), missing, missing_bytes, len(requests)))
            if self.o.dry_run:
                self.report.plan = [[p.path for p in r.parts] for r in requests]
                self.report.durations["total"] = time.perf_counter() - t0
                return self.report
            try:
                try:
                    completion = await self._upload_all(session, requests)
                    if recheck and (path := result.changed()) is not None:
                        raise _Restart(f"{path} changed after it was hashed", files_changed=True)
                finally:
                    up = self.report.durations["upload"] = (
                        self.report.durations.get("upload", 0.0) + time.perf_counter() - t_up
                    )
                    if self.report.uploaded_bytes and up > 0:
                        self.report.upload_rate = self.report.uploaded_bytes / up
                answer = await self._deploy(completion)
                self.deployed = (result.manifest, self.spec, answer)
            except _Restart as restart:
                if attempt + 1 >= MAX_SESSIONS:
                    if restart.files_changed:
                        raise FilesChanging(
                            f"files kept changing while they were uploaded ({restart.reason}); run "
                            "again once whatever writes them has finished."
                        ) from None
                    raise ServerError(
                        f"gave up after {MAX_SESSIONS} upload sessions: {restart.reason}"
                    ) from None
                self.emit(Restarting(restart.reason))
                if restart.files_changed:
                    result = (rebuild or self._build)()
                continue
            self.report.durations["total"] = time.perf_counter() - t0
            return self.report
        raise AssertionError("unreachable")


def _leading(parts: list[PartSource], cap: int | None) -> list[PartSource]:
    """The first of ``parts`` that fit in ``cap`` raw bytes (None: all of them), at least one."""
    if cap is None:
        return list(parts)
    out: list[PartSource] = []
    size = 0
    for p in parts:
        if out and size + p.size > cap:
            break
        out.append(p)
        size += p.size
    return out


class UploadSlots:
    """The uploads in flight: an async semaphore whose size follows a :class:`Concurrency` limit,
    and the link they share, measured (:class:`~assetsync.pacing.Meter`) and steered by a
    :class:`~assetsync.pacing.Governor` within ``ceiling`` (default: the limit it starts at).

    One instance may be shared by several :class:`Syncer` runs on the same event loop: it is
    then the one global limit on uploads in flight, and the one measure of the link.
    """

    def __init__(
        self,
        concurrency: Concurrency,
        ceiling: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency = concurrency
        self.busy = 0
        self.meter = Meter()
        self.governor = Governor(concurrency, ceiling or concurrency.limit)
        self.clock = clock
        self._cond = asyncio.Condition()

    @classmethod
    def up_to(cls, ceiling: int) -> UploadSlots:
        """Slots that start at :data:`START_CONCURRENCY` (or ``ceiling``, if lower) and follow the
        link up to ``ceiling``."""
        return cls(Concurrency(min(START_CONCURRENCY, ceiling)), ceiling)

    def sent(self, raw: int) -> None:
        """``raw`` more file bytes handed to a connection: measure, and steer."""
        now = self.clock()
        self.meter.add(raw, now)
        self.governor.tick(self.meter.total, now, self.busy)

    def piece(self) -> int:
        """Bytes an upload hands to its connection at a time (:func:`~assetsync.pacing.piece_size`)."""
        return piece_size(self.meter.rate(self.clock()), self.busy)

    def margin(self) -> int:
        """Body bytes a failed upload may have handed over that never arrived (in buffers on the way)."""
        rate = self.meter.rate(self.clock()) or 0.0
        return int(RESEND_MARGIN + rate / max(1, self.busy) * RESEND_SECONDS)

    async def __aenter__(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.busy < self.concurrency.limit)
            self.busy += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.busy -= 1
            self._cond.notify_all()


async def sync_async(
    folder: str,
    options: SyncOptions,
    target: Target,
    *,
    on_event: Callable[[Event], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> SyncReport:
    """Publish ``folder`` to ``target``; see :class:`SyncOptions`."""
    async with target.client(
        timeout=options.timeout,
        max_connections=max(8, options.concurrency * 2),
        rate_limit=options.rate_limit,
    ) as client:
        return await Syncer(os.fspath(folder), options, target, client, on_event, warn).run()


def sync(
    folder: str,
    options: SyncOptions,
    target: Target | None = None,
    *,
    on_event: Callable[[Event], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> SyncReport:
    """Publish ``folder``: the blocking form of :func:`sync_async`. ``target`` defaults to what
    :func:`~assetsync.local.resolve_target` finds (the API with credentials, else the emulator)."""
    from .local import resolve_target

    return asyncio.run(sync_async(folder, options, target or resolve_target(), on_event=on_event, warn=warn))
