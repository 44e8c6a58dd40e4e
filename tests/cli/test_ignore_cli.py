"""What `sync` publishes from a real folder holding what an editing session leaves behind:
the default ignores keep editor files and secrets off the site, `.assetsignore` re-includes a
default with `!`, and a secret published that way is warned about on one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, make_tree, run_cli

SITE = {
    "index.html": "<h1>hi</h1>",
    "about/index.html": "about",
    ".well-known/security.txt": "Contact: mailto:a@example.com",
    # An editing session: vim, emacs, JetBrains, backups.
    ".index.html.swp": "swap",
    "about/.index.html.swo": "swap",
    ".index.html.swx": "",
    "4913": "",
    "#index.html#": "autosave",
    "index.html~": "backup",
    "about/index.html___jb_tmp___": "safe write",
    ".DS_Store": "x",
    # Secrets.
    ".env": "API_KEY=secret",
    ".env.local": "API_KEY=secret",
    ".env.example": "API_KEY=",
    ".dev.vars": "TOKEN=secret",
    # A bundler's output (Expo/metro writes assets/node_modules/) and the project's own.
    "assets/node_modules/pkg/logo.png": "png",
    "assets/node_modules/pkg/.env": "SECRET=1",
    "node_modules/dep/index.js": "x",
}


def sync(live: LiveEmulator, site: Path, *args: str) -> tuple[int, str, list[str]]:
    """Run `sync` on ``site``; its exit code, stderr, and the manifest keys of each session."""
    creds = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }
    before = len(live.app.requests)
    proc = run_cli("sync", str(site), "--name", "site", "--no-cache", *args, env=creds)
    sessions = [
        sorted(json.loads(r["body"])["manifest"])
        for r in live.app.requests[before:]
        if r["method"] == "POST" and r["path"].endswith("/assets-upload-session")
    ]
    assert len(sessions) == 1, sessions
    return proc.returncode, proc.stderr, sessions[0]


def test_sync_publishes_exactly_the_site_with_defaults_then_reinclusions(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", SITE)
    os.symlink("me@host.4242:1700000000", site / ".#index.html")  # emacs's dangling lock link

    code, err, keys = sync(recorded, site)
    assert code == 0, err
    assert keys == ["/.well-known/security.txt", "/about/index.html", "/index.html"]
    assert "warning" not in err

    (site / ".assetsignore").write_text("!/assets/node_modules/\n!.env.example\n")
    code, err, keys = sync(recorded, site)
    assert code == 0, err
    assert keys == [
        "/.env.example",
        "/.well-known/security.txt",
        "/about/index.html",
        "/assets/node_modules/pkg/logo.png",  # its .env stays off: re-including a folder is not its secrets
        "/index.html",
    ]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: publishing {site}/.env.example, which looks like secrets (re-included by a ! pattern): "
        "anyone can download it from the site"
    ]


def test_no_default_ignores_publishes_everything_and_warns_about_each_secret(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", SITE)
    code, err, keys = sync(recorded, site, "--no-default-ignores")
    assert code == 0, err
    assert keys == sorted("/" + rel for rel in SITE)
    secrets = [".dev.vars", ".env", ".env.example", ".env.local", "assets/node_modules/pkg/.env"]
    warned = sorted(line for line in err.splitlines() if "looks like secrets" in line)
    assert warned == [
        f"warning: publishing {site}/{rel}, which looks like secrets (--no-default-ignores): "
        "anyone can download it from the site"
        for rel in secrets
    ]
