"""`assetsync secret put|list|delete` as a user runs it, against the emulator over a socket; and a
secret that outlives assetsync's own redeploys."""

from __future__ import annotations

import json
import pty
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, json_document, make_tree, run_cli

VALUE = "val-7f3c1e-do-not-print"  # recognisable: no output may ever hold it
NS = "tenants"


class Session:
    """Runs the CLI against one emulator with credentials, and keeps every output to scan."""

    def __init__(self, live: LiveEmulator, tmp_path: Path) -> None:
        self.live = live
        self.tmp_path = tmp_path
        self.outputs: list[str] = []
        self.env = {
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_TOKEN": live.token,
            "CLOUDFLARE_API_BASE_URL": live.api,
        }

    def run(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        if "input" not in kw:
            kw["stdin"] = subprocess.DEVNULL  # not a terminal, and no value
        proc = run_cli(*args, env=self.env, **kw)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def deploy(self, script: str, namespace: str | None = None, *extra: str) -> None:
        """``assetsync sync`` of a Worker (a module and one page) with a var and a KV binding."""
        site = make_tree(self.tmp_path / "site", {"index.html": "<h1>hi</h1>"})
        main = make_tree(self.tmp_path / "src", {"index.js": "export default {}"}) / "index.js"
        where = ("--namespace", namespace) if namespace else ()
        proc = self.run(
            "sync", str(site), "--name", script, *where, "--main", str(main), "--no-cache", *extra
        )
        assert proc.returncode == 0, proc.stderr

    def secret(
        self, *args: str, script: str = "w", namespace: str | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        where = ("--namespace", namespace) if namespace else ()
        return self.run("secret", *args, "--name", script, *where, **kw)

    def requests(self, method: str, fragment: str) -> list[dict[str, Any]]:
        return [r for r in self.live.app.requests if r["method"] == method and fragment in r["path"]]

    def no_value_shown(self) -> None:
        assert not any(VALUE in out for out in self.outputs)


@pytest.fixture
def cli(recorded: LiveEmulator, tmp_path: Path) -> Session:
    return Session(recorded, tmp_path)


def settings(live: LiveEmulator, script: str, namespace: str | None = None) -> httpx.Response:
    where = f"dispatch/namespaces/{namespace}/scripts" if namespace else "scripts"
    return httpx.get(
        f"{live.api}/accounts/{ACCOUNT}/workers/{where}/{script}/settings",
        headers={"Authorization": f"Bearer {live.token}"},
    )


def test_a_secret_put_through_the_api_survives_an_assetsync_redeploy(cli: Session) -> None:
    project = make_tree(cli.tmp_path / "project", {"wrangler.toml": '[vars]\nGREETING = "hello"\n'})
    cli.deploy("w", None, "--binding", "kv:CACHE=abc", "--config", str(project / "wrangler.toml"))
    put = httpx.put(
        f"{cli.live.api}/accounts/{ACCOUNT}/workers/scripts/w/secrets",
        json={"name": "API_KEY", "text": VALUE, "type": "secret_text"},
        headers={"Authorization": f"Bearer {cli.live.token}"},
    )
    assert put.status_code == 200, put.text
    cli.deploy("w", None, "--binding", "kv:CACHE=abc", "--config", str(project / "wrangler.toml"))
    deploys = cli.requests("PUT", "/workers/scripts/w")
    sent = json.loads(_metadata_part(deploys[-1]["body"]))
    assert sent["keep_bindings"] == ["secret_text", "secret_key"]
    got = settings(cli.live, "w")
    assert VALUE not in got.text
    by_name = {b["name"]: b for b in got.json()["result"]["bindings"]}  # the order is the deploy's
    assert by_name == {
        "ASSETS": {"name": "ASSETS", "type": "assets"},
        "CACHE": {"type": "kv_namespace", "name": "CACHE", "namespace_id": "abc"},
        "GREETING": {"name": "GREETING", "type": "plain_text", "text": "hello"},
        "API_KEY": {"name": "API_KEY", "type": "secret_text"},
    }


def _metadata_part(body: bytes) -> str:
    """The JSON of the ``metadata`` part of a recorded multipart deploy."""
    head, _, rest = body.partition(b'name="metadata"')
    assert head, "no metadata part"
    return rest.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0].decode()


@pytest.mark.parametrize("namespace", [None, NS])
def test_put_list_delete_for_a_script_and_a_namespace_script(cli: Session, namespace: str | None) -> None:
    cli.deploy("w", namespace)
    put = cli.secret("put", "API_KEY", namespace=namespace, input=VALUE + "\n")
    assert put.returncode == 0, put.stderr
    assert put.stderr == f"Set secret API_KEY of {'w (namespace tenants)' if namespace else 'w'}\n"
    listed = cli.secret("list", "--json", namespace=namespace)
    assert json_document(listed.stdout) == {
        "schema": 1,
        "ok": True,
        "script": "w",
        "namespace": namespace,
        "count": 1,
        "secrets": [{"name": "API_KEY", "type": "secret_text"}],
    }
    table = cli.secret("list", namespace=namespace)
    assert table.stdout.splitlines() == ["NAME     TYPE", "API_KEY  secret_text"]
    # The value arrived whole: stdin's trailing newline trimmed, nothing else.
    store = cli.live.emulator.store
    live = store.script(ACCOUNT, namespace or "", "w")
    assert live is not None and live.version is not None
    version = store.version(live.version)
    assert (
        version is not None and {"name": "API_KEY", "type": "secret_text", "text": VALUE} in version.bindings
    )
    # Deleting asks: off a terminal, no --yes is exit 10 and the secret stays.
    refused = cli.secret("delete", "API_KEY", namespace=namespace)
    assert refused.returncode == 10 and "without --yes" in refused.stderr
    assert cli.requests("DELETE", "/secrets/") == []
    gone = cli.secret("delete", "API_KEY", "--yes", "--json", namespace=namespace)
    assert gone.returncode == 0, gone.stderr
    assert json_document(gone.stdout)["deleted"] == "API_KEY"
    assert json_document(cli.secret("list", "--json", namespace=namespace).stdout)["secrets"] == []
    cli.no_value_shown()


def test_from_json_sets_many_at_once(cli: Session) -> None:
    cli.deploy("w")
    values = cli.tmp_path / "secrets.json"
    values.write_text(json.dumps({"A_KEY": VALUE, "B_KEY": VALUE + "-b"}))
    proc = cli.secret("put", "--from-json", str(values), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_document(proc.stdout)["set"] == ["A_KEY", "B_KEY"]
    listed = json_document(cli.secret("list", "--json").stdout)
    assert [s["name"] for s in listed["secrets"]] == ["A_KEY", "B_KEY"]
    cli.no_value_shown()


def test_bad_input_is_refused_before_any_request(cli: Session) -> None:
    cli.deploy("w")
    bad_json = cli.tmp_path / "bad.json"
    bad_json.write_text('{"A": "' + VALUE + '",')
    not_strings = cli.tmp_path / "numbers.json"
    not_strings.write_text(json.dumps({"GOOD": VALUE, "BAD": 5}))
    cases = [
        (("put", "K", "--from-json", str(not_strings)), {}, 2, "not both"),
        (("put",), {}, 2, "name the secret"),
        (("put", "K"), {"input": ""}, 2, "no value on stdin"),
        (("put", "K"), {"input": " \n"}, 2, "no value on stdin"),
        (("put", "BAD NAME"), {"input": VALUE}, 2, "cannot name a secret"),
        (("put", "--from-json", str(bad_json)), {}, 3, f"{bad_json}: not valid JSON"),
        (("put", "--from-json", str(not_strings)), {}, 3, "the value of 'BAD' must be a non-empty string"),
        (("put", "--from-json", str(cli.tmp_path / "missing.json")), {}, 3, "cannot read it"),
        (("delete", "a/b", "--yes"), {}, 2, "cannot name a secret"),
    ]
    for args, kw, code, needle in cases:
        proc = cli.secret(*args, **kw)
        assert proc.returncode == code and needle in proc.stderr, (args, proc.returncode, proc.stderr)
    bad_script = cli.run("secret", "list", "--name", "Bad Name")
    assert bad_script.returncode == 2 and "not a valid Worker name" in bad_script.stderr
    assert cli.requests("PUT", "/secrets") == [] and cli.requests("DELETE", "/secrets") == []
    cli.no_value_shown()


def test_a_missing_script_or_secret_is_exit_8(cli: Session) -> None:
    for args, kw in ((("put", "K"), {"input": VALUE}), (("list",), {}), (("delete", "K", "--yes"), {})):
        for namespace in (None, NS):
            proc = cli.secret(*args, script="nope", namespace=namespace, **kw)
            where = f"Worker 'nope' in namespace '{NS}'" if namespace else "Worker 'nope'"
            assert proc.returncode == 8 and f"there is no {where}" in proc.stderr, proc.stderr
    cli.deploy("w", None, "--binding", "text:GREETING=hi")
    proc = cli.secret("delete", "NEVER_SET", "--yes", "--json")
    assert proc.returncode == 8 and "Worker 'w' has no secret 'NEVER_SET'" in proc.stderr
    doc = json_document(proc.stdout)
    assert doc["ok"] is False and doc["error"]["exit_code"] == 8
    clash = cli.secret("put", "GREETING", input=VALUE)  # the name of another binding
    assert clash.returncode == 8 and "Binding name 'GREETING' already in use." in clash.stderr
    cli.no_value_shown()


def on_terminal(cli: Session, args: list[str], answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal and stdin: each time the
    output shows a prompt, type its answer. Returns the exit status and everything shown.

    A hidden prompt is answered only once its last character is shown: getpass turns echo off
    (and flushes what was typed ahead) before writing it, while click 8.1 writes the text before
    calling getpass, so an answer typed on seeing the text alone would be echoed, then dropped."""
    import os
    import select
    import sys

    from ..helpers import child_env

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, on the terminal
        os.execve(sys.executable, [sys.executable, "-m", "assetsync", *args], child_env(cli.env))
    shown, pending = b"", list(answers)
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        assert ready, f"no output within 30s; shown: {shown!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the child is done
            break
        if not chunk:
            break
        shown += chunk
        if pending and pending[0][0].encode() in shown:
            os.write(fd, pending.pop(0)[1].encode() + b"\r")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = shown.decode(errors="replace")
    cli.outputs.append(text)
    return os.waitstatus_to_exitcode(status), text


def test_on_a_terminal_the_value_is_asked_for_without_echo_and_deletion_asks(cli: Session) -> None:
    cli.deploy("w")
    where = ["--name", "w"]
    prompt = "Value of secret TTY_KEY: "
    code, shown = on_terminal(cli, ["secret", "put", "TTY_KEY", *where], [(prompt, VALUE)])
    assert code == 0 and "Set secret TTY_KEY of w" in shown, shown
    store = cli.live.emulator.store
    live = store.script(ACCOUNT, "", "w")
    version = store.version(live.version) if live and live.version else None
    assert (
        version is not None and {"name": "TTY_KEY", "type": "secret_text", "text": VALUE} in version.bindings
    )
    code, shown = on_terminal(cli, ["secret", "delete", "TTY_KEY", *where], [("Delete secret TTY_KEY?", "n")])
    assert code == 10 and "nothing was deleted" in shown, shown
    code, shown = on_terminal(cli, ["secret", "delete", "TTY_KEY", *where], [("Delete secret TTY_KEY?", "y")])
    assert code == 0 and "Deleted secret TTY_KEY of w" in shown, shown
    cli.no_value_shown()
