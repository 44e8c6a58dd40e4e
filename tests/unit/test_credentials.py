"""Where a run goes, decided without I/O: credentials as wrangler reads them, CI, the API base
URL; and what is checked before the first byte is sent (compatibility date, binding names, main)."""

from __future__ import annotations

import pytest

from assetsync.errors import AuthError, ConfigError, UsageError
from assetsync.local import resolve_target
from assetsync.protocol import WorkerSpec, is_binding_name, version_id_of
from assetsync.wire.plan import check_compatibility_date, check_main_module, check_spec
from assetsync.wire.target import api_target, check_api_base, credential, in_ci

ACCOUNT = "0123456789abcdef0123456789abcdef"
SECRET = "tok-3f9a-RECOGNISABLE"


@pytest.mark.parametrize(
    ("value", "ci"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        (" TRUE ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("", False),
        ("  ", False),
        (None, False),
    ],
)
def test_ci_is_the_ci_variable_set_to_anything_but_false_or_0(value: str | None, ci: bool) -> None:
    assert in_ci({} if value is None else {"CI": value}) is ci


def test_a_credential_is_trimmed_and_an_empty_one_is_unset() -> None:
    assert credential(f"  {SECRET}\n", "CLOUDFLARE_API_TOKEN") == SECRET  # `echo $T > file`
    assert credential(" \n", "CLOUDFLARE_API_TOKEN") is None
    assert credential(None, "CLOUDFLARE_API_TOKEN") is None


@pytest.mark.parametrize(
    ("inside", "what"),
    [
        ("\n", "a line break"),
        (" ", "a space"),
        ("\t", "a tab"),
        ("\x00", "the control character U+0000"),
        ("\u2026", "the character U+2026, which an HTTP header cannot carry"),
    ],
)
def test_a_credential_with_anything_else_inside_is_refused_without_showing_it(inside: str, what: str) -> None:
    with pytest.raises(UsageError) as info:
        credential(f"tok-3f9a{inside}RECOGNISABLE\n", "CLOUDFLARE_API_TOKEN")
    assert str(info.value) == (
        f"CLOUDFLARE_API_TOKEN holds {what} at character 9 of 21 (white space around it is trimmed; "
        "inside, a credential has none). Set it again to exactly the value Cloudflare gave you (the "
        "value is not shown here)."
    )
    assert "3f9a" not in str(info.value) and "RECOGNISABLE" not in str(info.value)


def test_the_global_key_and_email_come_first_as_in_wrangler() -> None:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": f" {ACCOUNT}\n",
        "CLOUDFLARE_API_TOKEN": "a-token",
        "CLOUDFLARE_API_KEY": "a-key",
        "CLOUDFLARE_EMAIL": "me@example.com",
    }
    target = api_target(env=env)
    assert target is not None
    assert (target.account_id, target.token, target.email) == (ACCOUNT, "a-key", "me@example.com")
    token_only = api_target(env={**env, "CLOUDFLARE_EMAIL": ""})  # half a key: the token is used
    assert token_only is not None and (token_only.token, token_only.email) == ("a-token", None)
    assert "a-key" not in repr(target) and "me@example.com" not in repr(target)


def test_half_a_global_key_without_a_token_names_what_is_missing() -> None:
    env = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_KEY": "a-key", "CLOUDFLARE_API_TOKEN": ""}
    with pytest.raises(UsageError, match="CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not"):
        api_target(env=env)


def test_empty_variables_are_no_credentials_and_in_ci_that_is_an_auth_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = {
        "CLOUDFLARE_ACCOUNT_ID": "",
        "CLOUDFLARE_API_TOKEN": "",
        "CLOUDFLARE_API_KEY": "",
        "CLOUDFLARE_EMAIL": "",
        "CLOUDFLARE_API_BASE_URL": "",
    }
    assert api_target(env=empty) is None
    with pytest.raises(AuthError, match="CI is set, but no credentials are") as info:
        resolve_target(local_data=str(tmp_path / "data"), env={**empty, "CI": "true"})
    assert info.value.exit_code == 6
    assert not (tmp_path / "data").exists()  # nothing was set up for a local publish
    assert resolve_target(
        local_data=str(tmp_path / "data"), env={**empty, "CI": "true"}, local=True
    ).kind == ("emulator")
    assert resolve_target(local_data=str(tmp_path / "d2"), env={**empty, "CI": "false"}).kind == "emulator"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "127.0.0.1:8787/client/v4",
            "the API base URL '127.0.0.1:8787/client/v4' (--api-base / CLOUDFLARE_API_BASE_URL) is not an "
            "http:// or https:// URL: write it whole, as in http://127.0.0.1:8787/client/v4. Cloudflare's "
            "is https://api.cloudflare.com/client/v4.",
        ),
        (
            "localhost:8787/client/v4",
            "the API base URL 'localhost:8787/client/v4' (--api-base / CLOUDFLARE_API_BASE_URL) is not an "
            "http:// or https:// URL: write it whole, as in http://localhost:8787/client/v4. Cloudflare's "
            "is https://api.cloudflare.com/client/v4.",
        ),
        (
            "ftp://127.0.0.1/client/v4",
            "the API base URL 'ftp://127.0.0.1/client/v4' (--api-base / CLOUDFLARE_API_BASE_URL) is not an "
            "http:// or https:// URL. Cloudflare's is https://api.cloudflare.com/client/v4.",
        ),
        (
            "http://127.0.0.1:99999/client/v4",
            "the API base URL 'http://127.0.0.1:99999/client/v4' (--api-base / CLOUDFLARE_API_BASE_URL) has "
            "no valid host and port.",
        ),
        (
            "https://me:pa55word@api.example/client/v4",
            "the API base URL (not shown: it holds an '@') (--api-base / CLOUDFLARE_API_BASE_URL) holds a "
            "user name or password: credentials go in CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with "
            "CLOUDFLARE_EMAIL), never in the URL.",
        ),
    ],
    ids=["no-scheme-ip", "no-scheme-host", "ftp", "bad-port", "password"],
)
def test_the_api_base_must_be_an_http_url(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        check_api_base(url)
    assert str(info.value) == message
    assert check_api_base("http://127.0.0.1:8787/client/v4") == "http://127.0.0.1:8787/client/v4"


def test_a_compatibility_date_is_a_real_day_not_after_today_in_utc() -> None:
    today = "2026-03-01"
    assert check_compatibility_date(today, "--compatibility-date", today=today) == today
    assert check_compatibility_date("2024-02-29", "--compatibility-date", today=today) == "2024-02-29"
    with pytest.raises(UsageError) as info:
        check_compatibility_date("2026-03-02", "--compatibility-date", today=today)  # tomorrow
    assert str(info.value) == (
        "--compatibility-date is '2026-03-02', which is after today (2026-03-01 in UTC, the day the API "
        "goes by): the API refuses a compatibility date in the future. Use 2026-03-01 or an earlier date."
    )
    for bad in ("2024-13-45", "2023-02-29", "2024-1-5", "24-01-05", "2024-01-05T00:00"):
        with pytest.raises(ConfigError) as info_config:
            check_compatibility_date(bad, "wrangler.toml: compatibility_date", ConfigError, today=today)
        assert str(info_config.value) == (
            f"wrangler.toml: compatibility_date is {bad!r}, which is not a real date in YYYY-MM-DD form. "
            "Write a day that exists, such as 2026-03-01 (today, in UTC)."
        )


@pytest.mark.parametrize("name", ["ASSETS", "my_assets", "_x", "$a1", "A"])
def test_binding_names_that_are_identifiers(name: str) -> None:
    assert is_binding_name(name)


@pytest.mark.parametrize("name", ["", "1ASSETS", "MY-ASSETS", "my assets", "ASSETS\n", "ÄSSETS"])
def test_binding_names_that_are_not(name: str) -> None:
    assert not is_binding_name(name)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("src/index.ts", "TypeScript"),
        ("a.TSX", "TSX"),
        ("a.jsx", "JSX"),
        ("a.mts", "TypeScript"),
        ("a.cts", "TypeScript"),
    ],
)
def test_a_main_that_needs_building_says_assetsync_does_not_bundle(path: str, kind: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_main_module(path, "--main")
    assert str(info.value).startswith(f"--main {path} is {kind}, and assetsync does not bundle or compile")
    assert "wrangler deploy --dry-run --outdir dist" in str(info.value)


def test_a_main_is_a_js_or_mjs_module() -> None:
    assert check_main_module("dist/index.mjs", "--main") == "dist/index.mjs"
    with pytest.raises(ConfigError, match=r"--main worker.cjs is not a \.js or \.mjs file"):
        check_main_module("worker.cjs", "--main")


def test_a_spec_the_deploy_would_refuse_is_refused_first() -> None:
    with pytest.raises(UsageError, match="the assets binding is 'MY-ASSETS'"):
        check_spec(WorkerSpec(assets_binding="MY-ASSETS"), ())
    with pytest.raises(UsageError, match="the compatibility date is '2024-13-45'"):
        check_spec(WorkerSpec(compatibility_date="2024-13-45"), ())
    with pytest.raises(
        UsageError, match=r"the main module 'index.js' is not among the modules to upload \(none\)"
    ):
        check_spec(WorkerSpec(main_module="index.js"), ())


def test_the_version_id_is_read_from_the_deploy_answer_as_wrangler_reads_it() -> None:
    # The API's answer (traces/wrangler-4.164-assets-only): one id, `deployment_id`, which is the
    # new version's, without hyphens; wrangler shows it as "Current Version ID" in UUID form.
    answer = {"id": "site", "deployment_id": "3205f52cf43c40d9869fd8de93e040bb"}
    assert version_id_of(answer) == "3205f52c-f43c-40d9-869f-d8de93e040bb"
    assert version_id_of({**answer, "version_id": "v-1"}) == "v-1"
    assert version_id_of({"deployment_id": "0f1e2d3c-0000-4000-8000-000000000000"}) == (
        "0f1e2d3c-0000-4000-8000-000000000000"
    )
    assert version_id_of({"deployment_id": "not-an-id"}) == "not-an-id"
    assert version_id_of({"deployment_id": "zz"}) is None
    assert version_id_of({"id": "site"}) is None


def test_an_http_librarys_error_that_quotes_a_credential_is_shown_without_it() -> None:
    """Defence in depth: a credential is checked before it goes into a header, but should the
    HTTP library's error quote one anyway, the message assetsync shows has it cut out."""
    import asyncio

    import httpx

    from assetsync.errors import NetworkError
    from assetsync.wire.client import ApiClient

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value {request.headers['authorization']!r}")

    async def open_session() -> None:
        async with ApiClient(
            "http://127.0.0.1:9/client/v4", SECRET, ACCOUNT, transport=httpx.MockTransport(refuse)
        ) as c:
            await c.open_session("site", None, "{}")

    with pytest.raises(NetworkError) as info:
        asyncio.run(open_session())
    assert SECRET not in str(info.value) and "Illegal header value 'Bearer <credential>'" in str(info.value)
