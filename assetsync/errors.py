"""Every exception assetsync raises on purpose, and the exit code the CLI gives each.

    AssetsyncError                 exit 1  (base: catch this to catch everything below)
    ├── UsageError                 exit 2  options that contradict each other or are malformed
    ├── ConfigError                exit 3  a config file or .assetsignore that cannot be used
    ├── ScanError                  exit 4  the folder cannot be read as a site
    │   ├── SourceNotFound                 the folder is missing or is not a folder
    │   ├── NothingToPublish               the folder holds no file to publish (sync refuses it)
    │   └── UnreadablePath                 broken symlink, loop, permission, bad name, file changing
    ├── LimitError                 exit 5  the site breaks a platform limit
    │   ├── FileTooLarge                   files over 25 MiB (all of them are listed)
    │   └── TooManyFiles                   more files than allowed (the fullest folders are named)
    ├── CacheError                 never fatal: reported as a warning, the run goes on without it
    ├── ApiError                   exit 7  the API could not be used (after retries)
    │   ├── AuthError              exit 6  401/403: missing, wrong or expired API token, no access
    │   ├── RequestRefused         exit 8  another 4xx: the server says the request is wrong
    │   ├── RateLimited                    429 beyond the retry budget
    │   ├── ServerError                    5xx beyond the retry budget
    │   ├── NetworkError                   connection refused/reset, timeouts, truncated answers
    │   └── ProtocolError                  an answer that breaks the protocol (not JSON, no jwt...)
    ├── FilesChanging              exit 4  files kept changing while they were being uploaded
    ├── PartlyFailed               exit 9  a batch ran, but some of its items failed (each has a row)
    ├── NotConfirmed               exit 10 deleting scripts was not confirmed: nothing was deleted
    └── Interrupted                exit 130  Ctrl-C: nothing was deployed

Each error's message is written for a person: what happened, to which file or request, what to do.
"""

from __future__ import annotations


class AssetsyncError(Exception):
    """Base of every deliberate assetsync failure."""

    exit_code = 1


class UsageError(AssetsyncError):
    """Options that cannot be used together or do not parse."""

    exit_code = 2


class ConfigError(AssetsyncError):
    """A configuration file (or ignore file) that cannot be used as written."""

    exit_code = 3


class ScanError(AssetsyncError):
    """The asset folder, or something in it, cannot be read."""

    exit_code = 4

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SourceNotFound(ScanError):
    """The folder to publish does not exist or is not a folder."""


class NothingToPublish(ScanError):
    """The folder holds no asset: deploying it would empty the live site."""


class UnreadablePath(ScanError):
    """One path in the folder cannot be read (broken link, loop, permissions, bad name...)."""


class LimitError(AssetsyncError):
    """The site breaks one of the platform's limits."""

    exit_code = 5


class FileTooLarge(LimitError):
    """One or more files exceed the per-file size limit."""

    def __init__(self, message: str, files: list[tuple[str, int]]) -> None:
        super().__init__(message)
        self.files = files


class TooManyFiles(LimitError):
    """The site has more files than one version may hold."""

    def __init__(self, message: str, count: int, limit: int) -> None:
        super().__init__(message)
        self.count = count
        self.limit = limit


class CacheError(AssetsyncError):
    """The hash cache could not be read or written; callers warn and carry on without it."""


class ApiError(AssetsyncError):
    """A request to the API failed for good. ``status`` is None for network failures."""

    exit_code = 7
    # A refusal of the API's rate limiter that the run's pacer is waiting out, for every request
    # at once: its retry spends none of the request's attempts (see assetsync.ratepacer).
    paced = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        request: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request = request
        self.retry_after = retry_after

    def gave_up(self, attempts: int) -> ApiError:
        """The same failure, saying that retrying it ``attempts`` times did not help."""
        return self.followed_by(f"Gave up after {attempts} attempt{'s' if attempts != 1 else ''}.")

    def followed_by(self, text: str) -> ApiError:
        """The same failure, with ``text`` after what it says."""
        return type(self)(f"{self} {text}", status=self.status, code=self.code, request=self.request)


class AuthError(ApiError):
    """401/403: the API token is missing, wrong, expired, or has no access to the account."""

    exit_code = 6


class RequestRefused(ApiError):
    """A 4xx other than auth and rate limiting: the request itself is wrong."""

    exit_code = 8


class RateLimited(ApiError):
    """429 (or 503 asking to slow down) after every retry."""


class ServerError(ApiError):
    """5xx after every retry."""


class NetworkError(ApiError):
    """The connection failed, stalled past the timeout, or was cut short."""


class ProtocolError(ApiError):
    """The server answered something the protocol does not allow."""


class FilesChanging(ScanError):
    """Files kept changing while they were being uploaded."""


class PartlyFailed(AssetsyncError):
    """Some tenants of ``sync-all`` (or some scripts of a deletion) failed; the others went ahead.

    Each failure is in its own result row; this only carries the exit code and a summary.
    """

    exit_code = 9


class NotConfirmed(AssetsyncError):
    """Deleting scripts needs a yes: at the prompt on a terminal, or ``--yes`` elsewhere."""

    exit_code = 10


class Interrupted(AssetsyncError):
    """The run was interrupted (Ctrl-C) before it deployed anything."""

    exit_code = 130


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected failure",
    2: "usage error (bad or conflicting options)",
    3: "configuration error (.assetsignore, config file; with --strict, bad _redirects/_headers lines)",
    4: "the folder or a file in it cannot be read, or it holds nothing to publish",
    5: "a platform limit is exceeded (file size, file count)",
    6: "authentication refused (API token missing, wrong, expired, or without access)",
    7: "the API failed (network, server errors, rate limits, malformed answers) after retries",
    8: "the API refused the request (invalid name, manifest, metadata...)",
    9: "some tenants or scripts failed (sync-all, scripts delete); the others succeeded",
    10: "deletion not confirmed (no --yes and not on a terminal, or answered no): nothing deleted",
    130: "interrupted: sync deployed nothing; watch and dev stopped at once by a second Ctrl-C",
}
