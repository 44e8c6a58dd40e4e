"""Bad input through the real CLI: each case gives its exact message and exit code, deploys nothing.

Every row runs ``assetsync sync`` in a subprocess against an emulator on 127.0.0.1 (with a
recorder in front, which also plays a misbehaving server where a row needs one) and checks the
whole of stderr, after the temporary folder's path is replaced by ``<tmp>`` (and today's date, in
UTC, by ``<today>``). Each refused row runs twice, with ``-q`` and with ``--json`` (whose stdout is
the failure document, saying the same), and neither run's output may hold any credential it was
given: the tokens, global key and email are recognisable strings, looked for in all of it. Rows that must not
fail (a FIFO, a cache that cannot be written) check the warning and what was deployed instead.
A row is its set-up function, registered by ``@refused`` or ``@warned`` with its expected exit code
and stderr, so what a row builds and what it must answer stand together.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import assetsync
from assetsync.errors import UnreadablePath, UsageError
from assetsync.folder.build import Builder, BuildOptions, build
from assetsync.folder.cache import cache_file
from assetsync.folder.hashing import HashScheme

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, envelope_error, make_tree, run_cli

OTHER = "fedcba9876543210fedcba9876543210"
SESSION = f"POST /accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session"
SITE = {"index.html": "<h1>hi</h1>", "css/site.css": "body{}"}
ROOT = os.geteuid() == 0
# Root reads and writes anything: drop the capabilities that let it, as an ordinary user lacks them.
NO_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if ROOT else ()
needs_no_dac = pytest.mark.skipif(
    ROOT and shutil.which("setpriv") is None,
    reason="needs setpriv to drop root's capabilities: apt-get install util-linux",
)


@dataclass(frozen=True)
class Run:
    """How a row runs the CLI: ``sync`` with these arguments, environment and command prefix."""

    args: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    prefix: Sequence[str] = ()
    cwd: Path | None = None
    name: bool = True  # pass --name site


GOOD = "cfat-RECOGNISABLE-good-7d1e0b9a"  # the API token every row runs with, unless it says
OTHER_TOKEN = "cfat-RECOGNISABLE-other-account"  # a token of another account
TOKENS = {GOOD: None, OTHER_TOKEN: OTHER}
KEY, EMAIL = "cfgk-RECOGNISABLE-key-5c2e41", "owner.recognisable@example.com"  # a global API key
# Every credential a row may hand the CLI: none may ever appear in its output.
CREDENTIALS = (*TOKENS, KEY, EMAIL, "RECOGNISABLE", "not-the-token", "a.b.c", "X-Evil", "pa55word")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One emulator for the refused rows (they deploy nothing, so they cannot disturb each other):
    it knows a token for every account and one limited to another account."""
    with LiveEmulator(
        tmp_path_factory.mktemp("emulator"), record=True, api_tokens=TOKENS, api_keys={EMAIL: KEY}
    ) as emu:
        yield emu


@pytest.fixture
def live(shared: LiveEmulator) -> LiveEmulator:
    shared.app.requests.clear()
    shared.app.faults.clear()
    return shared


@pytest.fixture
def fresh(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An emulator of its own, for rows that deploy."""
    with LiveEmulator(
        tmp_path / "emulator-data", record=True, api_tokens=TOKENS, api_keys={EMAIL: KEY}
    ) as emu:
        yield emu


def sync(live: LiveEmulator, tmp: Path, run: Run, output: str = "-q") -> subprocess.CompletedProcess[str]:
    """``assetsync sync`` as the row says, with ``output`` (``-q`` or ``--json``)."""
    env = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": GOOD,
        "CLOUDFLARE_API_BASE_URL": live.api,
        "CI": "1",
        **run.env,
    }
    args = ["sync", *run.args, output]
    if "--cache-dir" not in args and "--no-cache" not in args:
        args += ["--cache-dir", str(tmp / "cache")]
    if run.name:
        args += ["--name", "site"]
    return run_cli(*args, env=env, prefix=run.prefix, cwd=run.cwd)


def utc_today() -> str:
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def shown(text: str, tmp: Path, days: Sequence[str] = ()) -> str:
    """``text`` with the temporary folder as ``<tmp>`` and the ``days`` (today in UTC, read before
    and after the run, so midnight in between changes nothing) as ``<today>``."""
    for day in days:
        text = text.replace(day, "<today>")
    return text.replace(str(tmp), "<tmp>")


def leaked(*outputs: str) -> list[str]:
    """The credentials that appear in any of ``outputs``: there must be none."""
    return [secret for secret in CREDENTIALS if any(secret in out for out in outputs)]


def deployed(live: LiveEmulator) -> list[str]:
    """What the emulator serves, as (namespace/)script names; and no deploy request reached it."""
    return [f"{s.namespace}/{s.name}" for s in live.emulator.store.all_live()]


def site(tmp: Path, files: Mapping[str, str | bytes] | None = None) -> Path:
    return make_tree(tmp / "site", SITE if files is None else files)


def fault(
    live: LiveEmulator, status: int, body: bytes, headers: list[tuple[str, str]] | None = None, times: int = 1
) -> None:
    """The next ``times`` upload-session requests get this answer instead of the emulator's."""
    for _ in range(times):
        live.app.faults.append(("POST", "assets-upload-session", (status, headers or [], body)))


def answer(result: Any) -> bytes:
    return json.dumps({"success": True, "errors": [], "messages": [], "result": result}).encode()


def in_project(tmp: Path, config: str, text: str) -> Run:
    """A project whose wrangler config (file ``config``, holding ``text``) is found from its folder."""
    project = make_tree(tmp / "project", {"public/index.html": "x"})
    (project / config).write_text(text)
    return Run([], cwd=project, name=False)


# -- refused input: a message, an exit code, and nothing deployed -------------------------------

Setup = Callable[[Path, LiveEmulator], Run]


@dataclass(frozen=True)
class Case:
    """A refused row: its set-up, and the exit code and whole stderr the CLI must answer it with."""

    id: str
    what: str  # for the reliability table
    setup: Setup
    code: int
    stderr: str  # exactly, with <tmp> for the temporary folder
    marks: Sequence[Any] = ()


CASES: list[Case] = []


def refused(
    id: str, what: str, *, code: int, stderr: str, marks: Sequence[Any] = ()
) -> Callable[[Setup], Setup]:
    """Register the set-up below as a refused row, so its expectations stand next to it."""

    def register(setup: Setup) -> Setup:
        CASES.append(Case(id, what, setup, code, stderr, marks))
        return setup

    return register


# The folder itself.

NOTHING_TO_PUBLISH = (
    "error: <tmp>/site: no files to publish (the folder is empty, or everything in it is ignored). "
    "Deploying it would remove every asset of site: build the site first, or pass the folder that "
    "holds it (--allow-empty deploys it anyway).\n"
)


@refused(
    "missing-folder",
    "missing folder",
    code=4,
    stderr="error: <tmp>/missing: no such folder. Pass the folder that holds your built site.\n",
)
def _missing(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(tmp / "missing")])


@refused(
    "file-not-folder",
    "a file instead of a folder",
    code=4,
    stderr="error: <tmp>/page.html is a file, not a folder. Pass the folder that holds your built site.\n",
)
def _a_file(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "page.html").write_text("<h1>hi</h1>")
    return Run([str(tmp / "page.html")])


@refused("empty-folder", "empty folder", code=4, stderr=NOTHING_TO_PUBLISH)
def _empty(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "site").mkdir()
    return Run([str(tmp / "site")])


@refused("all-ignored", "a folder whose every file is ignored", code=4, stderr=NOTHING_TO_PUBLISH)
def _all_ignored(tmp: Path, live: LiveEmulator) -> Run:
    return Run(
        [str(site(tmp, {".DS_Store": "x", "_headers": "", "notes.md": "x", ".assetsignore": "*.md\n"}))]
    )


# The limits of a version.


@refused(
    "file-over-25-mib",
    "file over 25 MiB",
    code=5,
    stderr="error: 1 file over the 25.0 MiB (26,214,400 bytes) per-file limit:\n"
    "  /video.mp4  26,214,401 bytes (25.0 MiB)\n"
    "Split or compress them, serve them from R2, or add them to .assetsignore.\n",
)
def _too_large(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    with open(root / "video.mp4", "wb") as f:
        f.truncate(26_214_401)  # sparse: one byte over, nothing written
    return Run([str(root)])


@refused(
    "too-many-files",
    "too many files",
    code=5,
    stderr="error: 5 files, over the limit of 3 files per version.\nFolders holding the most files:\n"
    "  /img/  4 files\nCheck that you passed the built site's folder, exclude what is not an asset "
    "with .assetsignore or --ignore, or raise --max-files (paid plans allow 100,000).\n",
)
def _too_many(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp, {f"img/{i}.png": "" for i in range(4)} | {"index.html": ""})
    return Run([str(root), "--max-files", "3"])


# What the folder holds: links, permissions, names.


@refused(
    "broken-symlink",
    "broken symlink",
    code=4,
    stderr="error: <tmp>/site/css/theme.css: broken symlink (points to ../nowhere.css, which does not "
    "exist). Fix or remove the link, or add it to .assetsignore.\n",
)
def _broken_link(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    os.symlink("../nowhere.css", root / "css" / "theme.css")
    return Run([str(root)])


@refused(
    "symlink-loop",
    "symlink loop (a link to a parent folder)",
    code=4,
    stderr="error: <tmp>/site/css/up: symlink loop (it leads back to a folder that contains it). Remove "
    "the link or add it to .assetsignore.\n",
)
def _loop_to_parent(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    os.symlink("..", root / "css" / "up")
    return Run([str(root)])


@refused(
    "self-link",
    "symlink loop (a link to itself)",
    code=4,
    stderr="error: <tmp>/site/me: symlink loop. Remove the link or add it to .assetsignore.\n",
)
def _self_link(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    os.symlink("me", root / "me")
    return Run([str(root)])


@refused(
    "unreadable-file",
    "unreadable file",
    code=4,
    stderr="error: <tmp>/site/css/site.css: cannot be read (Permission denied). Fix its permissions or "
    "add it to .assetsignore.\n",
    marks=[needs_no_dac],
)
def _unreadable_file(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    (root / "css" / "site.css").chmod(0)
    return Run([str(root)], prefix=NO_DAC)


@refused(
    "unlistable-folder",
    "unreadable folder",
    code=4,
    stderr="error: <tmp>/site/css: cannot list this folder (Permission denied). Fix its permissions or "
    "add it to .assetsignore.\n",
    marks=[needs_no_dac],
)
def _unlistable_folder(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    (root / "css").chmod(0)
    return Run([str(root)], prefix=NO_DAC)


@refused(
    "non-utf8-name",
    "file name that is not UTF-8",
    code=4,
    stderr="error: <tmp>/site/caf\\xe9.html: the name is not valid UTF-8, so it cannot be a URL path. "
    "Rename it, or add it to .assetsignore.\n",
)
def _not_utf8(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    with open(os.fsencode(root) + b"/caf\xe9.html", "wb") as f:
        f.write(b"x")
    return Run([str(root)])


@refused(
    "newline-in-file-name",
    "file name with a newline",
    code=4,
    stderr="error: '<tmp>/site/a\\nb.html': the file name contains the control character '\\n', which "
    "no URL can request. Rename it, or add it to .assetsignore.\n",
)
def _newline_file(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, "a\nb.html": "x"}))])


@refused(
    "newline-in-folder-name",
    "folder name with a newline",
    code=4,
    stderr="error: '<tmp>/site/old\\nposts': the folder name contains the control character '\\n', "
    "which no URL can request. Rename it, or add it to .assetsignore.\n",
)
def _newline_folder(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, "old\nposts/index.html": "x"}))])


# Ignore rules and the site's own configuration files (_headers, _redirects).


@refused(
    "bad-ignore-pattern",
    "invalid .assetsignore pattern",
    code=3,
    stderr="error: <tmp>/site/.assetsignore, line 3: invalid pattern '!' (.gitignore syntax). Fix or "
    "remove that line.\n",
)
def _bad_ignore_pattern(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, ".assetsignore": "*.map\n# drafts\n!\n"}))])


@refused(
    "ignore-file-not-utf8",
    ".assetsignore that is not UTF-8",
    code=3,
    stderr="error: <tmp>/site/.assetsignore, line 2: not valid UTF-8 text. Save the file as UTF-8.\n",
)
def _ignore_not_utf8(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, ".assetsignore": b"*.map\ncaf\xe9\n"}))])


@refused(
    "bad-ignore-flag",
    "invalid --ignore pattern",
    code=3,
    stderr="error: --ignore '\\\\': invalid pattern (.gitignore syntax). Fix or drop that option.\n",
)
def _bad_ignore_flag(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--ignore", "*.map", "--ignore", "\\"])


@refused(
    "headers-not-utf8",
    "_headers that is not UTF-8",
    code=3,
    stderr="error: <tmp>/site/_headers, line 2: not valid UTF-8 text. Save the file as UTF-8.\n",
)
def _headers_not_utf8(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, "_headers": b"/*\n  X-Note: caf\xe9\n"}))])


@refused(
    "redirects-is-a-folder",
    "_redirects that is a folder",
    code=3,
    stderr="error: <tmp>/site/_redirects is a folder, but _redirects at the root of the site configures "
    "the deployment and must be a text file. Rename the folder.\n",
)
def _redirects_folder(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp, {**SITE, "_redirects/old": "x"}))])


# Names that go into the API's paths: the script, the namespace, the account.


@refused(
    "bad-script-name",
    "invalid script name (--name)",
    code=2,
    stderr="error: 'My Site' is not a valid Worker name: use 1-63 lowercase letters, digits, '-' or '_', "
    "starting and ending with a letter or digit. Fix --name.\n",
)
def _bad_name(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--name", "My Site"], name=False)


@refused(
    "bad-script-name-in-config",
    "invalid script name (wrangler config)",
    code=2,
    stderr="error: 'My_Site!' is not a valid Worker name: use 1-63 lowercase letters, digits, '-' or "
    "'_', starting and ending with a letter or digit. Fix the name in <tmp>/project/wrangler.toml, or "
    "pass --name.\n",
)
def _bad_name_in_config(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(tmp, "wrangler.toml", 'name = "My_Site!"\n[assets]\ndirectory = "public"\n')


@refused(
    "folder-makes-no-name",
    "invalid script name (from the folder name)",
    code=2,
    stderr="error: '' is not a valid Worker name: use 1-63 lowercase letters, digits, '-' or '_', "
    "starting and ending with a letter or digit. It was made from the folder name '___': pass --name.\n",
)
def _nameless_folder(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(make_tree(tmp / "___", SITE))], name=False)


@refused(
    "bad-namespace",
    "namespace name that breaks the URL",
    code=2,
    stderr="error: --namespace 'customers/acme' is not a dispatch namespace name: use 1-255 letters, "
    "digits, '.', '-', '_' or '~', and not '.' or '..' (the name shown by `wrangler dispatch-namespace "
    "list`).\n",
)
def _bad_namespace(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--namespace", "customers/acme"])


@refused(
    "bad-account-id",
    "account id that breaks the URL",
    code=2,
    stderr="error: account id 'acct/../x' (CLOUDFLARE_ACCOUNT_ID or --account-id) cannot be part of an "
    "API path: a Cloudflare account id is 32 hex digits, shown on the dashboard's Workers overview.\n",
)
def _bad_account(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_ACCOUNT_ID": "acct/../x"})


# Credentials, and the account the server knows them by.


@refused(
    "half-credentials",
    "a token without an account id",
    code=2,
    stderr="error: incomplete credentials: CLOUDFLARE_ACCOUNT_ID (or --account-id) not set. Give an "
    "account id and an API token to publish to the API (and an API base URL for a compatible server), "
    "or none of them to sync into the local emulator.\n",
)
def _half_credentials(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_ACCOUNT_ID": ""})


@refused(
    "bad-token",
    "bad token (401)",
    code=6,
    stderr=f"error: opening the upload session: HTTP 401, code 10000: Authentication error: invalid API "
    f"token on {SESSION}. Check CLOUDFLARE_API_TOKEN (it needs the Workers Scripts edit permission) "
    "and the account id.\n",
)
def _bad_token(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": "not-the-token"})


@refused(
    "other-account",
    "token of another account (403)",
    code=6,
    stderr=f"error: opening the upload session: HTTP 403, code 10000: Authentication error: this token "
    f"has no access to that account on {SESSION}. Check CLOUDFLARE_API_TOKEN (it needs the Workers "
    "Scripts edit permission) and the account id.\n",
)
def _other_account(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": OTHER_TOKEN})


@refused(
    "unknown-account",
    "unknown account id (404)",
    code=6,
    stderr=f"error: opening the upload session: HTTP 404, code 7003: Could not route to /client/v4"
    f"{SESSION[5:]}, perhaps your object identifier is invalid? on {SESSION}. The API cannot route "
    "this request, which usually means a wrong account id: check CLOUDFLARE_ACCOUNT_ID (or "
    "--account-id) and the API base URL.\n",
)
def _unknown_account(tmp: Path, live: LiveEmulator) -> Run:
    message = (
        f"Could not route to /client/v4/accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session, "
        "perhaps your object identifier is invalid?"
    )
    live.app.faults.append(("POST", "assets-upload-session", envelope_error(404, 7003, message)))
    return Run([str(site(tmp))])


NO_CREDENTIALS = {
    "CLOUDFLARE_ACCOUNT_ID": "",
    "CLOUDFLARE_API_TOKEN": "",
    "CLOUDFLARE_API_BASE_URL": "",
    "CLOUDFLARE_API_KEY": "",
    "CLOUDFLARE_EMAIL": "",
}


@refused(
    "ci-without-credentials",
    "CI with the credentials set to nothing (a fork's pull request)",
    code=6,
    stderr="error: CI is set, but no credentials are: CLOUDFLARE_ACCOUNT_ID (or --account-id) and "
    "CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL) are missing (set to an empty "
    "value counts as missing: that is what a pull request from a fork gets). Without them assetsync "
    "would publish into the local emulator and nothing would reach Cloudflare. Set them as the job's "
    "secrets, or pass --local to publish into the local emulator on purpose.\n",
)
def _ci_without_credentials(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--local-data", str(tmp / "local")], env={**NO_CREDENTIALS, "CI": "true"})


@refused(
    "token-with-line-break",
    "API token with a line break inside",
    code=2,
    stderr="error: CLOUDFLARE_API_TOKEN holds a line break at character 18 of 32 (white space around it is "
    "trimmed; inside, a credential has none). Set it again to exactly the value Cloudflare gave you (the "
    "value is not shown here).\n",
)
def _token_line_break(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": GOOD[:17] + "\n" + GOOD[17:] + "\n"})


@refused(
    "token-with-space",
    "API token with a space inside (two pasted)",
    code=2,
    stderr="error: CLOUDFLARE_API_TOKEN holds a space at character 32 of 63 (white space around it is "
    "trimmed; inside, a credential has none). Set it again to exactly the value Cloudflare gave you (the "
    "value is not shown here).\n",
)
def _token_space(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": f"{GOOD} {OTHER_TOKEN}"})


@refused(
    "key-without-email",
    "global API key without its email",
    code=2,
    stderr="error: incomplete credentials: CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not. The "
    "global API key goes with the email of its user: set both, or use an API token (CLOUDFLARE_API_TOKEN) "
    "instead.\n",
)
def _key_without_email(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_API_KEY": KEY})


@refused(
    "wrong-global-key",
    "global API key the server does not know (403)",
    code=6,
    stderr=f"error: opening the upload session: HTTP 403, code 9103: Unknown X-Auth-Key or X-Auth-Email on "
    f"{SESSION}. Check CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL (the global API key of that email's user) "
    "and the account id.\n",
)
def _wrong_key(tmp: Path, live: LiveEmulator) -> Run:
    return Run(
        [str(site(tmp))],
        env={"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_API_KEY": KEY[:-1] + "X", "CLOUDFLARE_EMAIL": EMAIL},
    )


@refused(
    "api-base-without-scheme",
    "API base URL without http:// (not retried)",
    code=2,
    stderr="error: the API base URL '127.0.0.1:8787/client/v4' (--api-base / CLOUDFLARE_API_BASE_URL) is "
    "not an http:// or https:// URL: write it whole, as in http://127.0.0.1:8787/client/v4. Cloudflare's "
    "is https://api.cloudflare.com/client/v4.\n",
)
def _base_without_scheme(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp))], env={"CLOUDFLARE_API_BASE_URL": "127.0.0.1:8787/client/v4"})


@refused(
    "api-base-with-password",
    "API base URL holding a password",
    code=2,
    stderr="error: the API base URL (not shown: it holds an '@') (--api-base / CLOUDFLARE_API_BASE_URL) "
    "holds a user name or password: credentials go in CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with "
    "CLOUDFLARE_EMAIL), never in the URL.\n",
)
def _base_with_password(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--api-base", live.api.replace("http://", "http://me:pa55word@")])


# The server's answers: a misbehaving server in front of the upload session, twice where the
# sync retries (--attempts 2).

JSON = [("content-type", "application/json")]
NOT_JSON = (
    f"error: opening the upload session: the server answered not JSON (HTTP 200) on {SESSION}. Is the "
    "API base URL (--api-base, CLOUDFLARE_API_BASE_URL) right? Gave up after 2 attempts.\n"
)
OVER_16_MIB = (
    f"error: opening the upload session: the answer to {SESSION} is over 16 MiB (HTTP 200), which no "
    "API answer is. Is the API base URL (--api-base, CLOUDFLARE_API_BASE_URL) right? Gave up after 2 "
    "attempts.\n"
)


@refused("answer-not-json", "server answering non-JSON", code=7, stderr=NOT_JSON)
def _not_json(tmp: Path, live: LiveEmulator) -> Run:
    # a 2xx that is not the API's answer is retried like a 5xx
    fault(live, 200, b"hello from a web server", [("content-type", "text/plain")], times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


@refused(
    "answer-html-502",
    "server answering an HTML error page",
    code=7,
    stderr=f"error: opening the upload session: the server answered an HTML page (HTTP 502) on "
    f"{SESSION}. Retrying later may help. Gave up after 2 attempts.\n",
)
def _html_502(tmp: Path, live: LiveEmulator) -> Run:
    fault(live, 502, b"<html><h1>502 Bad Gateway</h1></html>", [("content-type", "text/html")], times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


@refused("answer-huge", "server answering a huge body", code=7, stderr=OVER_16_MIB)
def _huge_answer(tmp: Path, live: LiveEmulator) -> Run:
    fault(live, 200, b" " * (17 << 20), JSON, times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


@refused("answer-gzip-bomb", "server answering a gzip bomb", code=7, stderr=OVER_16_MIB)
def _gzip_bomb(tmp: Path, live: LiveEmulator) -> Run:
    bomb = gzip.compress(b" " * (17 << 20), 6)  # 17 MiB of blanks in about 17 KiB
    fault(live, 200, bomb, [*JSON, ("content-encoding", "gzip")], times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


@refused(
    "answer-nested-too-deep",
    "server answering JSON nested 200,000 deep",
    code=7,
    stderr=NOT_JSON,
)
def _deep_json(tmp: Path, live: LiveEmulator) -> Run:
    fault(live, 200, b"[" * 200_000 + b"]" * 200_000, JSON, times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


@refused(
    "answer-errors-not-a-list",
    "server answering an error envelope of the wrong shape",
    code=8,
    stderr=f"error: opening the upload session: the server refused the request (HTTP 400) on {SESSION}.\n",
)
def _errors_not_a_list(tmp: Path, live: LiveEmulator) -> Run:
    body = json.dumps({"success": False, "errors": {"code": 10021}, "result": None}).encode()
    fault(live, 400, body, JSON)
    return Run([str(site(tmp))])


@refused(
    "bucket-hash-not-in-manifest",
    "buckets naming a hash that is not in the manifest",
    code=7,
    stderr=f"error: opening the upload session: the answer to {SESSION} asks for "
    "'ffffffffffffffffffffffffffffffff', which is not a hash of the manifest sent. The server and "
    "assetsync disagree on what is being deployed, so nothing was uploaded or deployed: run again, "
    "and report it to the server's operators if it persists.\n",
)
def _unknown_hash(tmp: Path, live: LiveEmulator) -> Run:
    fault(live, 200, answer({"jwt": "a.b.c", "buckets": [["f" * 32]]}), JSON)
    return Run([str(site(tmp))])


@refused(
    "answer-bad-token",
    "server answering an upload token with a line break",
    code=7,
    stderr=f"error: opening the upload session: the server answered without an upload token (its 'jwt' "
    f"is not a token) on {SESSION}. This is usually a passing fault on the server's side: run again. "
    "Gave up after 2 attempts.\n",
)
def _token_with_newline(tmp: Path, live: LiveEmulator) -> Run:
    fault(live, 200, answer({"jwt": "a.b\r\nX-Evil: 1", "buckets": [[]]}), JSON, times=2)
    return Run([str(site(tmp)), "--attempts", "2"])


# The wrangler config.


@refused(
    "toml-syntax",
    "malformed wrangler.toml",
    code=3,
    stderr="error: <tmp>/project/wrangler.toml, line 2, column 8: not valid TOML (Expected ']' at the end "
    "of a table declaration). Fix the syntax there.\n",
)
def _toml_syntax(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(tmp, "wrangler.toml", 'name = "site"\n[assets\ndirectory = "public"\n')


@refused(
    "json-syntax",
    "malformed wrangler.json",
    code=3,
    stderr="error: <tmp>/project/wrangler.json, line 3, column 3: not valid JSON (Expecting ',' "
    "delimiter). Fix the syntax there (comments and trailing commas are allowed).\n",
)
def _json_syntax(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(tmp, "wrangler.json", '{\n  "name": "site"\n  "assets": {"directory": "public"}\n}\n')


@refused(
    "config-wrong-type",
    "wrangler.jsonc with a value of the wrong type",
    code=3,
    stderr="error: <tmp>/project/wrangler.jsonc, line 4: assets.directory is an array, but must be a "
    "string. Write one string instead.\n",
)
def _config_wrong_type(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(
        tmp,
        "wrangler.jsonc",
        '{\n  // the site\n  "name": "site",\n  "assets": {"directory": ["public"]}\n}\n',
    )


# The Worker: its entry module and bindings.


@refused(
    "missing-main",
    "--main naming no file",
    code=3,
    stderr="error: --main <tmp>/src/index.js: no such file. Pass the Worker's entry module (a .js or .mjs "
    "file), or leave it out for an assets-only deploy.\n",
)
def _missing_main(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--main", str(tmp / "src" / "index.js")])


@refused(
    "missing-main-in-config",
    "wrangler config whose main names no file",
    code=3,
    stderr="error: <tmp>/project/wrangler.toml: main <tmp>/project/src/worker.js: no such file. Pass the "
    "Worker's entry module (a .js or .mjs file), or leave it out for an assets-only deploy.\n",
)
def _bad_main_in_config(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(
        tmp, "wrangler.toml", 'name = "site"\nmain = "src/worker.js"\n[assets]\ndirectory = "public"\n'
    )


@refused(
    "bad-binding",
    "malformed --binding",
    code=2,
    stderr="error: --binding 'kv:CACHE': use kv:NAME=NAMESPACE_ID\n",
)
def _bad_binding(tmp: Path, live: LiveEmulator) -> Run:
    main = make_tree(tmp / "src", {"index.js": ""}) / "index.js"
    return Run([str(site(tmp)), "--main", str(main), "--binding", "kv:CACHE"])


@refused(
    "date-not-a-day",
    "--compatibility-date that is no day (2024-13-45)",
    code=2,
    stderr="error: --compatibility-date is '2024-13-45', which is not a real date in YYYY-MM-DD form. Write "
    "a day that exists, such as <today> (today, in UTC).\n",
)
def _date_not_a_day(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--compatibility-date", "2024-13-45"])


@refused(
    "date-not-a-day-in-config",
    "compatibility_date that is no day (wrangler config)",
    code=3,
    stderr="error: <tmp>/project/wrangler.toml, line 2: compatibility_date is '2024-13-45', which is not a "
    "real date in YYYY-MM-DD form. Write a day that exists, such as <today> (today, in UTC).\n",
)
def _date_not_a_day_in_config(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(
        tmp,
        "wrangler.toml",
        'name = "site"\ncompatibility_date = "2024-13-45"\n[assets]\ndirectory = "public"\n',
    )


FUTURE = (
    "is '2999-01-01', which is after today (<today> in UTC, the day the API goes by): the API refuses a "
    "compatibility date in the future. Use <today> or an earlier date.\n"
)


@refused(
    "date-in-the-future",
    "--compatibility-date in the future",
    code=2,
    stderr=f"error: --compatibility-date {FUTURE}",
)
def _date_future(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--compatibility-date", "2999-01-01"])


@refused(
    "date-in-the-future-in-config",
    "compatibility_date in the future (wrangler config)",
    code=3,
    stderr=f"error: <tmp>/project/wrangler.json, line 3: compatibility_date {FUTURE}",
)
def _date_future_in_config(tmp: Path, live: LiveEmulator) -> Run:
    text = (
        '{\n  "name": "site",\n  "compatibility_date": "2999-01-01",\n  "assets": {"directory": "public"}}\n'
    )
    return in_project(tmp, "wrangler.json", text)


@refused(
    "bad-assets-binding",
    "--assets-binding that is no binding name",
    code=2,
    stderr="error: --assets-binding is 'MY-ASSETS', which is not a binding name: use a JavaScript "
    "identifier: letters, digits, '_' or '$', not starting with a digit.\n",
)
def _bad_assets_binding(tmp: Path, live: LiveEmulator) -> Run:
    main = make_tree(tmp / "src", {"index.js": ""}) / "index.js"
    return Run([str(site(tmp)), "--main", str(main), "--assets-binding", "MY-ASSETS"])


NO_BUNDLING = (
    "and assetsync does not bundle or compile: it uploads the Worker's JavaScript modules as they are. "
    "Build first and point it at the JavaScript that comes out, e.g. `wrangler deploy --dry-run --outdir "
    "dist` (then dist/index.js) or `esbuild src/index.ts --bundle --format=esm --outfile=dist/index.js`.\n"
)


@refused(
    "typescript-main",
    "--main that is TypeScript",
    code=3,
    stderr=f"error: --main <tmp>/src/index.ts is TypeScript, {NO_BUNDLING}",
)
def _typescript_main(tmp: Path, live: LiveEmulator) -> Run:
    main = make_tree(tmp / "src", {"index.ts": "export default {}"}) / "index.ts"
    return Run([str(site(tmp)), "--main", str(main)])


@refused(
    "jsx-main-in-config",
    "wrangler config whose main is JSX (a file that is not there)",
    code=3,
    stderr=f"error: <tmp>/project/wrangler.toml: main <tmp>/project/src/app.jsx is JSX, {NO_BUNDLING}",
)
def _jsx_main_in_config(tmp: Path, live: LiveEmulator) -> Run:
    return in_project(
        tmp, "wrangler.toml", 'name = "site"\nmain = "src/app.jsx"\n[assets]\ndirectory = "public"\n'
    )


@pytest.mark.parametrize("output", ["-q", "--json"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input_is_refused_with_its_message_and_exit_code(
    case: Case, output: str, tmp_path: Path, live: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("bad input", case.what)
    run = case.setup(tmp_path, live)
    before = utc_today()
    proc = sync(live, tmp_path, run, output)
    assert (proc.returncode, shown(proc.stderr, tmp_path, (before, utc_today()))) == (case.code, case.stderr)
    if output == "-q":
        assert proc.stdout == ""
    else:  # one document that says the same
        assert json.loads(proc.stdout) == {
            "schema": 1,
            "ok": False,
            "error": {
                "type": json.loads(proc.stdout)["error"]["type"],
                "message": proc.stderr[7:-1],
                "exit_code": case.code,
            },
        }
    assert leaked(proc.stdout, proc.stderr) == []  # no credential is ever printed
    assert [r["path"] for r in live.app.requests if r["method"] == "PUT"] == []  # no deploy was tried
    assert deployed(live) == []
    if case.code < 6:  # refused before the server was asked anything
        assert live.app.requests == []
    else:
        assert not any("/assets/upload" in r["path"] for r in live.app.requests)


# -- input that is not refused: a warning, and the sync goes on --------------------------------


@dataclass(frozen=True)
class Warned:
    """A row that must sync: its set-up, the whole stderr it warns with, and what gets deployed."""

    id: str
    what: str
    setup: Setup
    stderr: Callable[[Path], str]  # exactly, given the temporary folder
    keys: Sequence[str]  # what the deployed manifest holds
    marks: Sequence[Any] = ()


WARNED: list[Warned] = []


def warned(
    id: str, what: str, *, stderr: Callable[[Path], str], keys: Sequence[str], marks: Sequence[Any] = ()
) -> Callable[[Setup], Setup]:
    """Register the set-up below as a row that warns and still syncs."""

    def register(setup: Setup) -> Setup:
        WARNED.append(Warned(id, what, setup, stderr, keys, marks))
        return setup

    return register


SITE_KEYS = ["/css/site.css", "/index.html"]  # the manifest of SITE
MANY = {f"page{i:02}.html": f"<p>{i}</p>" for i in range(80)}  # a cache of over 4 KiB


def cache_path(tmp: Path, cache: str) -> str:
    return cache_file(str(tmp / cache), str(tmp / "site"), HashScheme().cache_key)


def cache_warning(tmp: Path, cache: str, why: str) -> str:
    return (
        f"warning: hash cache not saved to {cache_path(tmp, cache)} ({why}); the next run will hash "
        "every file again. Use --cache-dir to pick a writable folder, or --no-cache.\n"
    )


def _mount_namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_mounts = pytest.mark.skipif(
    not _mount_namespaces(),
    reason="needs unshare (apt-get install util-linux) and unprivileged user namespaces",
)

# The folder.


@warned(
    "fifo",
    "FIFO in the folder",
    stderr=lambda tmp: f"warning: skipped {tmp}/site/pipe: a FIFO, not a regular file\n",
    keys=SITE_KEYS,
)
def _fifo(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    os.mkfifo(root / "pipe")  # opening it would block: the sync finishing shows it was not opened
    return Run([str(root)])


@warned(
    "ignored-trouble",
    "broken link, loop and bad names that .assetsignore lists",
    stderr=lambda tmp: "",
    keys=SITE_KEYS,
)
def _ignored_trouble(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp, {**SITE, ".assetsignore": "dangling.css\nme\ncaf*\ndrafts/\n"})
    os.symlink("nowhere.css", root / "dangling.css")
    os.symlink("me", root / "me")
    with open(os.fsencode(root) + b"/caf\xe9.html", "wb") as f:
        f.write(b"x")
    make_tree(root, {"drafts/a\nb.html": "x"})
    return Run([str(root)])


@warned("allow-empty", "empty folder with --allow-empty", stderr=lambda tmp: "", keys=[])
def _allow_empty(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "site").mkdir()
    return Run([str(tmp / "site"), "--allow-empty"])


# Credentials as CI and copy-paste deliver them, and what is checked before the first byte.


@warned(
    "token-trailing-newline", "API token with white space around it", stderr=lambda tmp: "", keys=SITE_KEYS
)
def _token_newline(tmp: Path, live: LiveEmulator) -> Run:
    return Run(
        [str(site(tmp))], env={"CLOUDFLARE_API_TOKEN": f" {GOOD}\n", "CLOUDFLARE_ACCOUNT_ID": f"{ACCOUNT}\n"}
    )


@warned("global-key", "global API key and email instead of a token", stderr=lambda tmp: "", keys=SITE_KEYS)
def _global_key(tmp: Path, live: LiveEmulator) -> Run:
    return Run(
        [str(site(tmp))],
        env={"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_API_KEY": KEY, "CLOUDFLARE_EMAIL": EMAIL},
    )


@warned("date-today", "compatibility date of today (UTC)", stderr=lambda tmp: "", keys=SITE_KEYS)
def _date_today(tmp: Path, live: LiveEmulator) -> Run:
    return Run([str(site(tmp)), "--compatibility-date", utc_today()])  # after midnight: yesterday, as good


# The hash cache: it cannot be made, read or written, and the sync goes on without it.


@warned(
    "cache-dir-is-a-file",
    "cache folder that is a file",
    stderr=lambda tmp: cache_warning(tmp, "cache", f"{tmp}/cache is not a folder"),
    keys=SITE_KEYS,
)
def _cache_is_a_file(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "cache").write_text("a file where a folder should be")
    return Run([str(site(tmp))])


@warned(
    "cache-dir-under-a-file",
    "cache folder that cannot be made (a file is in the way)",
    stderr=lambda tmp: cache_warning(tmp, "state/cache", f"{tmp}/state is not a folder"),
    keys=SITE_KEYS,
)
def _cache_under_a_file(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "state").write_text("a file where a folder should be")
    return Run([str(site(tmp)), "--cache-dir", str(tmp / "state" / "cache")])


@warned(
    "cache-dir-read-only",
    "cache folder not writable",
    stderr=lambda tmp: cache_warning(tmp, "cache", "Permission denied"),
    keys=SITE_KEYS,
    marks=[needs_no_dac],
)
def _cache_read_only(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "cache").mkdir(mode=0o555)
    return Run([str(site(tmp))], prefix=NO_DAC)


@warned(
    "cache-unreadable",
    "cache folder neither readable nor writable",
    stderr=lambda tmp: (
        f"warning: hash cache {cache_path(tmp, 'cache')} cannot be read (Permission denied); going on "
        "without it, hashing every file. Use --cache-dir to pick a folder you can read and write, or "
        "--no-cache.\n"
    ),
    keys=SITE_KEYS,
    marks=[needs_no_dac],
)
def _cache_unreadable(tmp: Path, live: LiveEmulator) -> Run:
    root = site(tmp)
    build(str(root), BuildOptions(cache_dir=str(tmp / "cache")))
    (tmp / "cache").chmod(0)  # neither read nor written: still one warning, not two
    return Run([str(root)], prefix=NO_DAC)


@warned(
    "disk-full",
    "disk full under the cache (4 KiB tmpfs)",
    stderr=lambda tmp: cache_warning(tmp, "cache", "No space left on device"),
    keys=sorted("/" + k for k in MANY),
    marks=[needs_mounts],
)
def _disk_full(tmp: Path, live: LiveEmulator) -> Run:
    (tmp / "cache").mkdir()
    # A 4 KiB tmpfs mounted over the cache folder, in a mount namespace of the CLI's own.
    mount = 'mount -t tmpfs -o size=4k tmpfs "$0" && exec "$@"'
    return Run([str(site(tmp, MANY))], prefix=("unshare", "-rm", "sh", "-c", mount, str(tmp / "cache")))


@warned(
    "write-limit",
    "cache write failing half way (file size limit)",
    stderr=lambda tmp: cache_warning(tmp, "cache", "File too large"),
    keys=sorted("/" + k for k in MANY),
)
def _write_limit(tmp: Path, live: LiveEmulator) -> Run:
    # Files may not grow past 4 KiB (RLIMIT_FSIZE): the cache write fails half way, as on a full disk.
    limit = (
        "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return Run(
        [str(site(tmp, MANY))], env={"PYTHONDONTWRITEBYTECODE": "1"}, prefix=(sys.executable, "-c", limit)
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in WARNED])
def test_input_that_only_warns_still_syncs(
    case: Warned, tmp_path: Path, fresh: LiveEmulator, tried: Callable[..., None]
) -> None:
    tried("bad input", case.what)
    proc = sync(fresh, tmp_path, case.setup(tmp_path, fresh))
    assert (proc.returncode, proc.stderr) == (0, case.stderr(tmp_path))
    assert leaked(proc.stdout, proc.stderr) == []
    store = fresh.emulator.store
    script = store.script(ACCOUNT, "", "site")
    assert script is not None and script.version is not None
    version = store.version(script.version)
    assert version is not None and sorted(version.manifest or {}) == list(case.keys)


# -- what the command line cannot carry, and watch mode's own path -----------------------------


def test_tenant_id_with_nul_is_refused(tmp_path: Path, tried: Callable[..., None]) -> None:
    # No argument or environment variable can hold a NUL, so this is the library's check.
    tried("bad input", "tenant id with NUL")
    root = site(tmp_path)
    with pytest.raises(UsageError) as info:
        assetsync.sync(
            str(root),
            assetsync.SyncOptions("site", build=BuildOptions(scheme=HashScheme("sha256", "acme\0x"))),
            assetsync.resolve_target(local_data=str(tmp_path / "data"), local=True),  # in CI too
        )
    assert str(info.value) == (
        "the tenant id 'acme\\x00x' holds a NUL character, which the hash framing uses as its separator "
        "(two tenants could then forge each other's hashes). Use a tenant id without NUL."
    )
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "old\nposts",
            "'<site>/old\\nposts': the folder name contains the control character '\\n', which no URL "
            "can request. Rename it, or add it to .assetsignore.",
        ),
        (
            b"caf\xe9",
            "<site>/caf\\xe9: the name is not valid UTF-8, so it cannot be a URL path. Rename it, or add "
            "it to .assetsignore.",
        ),
    ],
    ids=["newline", "not-utf8"],
)
def test_watch_refuses_a_bad_folder_name_that_appears_later(
    tmp_path: Path, name: str | bytes, message: str, tried: Callable[..., None]
) -> None:
    """Watch mode re-reads only the paths that changed: the names there get the same checks."""
    tried("bad input", "bad folder name appearing while watching")
    root = site(tmp_path)
    builder = Builder(str(root), BuildOptions(use_cache=False), warn=pytest.fail)
    assert sorted(builder.full().manifest) == ["/css/site.css", "/index.html"]
    folder = os.path.join(os.fsencode(root), os.fsencode(name))
    os.mkdir(folder)
    with open(os.path.join(folder, b"index.html"), "wb") as f:
        f.write(b"x")
    with pytest.raises(UnreadablePath) as info:
        builder.update([os.fsdecode(folder)])
    assert str(info.value).replace(str(root), "<site>") == message
