"""The preview address grammar: every address it writes reads back as itself, and no host or
path segment has two readings."""

from __future__ import annotations

import pytest

from assetsync.protocol.previews import PreviewAddress, parse_host, parse_segment
from assetsync.wire.target import LOCAL_ACCOUNT, Target

ACCT = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "address",
    [
        PreviewAddress("site"),
        PreviewAddress("site", "tenants"),
        PreviewAddress("site", "", ACCT),
        PreviewAddress("site", "tenants", ACCT),
        PreviewAddress("a_b-c", "n_s-1", ACCT),
        PreviewAddress("site", ACCT, ACCT),  # a hex namespace is fine once the account is there
    ],
)
def test_host_and_path_forms_read_back_as_written(address: PreviewAddress) -> None:
    host = address.host()
    assert host is not None
    assert parse_host(host) == address
    assert parse_host(f"{host.upper()}:8787") == address  # host names ignore case; a port is allowed
    assert parse_segment(address.segment()) == address


@pytest.mark.parametrize(
    "address",
    [
        PreviewAddress("site", "Tenants"),  # a host label cannot keep the case
        PreviewAddress("site", "a.b"),  # nor a dot
        PreviewAddress("site", "x" * 64),  # nor more than 63 characters
        PreviewAddress("site", "t~1"),
        PreviewAddress("site", ACCT),  # would read as the account
        PreviewAddress("site", "", LOCAL_ACCOUNT),  # only Cloudflare-shaped ids go in a host
        PreviewAddress("site", "ns", "Some.Account"),
    ],
)
def test_names_a_host_cannot_hold_are_path_only(address: PreviewAddress) -> None:
    assert address.host() is None
    assert parse_segment(address.segment()) == address  # the path carries any name exactly


def test_one_reading_per_host() -> None:
    assert parse_host(f"site.{ACCT}.localhost") == PreviewAddress("site", "", ACCT)
    assert parse_host("site.tenants.localhost") == PreviewAddress("site", "tenants")
    assert parse_host("site.a.b.localhost") is None  # three labels end in an account or mean nothing
    for host in ("localhost", ".localhost", "site..localhost", "a.b.c.d.localhost", "site.example.com"):
        assert parse_host(host) is None, host


def test_path_segment_forms() -> None:
    assert parse_segment("site") == PreviewAddress("site")
    assert parse_segment("site.a.b@local") == PreviewAddress("site", "a.b", "local")
    assert parse_segment("site%40" + ACCT) == PreviewAddress("site", "", ACCT)  # an escaped @ too
    assert parse_segment("site@") == PreviewAddress("site", "", "")  # names no account: found nowhere


def test_targets_print_the_address_that_reaches_their_account() -> None:
    local = Target("emulator", "http://x/client/v4", LOCAL_ACCOUNT, "t")
    assert local.preview_url("site", None) == "http://site.localhost:8787/"
    assert local.preview_url("site", "Tenants", 9) == "http://127.0.0.1:9/__preview/site.Tenants/"
    other = Target("emulator", "http://x/client/v4", ACCT, "t")
    assert other.preview_url("site", "ns") == f"http://site.ns.{ACCT}.localhost:8787/"
    assert Target("api", "https://api.cloudflare.com/client/v4", ACCT, "t").preview_url("site", None) is None
