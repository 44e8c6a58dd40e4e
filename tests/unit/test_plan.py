"""Upload planning and the deploy's metadata, decided without I/O: names, buckets, bindings."""

from __future__ import annotations

import datetime

import pytest

from assetsync.errors import ProtocolError, UsageError
from assetsync.folder.manifest import Entry, Manifest
from assetsync.protocol import AssetsConfig, WorkerSpec, deploy_metadata
from assetsync.wire.plan import (
    Request,
    check_namespace,
    check_script_name,
    plan_uploads,
    script_name_from_folder,
)


@pytest.mark.parametrize("name", ["a", "7", "my-site", "a_b", "0site9", "a" * 63, "a-_-b"])
def test_valid_script_names_are_returned_as_given(name: str) -> None:
    assert check_script_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "_a", "a_", "A", "my site", "a" * 64, "a.b", "é"])
def test_invalid_script_names_say_the_rule_and_the_fix(name: str) -> None:
    with pytest.raises(UsageError) as info:
        check_script_name(name)
    assert str(info.value) == (
        f"{name!r} is not a valid Worker name: use 1-63 lowercase letters, digits, '-' or '_', "
        "starting and ending with a letter or digit. Pass a valid one with --name."
    )
    with pytest.raises(UsageError, match=r"digit\. Rename the folder\.$"):
        check_script_name(name, "Rename the folder.")


@pytest.mark.parametrize("ns", ["prod", "a.b", "x~y", "A-Z_09", "...", "n" * 255])
def test_valid_namespaces(ns: str) -> None:
    assert check_namespace(ns) == ns


@pytest.mark.parametrize("ns", ["", ".", "..", "a/b", "a b", "n" * 256, "a?b", "ü"])
def test_invalid_namespaces(ns: str) -> None:
    with pytest.raises(UsageError) as info:
        check_namespace(ns)
    assert str(info.value) == (
        f"--namespace {ns!r} is not a dispatch namespace name: use 1-255 letters, digits, '.', '-', "
        "'_' or '~', and not '.' or '..' (the name shown by `wrangler dispatch-namespace list`)."
    )


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("site", "site"),
        ("My Site!", "my-site"),
        ("__x__", "x"),
        ("--a--b--", "a--b"),
        ("été 2024", "t-2024"),
        ("a" * 70, "a" * 63),
        ("a" * 62 + "_b", "a" * 62),  # cut to 63, then no '_' left at the end
        ("-" * 10 + "a" * 60, "a" * 60),  # leading junk goes before the cut to 63
        ("!!!", ""),
    ],
)
def test_script_name_from_folder(folder: str, name: str) -> None:
    assert script_name_from_folder(folder) == name


H = [c * 32 for c in "0123456789abcdef"]


def sources(sizes: list[int]) -> tuple[Manifest, dict[str, tuple[str, str, int, int, int, bytes]]]:
    """A manifest of one file per size, and the source map the build gives for it."""
    entries = {f"/f{i}.txt": Entry(H[i], n, f"type/{i}") for i, n in enumerate(sizes)}
    src = {
        H[i]: (f"/f{i}.txt", f"/abs/f{i}.txt", n, 100 + i, 200 + i, bytes([i])) for i, n in enumerate(sizes)
    }
    return Manifest(entries), src


def hashes(requests: list[Request]) -> list[list[str]]:
    return [[p.hash for p in r.parts] for r in requests]


def test_each_bucket_is_a_request_in_the_servers_order_with_everything_a_part_needs() -> None:
    m, src = sources([10, 20, 30])
    out = plan_uploads([[H[2], H[0]], [H[1]]], m, src)
    assert hashes(out) == [[H[2], H[0]], [H[1]]]
    assert [r.raw_bytes for r in out] == [40, 20]
    part = out[0].parts[0]
    assert (part.hash, part.abspath, part.path, part.size) == (H[2], "/abs/f2.txt", "/f2.txt", 30)
    assert (part.mtime_ns, part.ctime_ns, part.content_type, part.fingerprint) == (
        102,
        202,
        "type/2",
        b"\x02",
    )


def test_a_bucket_larger_than_one_request_is_split_and_exactly_full_is_not() -> None:
    m, src = sources([40, 60, 50, 50, 1])
    out = plan_uploads([[H[0], H[1], H[2], H[3], H[4]]], m, src, max_request_bytes=100)
    assert hashes(out) == [[H[0], H[1]], [H[2], H[3]], [H[4]]]  # 40+60 and 50+50 fill it exactly


def test_a_part_bigger_than_a_request_goes_alone() -> None:
    m, src = sources([5, 500, 5])
    out = plan_uploads([[H[0], H[1], H[2]]], m, src, max_request_bytes=100)
    assert hashes(out) == [[H[0]], [H[1]], [H[2]]]
    out = plan_uploads([[H[1], H[0]]], m, src, max_request_bytes=100)
    assert hashes(out) == [[H[1]], [H[0]]]


def test_default_request_size_is_40_mib() -> None:
    m, src = sources([20 << 20, 20 << 20, 1])
    assert hashes(plan_uploads([[H[0], H[1], H[2]]], m, src)) == [[H[0], H[1]], [H[2]]]


def test_a_hash_listed_twice_is_sent_once_and_empty_buckets_make_no_request() -> None:
    m, src = sources([1, 2])
    out = plan_uploads([[H[0], H[0]], [], [H[1], H[0]], [H[0]]], m, src)
    assert hashes(out) == [[H[0]], [H[1]]]
    assert hashes(plan_uploads([[H[0], H[0], H[1]]], m, src)) == [[H[0], H[1]]]
    assert plan_uploads([], m, src) == []


def test_a_hash_not_in_the_manifest_is_a_protocol_error_naming_the_request() -> None:
    m, src = sources([1])
    with pytest.raises(ProtocolError) as info:
        plan_uploads([[H[0], "f" * 32]], m, src, request="POST /x")
    assert info.value.request == "POST /x"
    assert str(info.value) == (
        f"opening the upload session: the answer to POST /x asks for '{'f' * 32}', which is not a hash "
        "of the manifest sent. The server and assetsync disagree on what is being deployed, so nothing "
        "was uploaded or deployed: run again, and report it to the server's operators if it persists."
    )
    with pytest.raises(ProtocolError) as info:
        plan_uploads([["z" * 65]], m, src)
    assert info.value.request == "the upload session request"
    assert f"the answer to the upload session request asks for '{'z' * 64}...', which" in str(info.value)
    with pytest.raises(ProtocolError, match=f"asks for '{'y' * 64}', which"):
        plan_uploads([["y" * 64]], m, src)


def test_assets_config_sends_only_what_was_set() -> None:
    assert AssetsConfig().to_json() == {}
    full = AssetsConfig("none", "404-page", ("/api/*", "!/api/x"), "/a /b\n", "/*\n  X: y\n")
    assert full.to_json() == {
        "html_handling": "none",
        "not_found_handling": "404-page",
        "run_worker_first": ["/api/*", "!/api/x"],
        "_redirects": "/a /b\n",
        "_headers": "/*\n  X: y\n",
    }
    assert AssetsConfig(run_worker_first=False).to_json() == {"run_worker_first": False}
    assert AssetsConfig(run_worker_first=True).to_json() == {"run_worker_first": True}
    assert AssetsConfig(redirects="", headers="").to_json() == {"_redirects": "", "_headers": ""}


def test_assets_config_rejects_unknown_modes_naming_the_allowed_ones() -> None:
    with pytest.raises(UsageError) as info:
        AssetsConfig(html_handling="auto").to_json()
    assert str(info.value) == (
        "html_handling must be one of auto-trailing-slash, force-trailing-slash, drop-trailing-slash, none"
    )
    with pytest.raises(UsageError) as info:
        AssetsConfig(not_found_handling="spa").to_json()
    assert str(info.value) == "not_found_handling must be one of none, 404-page, single-page-application"


def test_assets_only_deploy_metadata() -> None:
    spec = WorkerSpec(compatibility_flags=("nodejs_compat",), assets=AssetsConfig(html_handling="none"))
    assert deploy_metadata(spec, "JWT") == {
        "assets": {"jwt": "JWT", "config": {"html_handling": "none"}},
        # no date set: the day of the deploy, in UTC as the API counts days
        "compatibility_date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "compatibility_flags": ["nodejs_compat"],
    }
    tagged = deploy_metadata(WorkerSpec(tags=("a", "b")), "JWT")
    assert tagged["tags"] == ["a", "b"]


def test_worker_deploy_metadata_orders_bindings_as_wrangler_and_keeps_secrets() -> None:
    spec = WorkerSpec(
        main_module="index.js",
        assets_binding="STATIC",
        bindings=(
            {"type": "ai", "name": "AI"},
            {"type": "plain_text", "name": "A", "text": "1"},
            {"type": "some_future_kind", "name": "F"},
            {"type": "kv_namespace", "name": "K", "namespace_id": "k"},
        ),
        compatibility_date="2024-06-01",
    )
    assert deploy_metadata(spec, "JWT") == {
        "main_module": "index.js",
        # wrangler's upload form: vars, then each kind in its order, the assets binding near the end
        "bindings": [
            {"type": "plain_text", "name": "A", "text": "1"},
            {"type": "kv_namespace", "name": "K", "namespace_id": "k"},
            {"type": "ai", "name": "AI"},
            {"name": "STATIC", "type": "assets"},
            {"type": "some_future_kind", "name": "F"},
        ],
        "compatibility_date": "2024-06-01",
        "compatibility_flags": [],
        "keep_bindings": ["secret_text", "secret_key"],  # as wrangler 4.164 sends on every deploy
        "tags": [],
        "assets": {"jwt": "JWT", "config": {}},
    }
    assert deploy_metadata(WorkerSpec(main_module="w.js"), "J")["bindings"] == [
        {"name": "ASSETS", "type": "assets"}
    ]


def test_keep_vars_keeps_the_vars_set_elsewhere_too() -> None:
    meta = deploy_metadata(WorkerSpec(main_module="w.js", keep_vars=True), "J")
    # wrangler: keepVars adds plain_text and json, then the secrets
    assert meta["keep_bindings"] == ["plain_text", "json", "secret_text", "secret_key"]


def test_an_assets_only_deploy_says_nothing_of_bindings_as_wrangler() -> None:
    for keep_vars in (False, True):
        meta = deploy_metadata(WorkerSpec(keep_vars=keep_vars), "J")
        assert "keep_bindings" not in meta and "bindings" not in meta


def test_worker_deploy_metadata_carries_the_migrations_after_the_live_tag() -> None:
    steps = ({"tag": "v1", "new_classes": ["A"]}, {"tag": "v2", "deleted_classes": ["A"]})
    spec = WorkerSpec(main_module="w.js", migrations=steps)
    assert deploy_metadata(spec, "J")["migrations"] == {
        "new_tag": "v2",
        "steps": [{"new_classes": ["A"]}, {"deleted_classes": ["A"]}],
    }
    assert deploy_metadata(spec, "J", "v1")["migrations"] == {
        "old_tag": "v1",
        "new_tag": "v2",
        "steps": [{"deleted_classes": ["A"]}],
    }
    assert "migrations" not in deploy_metadata(spec, "J", "v2")  # up to date
    assert "migrations" not in deploy_metadata(WorkerSpec(migrations=steps), "J")  # no Worker, no classes


def test_a_run_worker_first_list_the_platform_cannot_route_by_is_refused_before_any_upload() -> None:
    from assetsync.wire.plan import check_spec

    check_spec(WorkerSpec(assets=AssetsConfig(run_worker_first=("/api/*", "!/api/docs/*"))), ())
    with pytest.raises(UsageError) as info:
        check_spec(WorkerSpec(assets=AssetsConfig(run_worker_first=("!/assets/*",))), ())
    assert "Only negative `run_worker_first` rules were provided" in str(info.value)
    assert "!/path/* (the assets first)" in str(info.value)
