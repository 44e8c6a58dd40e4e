"""One rule for each name the API takes: the CLI's commands and the emulator agree on every name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetsync.protocol import (
    is_account_id,
    is_date,
    is_namespace,
    is_script_name,
    is_utf8,
    namespace_scripts_path,
    script_path,
    session_path,
    upload_path,
)

from ..conftest import ACCOUNT
from ..emulator.test_api import api, session
from ..helpers import LiveEmulator, make_tree, run_cli

# (name, whether it can be a dispatch namespace), with plain test ids
NAMESPACES = [
    pytest.param("customers", True, id="plain"),
    pytest.param("my.ns", True, id="dot"),
    pytest.param("My_NS-2~x", True, id="unreserved"),
    pytest.param("n" * 255, True, id="255-long"),
    pytest.param("n" * 256, False, id="256-long"),
    pytest.param("a:b", False, id="colon"),
    pytest.param("a/b", False, id="slash"),
    pytest.param("..", False, id="dot-dot"),
    pytest.param(".", False, id="lone-dot"),
    pytest.param("a b", False, id="space"),
    pytest.param("a%2fb", False, id="percent"),
    pytest.param("a?b", False, id="query"),
    pytest.param("", False, id="empty"),
    pytest.param("caf\u00e9", False, id="non-ascii"),
]


@pytest.mark.parametrize(("name", "valid"), NAMESPACES)
def test_namespace_rule(name: str, valid: bool) -> None:
    assert is_namespace(name) is valid
    assert is_account_id(name) is valid  # both become an API path segment as they are


@pytest.mark.parametrize(
    ("name", "valid"),
    [("site", True), ("a", True), ("a-b_c9", True), ("x" * 63, True), ("x" * 64, False), ("-a", False),
     ("a-", False), ("A", False), ("my.site", False), ("", False)],
)  # fmt: skip
def test_script_name_rule(name: str, valid: bool) -> None:
    assert is_script_name(name) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2024-09-23", True),
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("2024-9-23", False),
        ("20240923", False),
    ],
)
def test_date_rule(text: str, valid: bool) -> None:
    assert is_date(text) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("/index.html", True),
        ("/caf\u00e9.html", True),
        ("/\U0001f600", True),
        ("/caf\udce9.html", False),
        ("\ud800", False),
    ],
    ids=["ascii", "accent", "emoji", "undecodable-byte", "lone-surrogate"],
)
def test_utf8_rule(text: str, valid: bool) -> None:
    assert is_utf8(text) is valid


def test_api_paths() -> None:
    """The paths of PROTOCOL.md sections 4 and 5, for an ordinary Worker and a user Worker."""
    assert script_path("A", "site") == "/accounts/A/workers/scripts/site"
    assert script_path("A", "site", "ns") == "/accounts/A/workers/dispatch/namespaces/ns/scripts/site"
    assert session_path("A", "site") == "/accounts/A/workers/scripts/site/assets-upload-session"
    assert session_path("A", "site", "ns") == (
        "/accounts/A/workers/dispatch/namespaces/ns/scripts/site/assets-upload-session"
    )
    assert upload_path("A") == "/accounts/A/workers/assets/upload"
    assert namespace_scripts_path("A", "ns") == "/accounts/A/workers/dispatch/namespaces/ns/scripts"


def _env(live: LiveEmulator) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }


@pytest.mark.parametrize("name", ["a:b", "..", "a b"])
def test_sync_and_sync_all_refuse_the_same_namespaces_before_any_request(
    name: str, tmp_path: Path, recorded: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "root" / "acme", {"index.html": "hi"})
    one = run_cli("sync", str(site), "--namespace", name, env=_env(recorded))
    every = run_cli("sync-all", str(site.parent), "--namespace", name, env=_env(recorded))
    assert (one.returncode, every.returncode) == (2, 2), one.stderr + every.stderr
    assert f"--namespace {name!r} is not a dispatch namespace name" in one.stderr
    assert f"--namespace {name!r} is not a dispatch namespace name" in every.stderr
    assert recorded.app.requests == []


def test_a_namespace_with_a_dot_is_taken_by_client_and_emulator_alike(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    root = tmp_path / "root"
    site = make_tree(root / "acme", {"index.html": "hi"})
    one = run_cli("sync", str(site), "--namespace", "my.ns", "--json", env=_env(emulator))
    every = run_cli("sync-all", str(root), "--namespace", "my.ns", "--json", env=_env(emulator))
    assert (one.returncode, every.returncode) == (0, 0), one.stderr + every.stderr
    assert json.loads(every.stdout)["ok"] is True


@pytest.mark.parametrize(("name", "status"), [("my.ns", 200), ("a:b", 400), ("n" * 256, 400)])
def test_the_emulator_applies_the_same_namespace_rule(name: str, status: int, emulator: LiveEmulator) -> None:
    with api(emulator) as c:
        answer = session(c, {}, "site", ns=name)
    assert answer.status_code == status, answer.text
