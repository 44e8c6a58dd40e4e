"""Real clients of the emulator's Workers KV API, unchanged: the official Python SDK and wrangler
4.86 (``--remote``). Beside tests/emulator/test_clients.py, and like it left out of the run on the
lowest dependency versions, which installs neither."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator
from .test_clients import needs_wrangler, wrangler


def sdk_client(live: LiveEmulator) -> Any:
    cloudflare = pytest.importorskip(
        "cloudflare", reason="needs the official SDK: pip install -c .ci/constraints.txt -e '.[dev]'"
    )
    return cloudflare.Cloudflare(api_token=live.token, base_url=live.api, max_retries=0)


def sdk_writes_a_routing_table(sdk: Any) -> str:
    """A namespace the SDK creates and fills; its id. (The SDK sends a value as a file part, and
    refuses a str value before sending: bytes it is.)"""
    ns = sdk.kv.namespaces.create(account_id=ACCOUNT, title="routing")
    assert ns is not None and len(ns.id) == 32
    sdk.kv.namespaces.values.update(
        "host/acme.example é",
        account_id=ACCOUNT,
        namespace_id=ns.id,
        value=b"worker-acme",
        metadata={"plan": "pro"},
    )
    done = sdk.kv.namespaces.bulk_update(
        ns.id, account_id=ACCOUNT, body=[{"key": "host/b", "value": "worker-b"}]
    )
    assert done is not None and done.successful_key_count == 1
    return str(ns.id)


def test_the_official_sdk_writes_and_reads_keys(emulator: LiveEmulator) -> None:
    sdk = sdk_client(emulator)
    ns = sdk_writes_a_routing_table(sdk)
    got = sdk.kv.namespaces.values.get("host/acme.example é", account_id=ACCOUNT, namespace_id=ns)
    assert got.read() == b"worker-acme"
    assert sdk.kv.namespaces.metadata.get("host/acme.example é", account_id=ACCOUNT, namespace_id=ns) == {
        "plan": "pro"
    }
    listed = list(sdk.kv.namespaces.keys.list(ns, account_id=ACCOUNT))
    assert [(k.name, k.metadata) for k in listed] == [
        ("host/acme.example é", {"plan": "pro"}),
        ("host/b", None),
    ]
    assert [n.title for n in sdk.kv.namespaces.list(account_id=ACCOUNT)] == ["routing"]
    sdk.kv.namespaces.values.delete("host/b", account_id=ACCOUNT, namespace_id=ns)
    assert emulator.emulator.kv.get(ns, "host/b") is None


@needs_wrangler
def test_wrangler_reads_what_the_sdk_wrote_and_the_sdk_what_wrangler_wrote(
    emulator: LiveEmulator, tmp_path: Path
) -> None:
    """Real wrangler 4.86 with ``--remote`` talks to the API at CLOUDFLARE_API_BASE_URL: the
    emulator, with nothing but loopback."""
    sdk = sdk_client(emulator)
    ns = sdk_writes_a_routing_table(sdk)
    (tmp_path / "home").mkdir()

    def kv(*args: str) -> str:
        return wrangler(emulator, tmp_path, "kv", *args).stdout

    assert (
        kv("key", "get", "host/acme.example é", "--namespace-id", ns, "--remote")
        .strip()
        .endswith("worker-acme")
    )
    kv(
        "key",
        "put",
        "host/from wrangler",
        "worker-w",
        "--namespace-id",
        ns,
        "--remote",
        "--metadata",
        '{"by":"w"}',
    )
    got = sdk.kv.namespaces.values.get("host/from wrangler", account_id=ACCOUNT, namespace_id=ns)
    assert got.read() == b"worker-w"
    listed = kv("key", "list", "--namespace-id", ns, "--remote", "--prefix", "host/")
    assert json.loads(listed[listed.index("[") :]) == [
        {"name": "host/acme.example é", "metadata": {"plan": "pro"}},
        {"name": "host/b"},
        {"name": "host/from wrangler", "metadata": {"by": "w"}},
    ]
    kv("key", "delete", "host/b", "--namespace-id", ns, "--remote")
    assert emulator.emulator.kv.get(ns, "host/b") is None
    seen = kv("namespace", "list")
    assert [n["id"] for n in json.loads(seen[seen.index("[") :])] == [ns]
