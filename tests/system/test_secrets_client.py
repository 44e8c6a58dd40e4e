"""The secret and subdomain calls of the library and client, against the emulator over 127.0.0.1:
what they send, what they return, and how they fail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from assetsync.errors import RequestRefused, UsageError
from assetsync.retry import Backoff, Retries
from assetsync.secrets import list_secrets_of, put_secrets_to, settings_of
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..emulator.test_secrets import worker
from ..helpers import LiveEmulator, envelope_error

VALUE = "client-secret-4412"
FAST = Retries(attempts=3, backoff=Backoff(base=0.0, cap=0.0))


def target(live: LiveEmulator) -> Target:
    return Target("api", live.api, ACCOUNT, live.token)


def deployed(live: LiveEmulator, script: str = "w", ns: str | None = None) -> None:
    with httpx.Client(base_url=live.api, headers={"Authorization": f"Bearer {live.token}"}) as c:
        assert worker(c, script, ns).status_code == 200


@pytest.mark.parametrize("ns", [None, "ns1"])
def test_put_list_and_settings_send_the_value_in_the_body_only(
    recorded: LiveEmulator, ns: str | None
) -> None:
    deployed(recorded, ns=ns)
    t = target(recorded)
    assert put_secrets_to(t, "w", ns, {"B_KEY": VALUE, "A_KEY": VALUE + "!"}, FAST) == ["B_KEY", "A_KEY"]
    puts = [r for r in recorded.app.requests if r["method"] == "PUT" and r["path"].endswith("/secrets")]
    assert [json.loads(r["body"]) for r in puts] == [
        {"name": "B_KEY", "text": VALUE, "type": "secret_text"},
        {"name": "A_KEY", "text": VALUE + "!", "type": "secret_text"},
    ]
    assert all(VALUE not in r["path"] + r["query"] + json.dumps(r["headers"]) for r in recorded.app.requests)
    assert [s.to_json() for s in list_secrets_of(t, "w", ns, FAST)] == [
        {"name": "A_KEY", "type": "secret_text"},
        {"name": "B_KEY", "type": "secret_text"},
    ]
    got = settings_of(t, "w", ns, FAST)
    assert got["compatibility_date"] == "2025-01-01" and VALUE not in json.dumps(got)


def test_a_passing_fault_is_retried_and_a_refusal_names_the_secrets_already_set(
    recorded: LiveEmulator,
) -> None:
    with httpx.Client(base_url=recorded.api, headers={"Authorization": f"Bearer {recorded.token}"}) as c:
        worker(c, bindings=[{"name": "TAKEN", "type": "plain_text", "text": "x"}])
    recorded.app.faults.append(("PUT", "/secrets", envelope_error(503, 10013, "busy for this test")))
    with pytest.raises(RequestRefused) as info:
        put_secrets_to(target(recorded), "w", None, {"ONE": VALUE, "TAKEN": VALUE}, FAST)
    message = str(info.value)
    assert (
        "Binding name 'TAKEN' already in use." in message
        and "Already set before this failure: ONE." in message
    )
    assert VALUE not in message
    puts = [r for r in recorded.app.requests if r["method"] == "PUT" and r["path"].endswith("/secrets")]
    assert [r.get("fault") for r in puts] == [503, None, None]  # ONE retried once, then TAKEN refused
    assert [s.name for s in list_secrets_of(target(recorded), "w", None, FAST)] == ["ONE"]


def test_names_and_values_are_checked_before_any_request(recorded: LiveEmulator) -> None:
    for values in ({"": VALUE}, {"A B": VALUE}, {"A/B": VALUE}, {"OK": ""}, {"OK": VALUE, "BAD\n": VALUE}):
        with pytest.raises(UsageError) as info:
            put_secrets_to(target(recorded), "w", None, values, FAST)
        assert VALUE not in str(info.value)
    assert recorded.app.requests == []


def test_subdomains(emulator: LiveEmulator, tmp_path: Path) -> None:
    deployed(emulator)

    async def ask(live: LiveEmulator) -> tuple[str | None, bool]:
        async with target(live).client() as client:
            return await client.account_subdomain(), await client.workers_dev_enabled("w")

    assert asyncio.run(ask(emulator)) == ("assetsync-local", False)
    httpx.post(
        f"{emulator.api}/accounts/{ACCOUNT}/workers/scripts/w/subdomain",
        json={"enabled": True},
        headers={"Authorization": f"Bearer {emulator.token}"},
    )
    assert asyncio.run(ask(emulator)) == ("assetsync-local", True)
    with LiveEmulator(tmp_path / "bare", workers_subdomain=None) as bare:
        deployed(bare)
        assert asyncio.run(ask(bare)) == (None, False)
