"""Reading wrangler configs: discovery (order, parent folders), every field, path resolution, errors,
the JSONC stripper. Environments, bindings, vars and warnings: test_environments.py."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from assetsync.errors import ConfigError
from assetsync.project.jsonc import JsoncError, strip_jsonc
from assetsync.project.wrangler import CONFIG_FILE_NAMES, ProjectConfig, find_config, load_config

from ..helpers import FIXTURES, make_tree

CONFIGS = FIXTURES / "config"


def fixture(name: str) -> str:
    return str(CONFIGS / name)


# --------------------------------------------------------------------------------------------------
# Discovery


def test_wrangler_order_is_json_then_jsonc_then_toml() -> None:
    # cloudflare/workers-sdk findWranglerConfig: wrangler.json ?? wrangler.jsonc ?? wrangler.toml
    assert CONFIG_FILE_NAMES == ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("toml", "toml/wrangler.toml"),
        ("json", "json/wrangler.json"),
        ("jsonc", "jsonc/wrangler.jsonc"),
        ("precedence", "precedence/wrangler.json"),
        ("precedence-jsonc-toml", "precedence-jsonc-toml/wrangler.jsonc"),
        ("empty-folder", None),
        ("parent/child", "parent/wrangler.toml"),  # found in the parent, as wrangler finds it
        ("does-not-exist", None),
    ],
)
def test_find_config(folder: str, expected: str | None) -> None:
    found = find_config(fixture(folder))
    assert found == (None if expected is None else fixture(expected))
    if found is not None:
        assert os.path.isabs(found)


def test_find_config_in_one_folder_only_does_not_look_up() -> None:
    assert find_config(fixture("parent/child"), upward=False) is None
    assert find_config(fixture("parent"), upward=False) == fixture("parent/wrangler.toml")


def test_each_name_is_looked_for_all_the_way_up_before_the_next(tmp_path: Path) -> None:
    # wrangler's findWranglerConfig: find-up wrangler.json, then wrangler.jsonc, then wrangler.toml.
    child = tmp_path / "a" / "b"
    child.mkdir(parents=True)
    (child / "wrangler.toml").write_text('name = "near"\n')
    (tmp_path / "a" / "wrangler.jsonc").write_text('{"name": "middle"}')
    (tmp_path / "wrangler.json").write_text('{"name": "far"}')
    assert find_config(str(child)) == str(tmp_path / "wrangler.json")
    (tmp_path / "wrangler.json").unlink()
    assert find_config(str(child)) == str(tmp_path / "a" / "wrangler.jsonc")
    (tmp_path / "a" / "wrangler.jsonc").unlink()
    assert find_config(str(child)) == str(child / "wrangler.toml")


def test_a_parents_config_means_the_same_from_a_subfolder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture("parent/child"))
    config = load_config()
    assert config.path == fixture("parent/wrangler.toml")
    assert config.main == fixture("parent/worker/index.js")  # the config's folder, not the current one
    assert config.assets_directory == fixture("parent/public")


def test_a_build_tools_deploy_redirect_is_named_not_followed(tmp_path: Path) -> None:
    # Cloudflare's Vite plugin leaves .wrangler/deploy/config.json pointing at its output's config,
    # which `wrangler deploy` follows; assetsync reads the project's own config and says so.
    (tmp_path / "wrangler.jsonc").write_text('{"name": "app"}')
    redirect = make_tree(
        tmp_path, {".wrangler/deploy/config.json": '{"configPath": "../../dist/app/wrangler.json"}'}
    )
    sub = tmp_path / "src"
    sub.mkdir()
    config = load_config(search=str(sub))
    assert config.name == "app"
    assert config.warnings == (
        f"{redirect / '.wrangler/deploy/config.json'} redirects wrangler deploy to a build's config; "
        f"assetsync does not follow it and reads {tmp_path / 'wrangler.jsonc'}: pass --config with the built "
        "wrangler.json to deploy that",
    )
    assert load_config(str(tmp_path / "wrangler.jsonc")).warnings == ()  # an explicit path: no search


def test_find_config_returns_absolute_path_for_relative_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFIGS)
    assert find_config("toml") == fixture("toml/wrangler.toml")


def test_find_config_skips_a_folder_named_like_a_config(tmp_path: Path) -> None:
    (tmp_path / "wrangler.json").mkdir()
    (tmp_path / "wrangler.toml").write_text('name = "real"\n')
    assert find_config(str(tmp_path)) == str(tmp_path / "wrangler.toml")


@pytest.mark.parametrize(
    ("folder", "name"),
    [("precedence", "from-json"), ("precedence-jsonc-toml", "from-jsonc")],
)
def test_precedence_decides_which_file_is_read(folder: str, name: str) -> None:
    assert load_config(search=fixture(folder)).name == name


def test_explicit_path_beats_the_search() -> None:
    config = load_config(fixture("precedence/wrangler.toml"), search=fixture("json"))
    assert config.name == "from-toml"
    assert config.path == fixture("precedence/wrangler.toml")


def test_search_defaults_to_the_current_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture("minimal"))
    assert load_config().name == "minimal"


@pytest.mark.parametrize("folder", ["empty-folder", "parent/child", "does-not-exist"])
def test_no_config_gives_an_empty_project_config(folder: str) -> None:
    config = load_config(search=fixture(folder), upward=False)
    assert config == ProjectConfig()
    assert config.path is None
    assert config.compatibility_flags == ()
    assert dict(config.vars) == {} and dict(config.json_vars) == {}


# --------------------------------------------------------------------------------------------------
# Every field, from each format

TOML = "toml/wrangler.toml"
JSON = "json/wrangler.json"
JSONC = "jsonc/wrangler.jsonc"
MINIMAL = "minimal/wrangler.toml"

FIELD_CASES: list[tuple[str, str, Any]] = [
    # toml: [assets], [vars] with non-string values, unknown keys and [env.*] sections
    (TOML, "path", fixture(TOML)),
    (TOML, "name", "shop-front"),
    (TOML, "main", fixture("toml/src/index.ts")),
    (TOML, "compatibility_date", "2024-09-23"),
    (TOML, "compatibility_flags", ("nodejs_compat", "global_fetch_strictly_public")),
    (TOML, "assets_directory", fixture("toml/dist/client")),
    (TOML, "assets_binding", "ASSETS"),
    (TOML, "html_handling", "drop-trailing-slash"),
    (TOML, "not_found_handling", "single-page-application"),
    (TOML, "run_worker_first", ("/api/*", "!/api/docs/*")),
    (TOML, "vars", {"API_URL": "https://api.example.com", "GREETING": "hello # not a comment"}),
    (TOML, "json_vars", {"DEBUG": "true", "RETRIES": "3", "LIMITS": '{"burst":10,"names":["a","b"]}'}),
    (TOML, "bindings", ({"type": "kv_namespace", "name": "CACHE", "namespace_id": "0123456789abcdef"},)),
    (
        TOML,
        "warnings",
        (
            f"{fixture(TOML)}: workers_dev is not used by assetsync "
            "(assetsync does not change the workers.dev setting)",
        ),
    ),
    (TOML, "env", None),
    (TOML, "declared_name", "shop-front"),
    (TOML, "keep_vars", False),
    # json: comments and trailing commas accepted; a directory outside the project folder
    (JSON, "path", fixture(JSON)),
    (JSON, "name", "docs-site"),
    (JSON, "main", None),
    (JSON, "compatibility_date", "2025-01-15"),
    (JSON, "compatibility_flags", ()),
    (JSON, "assets_directory", fixture("build/html")),
    (JSON, "assets_binding", None),
    (JSON, "html_handling", "auto-trailing-slash"),
    (JSON, "not_found_handling", "404-page"),
    (JSON, "run_worker_first", True),
    (JSON, "vars", {"SITE": "docs"}),
    (JSON, "json_vars", {"EMPTY": "null"}),
    # jsonc: comment-like text inside strings, escapes, CRLF, trailing commas everywhere
    (JSONC, "path", fixture(JSONC)),
    (JSONC, "name", "tricky-worker"),
    (JSONC, "main", fixture("jsonc/worker/index.js")),
    (JSONC, "compatibility_date", "2024-02-29"),
    (JSONC, "compatibility_flags", ("nodejs_compat",)),
    (JSONC, "assets_directory", fixture("jsonc/static")),
    (JSONC, "assets_binding", "STATIC"),
    (JSONC, "html_handling", None),
    (JSONC, "not_found_handling", None),
    (JSONC, "run_worker_first", ("/api/*", "!/api/*/docs")),
    (
        JSONC,
        "vars",
        {
            "URL": "https://example.com//path",
            "BLOCK": "/* not a comment */",
            "CLOSE": "*/",
            "QUOTE": 'say "hi" // still inside the string',
            "BACKSLASH": "C:\\dir\\",
            "COMMA_BRACKET": ",]",
            "COMMA_BRACE": ",}",
            "UNICODE": "caf\u00e9 \U0001f600 //",
        },
    ),
    (JSONC, "json_vars", {"NESTED": '{"list":[1,2,3],"flag":false}'}),
    # a file that sets almost nothing
    (MINIMAL, "name", "minimal"),
    (MINIMAL, "main", None),
    (MINIMAL, "compatibility_date", None),
    (MINIMAL, "compatibility_flags", ()),
    (MINIMAL, "assets_directory", None),
    (MINIMAL, "run_worker_first", None),
    (MINIMAL, "vars", {}),
    (MINIMAL, "bindings", ()),
    (MINIMAL, "warnings", ()),
    (MINIMAL, "keep_vars", False),
    (MINIMAL, "migrations", ()),
    (MINIMAL, "crons", None),
    (TOML, "bindings", ({"name": "CACHE", "type": "kv_namespace", "namespace_id": "0123456789abcdef"},)),
]


@pytest.mark.parametrize(("config_file", "field", "expected"), FIELD_CASES)
def test_field(config_file: str, field: str, expected: Any) -> None:
    value = getattr(load_config(fixture(config_file)), field)
    if field in ("vars", "json_vars"):
        assert dict(value) == expected
        assert list(value) == list(expected)  # the file's order is kept
    else:
        assert value == expected
        assert type(value) is type(expected)


def test_every_field_is_covered() -> None:
    covered = {field for _, field, _ in FIELD_CASES}
    assert covered == {f.name for f in dataclasses.fields(ProjectConfig)}


def test_env_sections_not_asked_for_are_neither_applied_nor_validated() -> None:
    # [env.staging] sets another name, vars, directory and an invalid html_handling.
    config = load_config(fixture(TOML))
    assert config.name == "shop-front"
    assert config.vars["API_URL"] == "https://api.example.com"
    assert config.html_handling == "drop-trailing-slash"
    with pytest.raises(ConfigError, match=r"line 32: env\.staging\.assets\.html_handling"):
        load_config(fixture(TOML), env="staging")


def test_project_config_is_frozen() -> None:
    config = load_config(fixture(TOML))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.vars["NEW"] = "x"  # type: ignore[index]


def test_json_vars_decode_to_what_wrangler_uploads() -> None:
    # wrangler: a string var is a plain_text binding, anything else a json binding of that value.
    config = load_config(fixture(TOML))
    decoded = {name: json.loads(text) for name, text in config.json_vars.items()}
    assert decoded == {"DEBUG": True, "RETRIES": 3, "LIMITS": {"burst": 10, "names": ["a", "b"]}}
    assert not set(config.vars) & set(config.json_vars)


# --------------------------------------------------------------------------------------------------
# Paths are resolved against the config file's folder, not the current folder


@pytest.mark.parametrize(
    ("main", "directory", "want_main", "want_directory"),
    [
        ("src/index.js", "public", "proj/src/index.js", "proj/public"),
        ("./src/../worker.js", "./dist/", "proj/worker.js", "proj/dist"),
        ("../shared/worker.js", "../site", "shared/worker.js", "site"),
    ],
)
def test_paths_resolve_against_the_config_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    main: str,
    directory: str,
    want_main: str,
    want_directory: str,
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "wrangler.toml").write_text(f'main = "{main}"\n[assets]\ndirectory = "{directory}"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for config in (
        load_config(search=str(project)),
        load_config(os.path.join("..", "proj", "wrangler.toml")),  # a relative explicit path
    ):
        assert config.path == str(project / "wrangler.toml")
        assert config.main == str(tmp_path / want_main)
        assert config.assets_directory == str(tmp_path / want_directory)


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "site"
    (tmp_path / "wrangler.json").write_text(json.dumps({"assets": {"directory": str(target)}}))
    assert load_config(search=str(tmp_path)).assets_directory == str(target)


# --------------------------------------------------------------------------------------------------
# Syntax errors: the message names the file, the line and column, and says to fix the syntax


@pytest.mark.parametrize(
    ("config_file", "parts"),
    [
        (
            "malformed-toml/wrangler.toml",
            ["wrangler.toml, line 6, column 37", "not valid TOML", "Fix the syntax"],
        ),
        (
            "malformed-json/wrangler.json",
            [
                "wrangler.json, line 4, column 3",
                "not valid JSON",
                "Expecting ',' delimiter",
                "Fix the syntax",
            ],
        ),
        (
            "malformed-jsonc/wrangler.jsonc",
            ["wrangler.jsonc, line 3, column 3", "unterminated /* comment", "close the comment with */"],
        ),
    ],
)
def test_syntax_errors(config_file: str, parts: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(fixture(config_file))
    message = str(info.value)
    assert message.startswith(fixture(config_file))
    for part in parts:
        assert part in message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("name", "content", "parts"),
    [
        (
            "wrangler.toml",
            'name = "x"\ndesc = """\nnever closed\n',
            ["at the end of the file", "not valid TOML"],
        ),
        (
            "wrangler.toml",
            'name = "x"\n[assets\n',
            ["line 2, column 8", "not valid TOML", "table declaration"],
        ),
        ("wrangler.json", "", ["line 1, column 1", "not valid JSON"]),
        ("wrangler.jsonc", '{\n  // fine\n  "name": "x",,\n}\n', ["line 3, column 15", "not valid JSON"]),
        ("wrangler.json", '{"a": [1,]\n, "b": [,]}', ["line 2, column 9", "not valid JSON"]),
        ("wrangler.json", '{"a": NaN}', ["NaN is not a JSON value"]),
        ("wrangler.json", '["name", "x"]', ["the top level is an array", "a wrangler config is an object"]),
    ],
)
def test_more_syntax_errors(tmp_path: Path, name: str, content: str, parts: list[str]) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert message.startswith(str(path))
    for part in parts:
        assert part in message


# --------------------------------------------------------------------------------------------------
# Values of the wrong type or out of range: file, line, key, and what to write instead

VALUE_CASES: list[tuple[str, str, list[str]]] = [
    ("wrangler.toml", "name = 3\n", ["line 1:", "name is the number 3", "must be a string"]),
    ("wrangler.json", '{\n  "name": ["a"]\n}', ["line 2:", "name is an array", "must be a string"]),
    ("wrangler.toml", 'name = "ok"\nmain = ""\n', ["line 2:", "main is empty"]),
    ("wrangler.toml", 'compatibility_date = "2024-9-1"\n', ["line 1:", "compatibility_date", "YYYY-MM-DD"]),
    (
        "wrangler.toml",
        'compatibility_date = "2024-02-30"\n',
        ["line 1:", "not a real date in YYYY-MM-DD form"],
    ),
    (
        "wrangler.json",
        '{"compatibility_date": "2024\u201309\u201323"}',
        ["line 1:", "en or em dash", "hyphens"],
    ),
    (
        "wrangler.toml",
        "\ncompatibility_date = 2024-09-23\n",
        ["line 2:", "unquoted TOML date", 'compatibility_date = "2024-09-23"'],
    ),
    (
        "wrangler.toml",
        'compatibility_flags = "nodejs_compat"\n',
        ["line 1:", "compatibility_flags is the string", 'e.g. ["nodejs_compat"]'],
    ),
    (
        "wrangler.json",
        '{\n "compatibility_flags": [\n  "a",\n  7\n ]\n}',
        ["line 4:", "compatibility_flags[1] is the number 7", "every entry must be a string"],
    ),
    (
        "wrangler.toml",
        'compatibility_flags = [\n  "a",\n  false,\n]\n',
        ["line 1:", "compatibility_flags[1] is the boolean false"],
    ),
    (
        "wrangler.toml",
        'assets = "./public"\n',
        ["line 1:", "assets is the string", "must be a table", "[assets]"],
    ),
    (
        "wrangler.json",
        '{"name": "x",\n"assets": ["./public"]}',
        ["line 2:", "must be an object", '"assets": {'],
    ),
    ("wrangler.toml", '[assets]\ndirectory = ""\n', ["line 2:", "assets.directory is empty"]),
    ("wrangler.toml", "[assets]\ndirectory = 1\n", ["line 2:", "assets.directory is the number 1"]),
    (
        "wrangler.toml",
        'assets = { directory = "d", binding = 5 }\n',
        ["line 1:", "assets.binding is the number 5"],
    ),
    (
        "wrangler.toml",
        '[assets]\ndirectory = "d"\nhtml_handling = "trailing-slash"\n',
        ["line 3:", 'assets.html_handling is the string "trailing-slash"', '"auto-trailing-slash"', '"none"'],
    ),
    (
        "wrangler.toml",
        'assets.directory = "d"\nassets.not_found_handling = "spa"\n',
        ["line 2:", "assets.not_found_handling", '"single-page-application"', '"404-page"'],
    ),
    (
        "wrangler.jsonc",
        '{\n  "assets": {\n    // comment\n    "run_worker_first": "yes",\n  },\n}',
        ["line 4:", "assets.run_worker_first is the string", "true, false or an array"],
    ),
    (
        "wrangler.json",
        '{"assets": {"run_worker_first": [\n"/api/*",\n{"a": 1}\n]}}',
        ["line 3:", "assets.run_worker_first[1] is an object", "every entry must be a string"],
    ),
    (
        "wrangler.jsonc",
        '{\n  "assets": {\n    "run_worker_first": ["/api/*", "/api/docs", "!assets"],\n  },\n}',
        [
            "line 3:",
            "assets.run_worker_first cannot route requests",
            "'!assets': negative rules must start with '!/'",
            "'/api/docs': rule '/api/*' makes it redundant",
            "!/path/* (the assets first)",
        ],
    ),
    (
        "wrangler.toml",
        'vars = "A=1"\n',
        ["line 1:", "vars is the string", "must be a table of names to values"],
    ),
    (
        "wrangler.toml",
        "[vars]\nOK = 1\nWHEN = 1979-05-27T07:32:00Z\n",
        ["line 3:", "vars.WHEN is an unquoted TOML date/time", "Put it in quotes"],
    ),
    ("wrangler.toml", "[vars]\nX = [1, nan]\n", ["line 2:", "vars.X[1] is nan", "JSON cannot represent"]),
    ("wrangler.toml", '[vars]\n"A.B" = { c = inf }\n', ["line 2:", 'vars."A.B".c is inf']),
    (
        "wrangler.toml",
        'triggers = "0 3 * * *"\n',
        ["line 1:", "triggers is the string", "must be a table", "crons = "],
    ),
    (
        "wrangler.json",
        '{"triggers": {"crons": "0 3 * * *"}}',
        ["line 1:", "triggers.crons is the string", "must be an array of strings", '"triggers": {"crons"'],
    ),
    ("wrangler.toml", "[triggers]\ncrons = [5]\n", ["line 2:", "triggers.crons[0] is the number 5"]),
    (
        "wrangler.toml",
        '[triggers]\ncrons = [\n  "0 3 * * *",\n  "*/5 * * *",\n]\n',
        ["line 2:", "triggers.crons[1] ('*/5 * * *') has 4 fields, not 5", '"0 3 * * *" (03:00 UTC daily)'],
    ),
]


@pytest.mark.parametrize(("name", "content", "parts"), VALUE_CASES)
def test_invalid_values(tmp_path: Path, name: str, content: str, parts: list[str]) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}, line ") or message.startswith(f"{path}:")
    for part in parts:
        assert part in message, message


def test_triggers_crons_are_read_and_inherited_by_environments(tmp_path: Path) -> None:
    """wrangler deploy sets them after the deploy; absent, the script keeps its own; [] removes them."""
    path = tmp_path / "wrangler.toml"
    path.write_text(
        'name = "w"\n[triggers]\ncrons = ["0 3 * * *", "*/5 * * * *"]\n'
        "[env.staging]\n[env.quiet.triggers]\ncrons = []\n"
    )
    top = load_config(str(path))
    assert top.crons == ("0 3 * * *", "*/5 * * * *") and not top.warnings
    assert load_config(str(path), env="staging").crons == ("0 3 * * *", "*/5 * * * *")
    assert load_config(str(path), env="quiet").crons == ()
    path.write_text('name = "w"\n[triggers]\n')
    assert load_config(str(path)).crons is None


def test_keys_after_array_tables_are_located(tmp_path: Path) -> None:
    # [[routes]] tables repeat keys; the tables after them are still tracked.
    path = tmp_path / "wrangler.toml"
    path.write_text("[[routes]]\npattern = 'x'\n[vars]\nA = 1\n")
    assert dict(load_config(str(path)).json_vars) == {"A": "1"}
    path.write_text('[[routes]]\npattern = "x"\n[assets]\nhtml_handling = "bad"\n')
    with pytest.raises(ConfigError, match=r"line 4: assets\.html_handling"):
        load_config(str(path))


# --------------------------------------------------------------------------------------------------
# Files that cannot be read


def test_missing_explicit_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "wrangler.toml"
    with pytest.raises(ConfigError) as info:
        load_config(str(missing))
    assert str(info.value) == f"{missing}: no such file. Check the path of the wrangler config."


def test_explicit_path_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "wrangler.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_config(str(folder))


def test_explicit_path_with_an_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "wrangler.yaml"
    path.write_text("name: x\n")
    with pytest.raises(ConfigError, match=r"wrangler\.yaml: not a wrangler configuration file name.*\.jsonc"):
        load_config(str(path))


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "wrangler.json"
    path.write_bytes(b'\xef\xbb\xbf{"name": "bom"}')
    assert load_config(str(path)).name == "bom"


@pytest.mark.parametrize(
    ("data", "parts"),
    [
        ('name = "x"'.encode("utf-16"), ["encoded as UTF-16 LE", "Save it as UTF-8"]),
        (b'name = "x"\nmain = "\xff"\n', ["line 2: not valid UTF-8", "Save the file as UTF-8"]),
    ],
)
def test_bad_encodings(tmp_path: Path, data: bytes, parts: list[str]) -> None:
    path = tmp_path / "wrangler.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    for part in parts:
        assert part in str(info.value)


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "wrangler.toml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value).startswith(f"cannot read {path}: ")
    assert str(info.value).endswith("Check the path and its permissions.")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv: apt-get install util-linux")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "wrangler.toml"
    path.write_text('name = "x"\n')
    path.chmod(0)
    code = f"from assetsync.project.wrangler import load_config; load_config({str(path)!r})"
    # Root reads anything: drop the capabilities that let it, as an ordinary user would lack them.
    proc = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ConfigError" in proc.stderr
    assert re.search(r"cannot read .*Check the path and its permissions", proc.stderr), proc.stderr


# --------------------------------------------------------------------------------------------------
# The JSONC stripper


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, // c\n"b": 2}', {"a": 1, "b": 2}),
        ('{"a": /* c */ 1}', {"a": 1}),
        ('{"url": "http://x//y"}', {"url": "http://x//y"}),
        ('{"s": "/* x */"}', {"s": "/* x */"}),
        ('{"s": "a\\"//b"}', {"s": 'a"//b'}),
        ('{"s": "\\\\", /* after a backslash */ "t": 1}', {"s": "\\", "t": 1}),
        ('{"s": ",]", "t": ",}",}', {"s": ",]", "t": ",}"}),
        ("[1, 2, /* c */ ]", [1, 2]),
        ("[[1,],{},]", [[1], {}]),
        ('{"a": [1 , // c\n ] , }', {"a": [1]}),
        ("// only a comment\n{}", {}),
        ("{} // end without newline", {}),
        ("/**/[/***/1/*/ */]", [1]),
    ],
)
def test_strip_jsonc_examples(text: str, expected: Any) -> None:
    stripped = strip_jsonc(text)
    assert len(stripped) == len(text)
    assert json.loads(stripped) == expected


@pytest.mark.parametrize("text", ["[,]", "{,}", "[1,,]", '{"a": 1,,}'])
def test_strip_jsonc_leaves_commas_that_are_not_trailing(text: str) -> None:
    # Only a comma after a value is trailing; the others stay, for json (and wrangler) to reject.
    assert strip_jsonc(text) == text
    with pytest.raises(json.JSONDecodeError):
        json.loads(strip_jsonc(text))


def test_strip_jsonc_keeps_line_breaks_inside_block_comments() -> None:
    text = '{\r\n/* one\r\ntwo\nthree */ "a": 1}'
    stripped = strip_jsonc(text)
    assert [i for i, c in enumerate(stripped) if c in "\r\n"] == [
        i for i, c in enumerate(text) if c in "\r\n"
    ]


def test_strip_jsonc_unterminated_block_comment() -> None:
    with pytest.raises(JsoncError) as info:
        strip_jsonc('{"a": 1 /* open')
    assert info.value.pos == 8


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=25,
)
# Strings built mostly from the characters that matter to the scanner.
TRICKY_TEXT = st.text(
    alphabet=st.sampled_from(
        ['"', "\\", "/", "*", ",", "]", "}", "[", "{", ":", "\n", " ", "a", "\u2028", "é"]
    ),
    max_size=20,
)
TRICKY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(
    value=JSON_VALUES | TRICKY_VALUES,
    indent=st.sampled_from([None, 0, 2, "\t"]),
    ensure_ascii=st.booleans(),
)
def test_strip_jsonc_round_trips_plain_json(value: Any, indent: int | str | None, ensure_ascii: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    assert strip_jsonc(text) == text  # nothing in plain JSON is a comment or a trailing comma
    assert json.loads(strip_jsonc(text)) == value


COMMENTS = st.sampled_from(["", " ", "// c\n", "/* c */", "/* a\n// b */", "//\n", "/**/", "/*/ */"])


def render_jsonc(value: Any, comment: Callable[[], str], trailing: Callable[[], bool]) -> str:
    """Serialize ``value`` as JSONC, with comments between tokens and optional trailing commas."""
    if isinstance(value, list | dict):
        if isinstance(value, list):
            parts = [render_jsonc(item, comment, trailing) for item in value]
            opening, closing = "[", "]"
        else:
            parts = [
                json.dumps(key) + comment() + ":" + comment() + render_jsonc(item, comment, trailing)
                for key, item in value.items()
            ]
            opening, closing = "{", "}"
        body = "".join(part if n == 0 else "," + comment() + part for n, part in enumerate(parts))
        tail = "," + comment() if parts and trailing() else ""
        return opening + comment() + body + tail + closing + comment()
    return json.dumps(value) + comment()


@settings(max_examples=300)
@given(value=JSON_VALUES | TRICKY_VALUES, data=st.data())
def test_strip_jsonc_removes_comments_and_trailing_commas(value: Any, data: st.DataObject) -> None:
    text = render_jsonc(value, lambda: data.draw(COMMENTS), lambda: data.draw(st.booleans()))
    stripped = strip_jsonc(text)
    assert len(stripped) == len(text)
    assert stripped.count("\n") == text.count("\n")
    assert json.loads(stripped) == value
