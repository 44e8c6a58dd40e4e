"""What the runtime hands workerd for a version, and where it looks for workerd: pure, no process."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from assetsync.emulator.runtime.locate import ENV_VAR, WorkerdMissing, find_workerd
from assetsync.emulator.runtime.spec import DEFAULT_DATE, NotRunnable, clamp_date, worker_spec
from assetsync.emulator.store import Version


def version(metadata: dict[str, Any], bindings: list[dict[str, Any]] | None = None) -> Version:
    return Version("v-1", "acct", "ns", "shop", 3, None, metadata, 1_700_000_000.0, bindings or [])


MAIN = {"main_module": "src/index.js", "compatibility_date": "2025-06-01"}


def test_modules_keep_their_kinds_and_the_shim_imports_the_main_module() -> None:
    modules = [
        ("src/index.js", "application/javascript+module", b"export default {}"),
        ("lib.cjs", "application/javascript", b"module.exports = 1"),
        ("notes.txt", "text/plain", b"hi"),
        ("blob.bin", "application/octet-stream", b"\x00\x01"),
        ("add.wasm", "application/wasm", b"\x00asm"),
        ("data.json", "application/json", b'{"a": 1}'),
        ("src/index.js.map", "application/source-map", b"{}"),
    ]
    spec, left_out = worker_spec(version(MAIN), modules, "2026-04-26")
    assert spec["modules"] == {
        "src/index.js": {"js": "export default {}"},
        "lib.cjs": {"cjs": "module.exports = 1"},
        "notes.txt": {"text": "hi"},
        "blob.bin": {"data": base64.b64encode(b"\x00\x01").decode()},
        "add.wasm": {"wasm": base64.b64encode(b"\x00asm").decode()},
        "data.json": {"json": {"a": 1}},
    }
    assert 'from "./src/index.js"' in spec["shim"] and "__MAIN__" not in spec["shim"]
    assert spec["compatibilityDate"] == "2025-06-01"
    assert spec["compatibilityFlags"] == ["nodejs_als"]  # what the shim's AsyncLocalStorage needs
    assert left_out == []


def test_nodejs_compat_brings_async_local_storage_itself() -> None:
    spec, _ = worker_spec(version({**MAIN, "compatibility_flags": ["nodejs_compat"]}), [], "2026-04-26")
    assert spec["compatibilityFlags"] == ["nodejs_compat"]


def test_bindings_become_values_or_descriptions_and_unmodelled_kinds_are_named() -> None:
    bindings: list[dict[str, Any]] = [
        {"type": "plain_text", "name": "A", "text": "x"},
        {"type": "secret_text", "name": "S", "text": "s3cret"},
        {"type": "json", "name": "J", "json": [1, 2]},
        {"type": "version_metadata", "name": "V"},
        {"type": "assets", "name": "ASSETS"},
        {"type": "kv_namespace", "name": "KV", "namespace_id": "abc"},
        {"type": "service", "name": "SVC", "service": "other", "entrypoint": "Named"},
        {
            "type": "dispatch_namespace",
            "name": "D",
            "namespace": "tenants",
            "outbound": {"worker": {"service": "egress"}, "params": [{"name": "token"}]},
        },
        {"type": "r2_bucket", "name": "BUCKET", "bucket_name": "b"},
    ]
    md = {**MAIN, "annotations": {"workers/tag": "v42"}}
    spec, left_out = worker_spec(version(md, bindings), [], "2026-04-26")
    assert spec["values"] == {
        "A": "x",
        "S": "s3cret",
        "J": [1, 2],
        "V": {"id": "v-1", "tag": "v42", "timestamp": "2023-11-14T22:13:20Z"},
    }
    assert spec["bindings"] == [
        {"type": "assets", "name": "ASSETS"},
        {"type": "kv", "name": "KV", "id": "abc"},
        {"type": "service", "name": "SVC", "service": "other", "entrypoint": "Named"},
        {
            "type": "dispatch",
            "name": "D",
            "namespace": "tenants",
            "outbound": {"service": "egress", "params": ["token"]},
        },
    ]
    assert left_out == ["BUCKET (r2_bucket)"]


@pytest.mark.parametrize(
    ("asked", "newest", "runs"),
    [
        ("2025-01-01", "2026-04-26", "2025-01-01"),
        ("2027-01-01", "2026-04-26", "2026-04-26"),
        (None, "2026-04-26", DEFAULT_DATE),
    ],
)
def test_the_compatibility_date_is_never_past_what_workerd_knows(
    asked: str | None, newest: str, runs: str
) -> None:
    assert clamp_date(asked, newest) == runs


def test_what_cannot_run_says_why() -> None:
    with pytest.raises(NotRunnable, match="service-worker"):
        worker_spec(version({"body_part": "script"}), [], "2026-04-26")
    with pytest.raises(NotRunnable, match="no main module"):
        worker_spec(version({}), [], "2026-04-26")


def executable(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho workerd 2026-04-26\n")
    path.chmod(0o755)
    return str(path)


def test_workerd_is_looked_for_in_order(tmp_path: Path) -> None:
    given = executable(tmp_path / "given" / "workerd")
    from_env = executable(tmp_path / "env" / "workerd")
    on_path = executable(tmp_path / "bin" / "workerd")
    local = executable(tmp_path / "project" / "node_modules" / ".bin" / "workerd")
    env = {ENV_VAR: from_env, "PATH": str(tmp_path / "bin")}
    cwd = str(tmp_path / "project")
    assert find_workerd(given, env, cwd) == given
    assert find_workerd(None, env, cwd) == from_env
    assert find_workerd(None, {"PATH": env["PATH"]}, cwd) == on_path
    assert find_workerd(None, {"PATH": ""}, cwd) == local
    with pytest.raises(WorkerdMissing, match="npm install workerd"):
        find_workerd(None, {"PATH": ""}, str(tmp_path))
    with pytest.raises(WorkerdMissing, match="not an executable file"):
        find_workerd(str(tmp_path / "nope"), env, cwd)
    os.chmod(given, 0o644)
    with pytest.raises(WorkerdMissing, match="--workerd names"):
        find_workerd(given, env, cwd)
