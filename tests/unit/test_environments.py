"""wrangler's environments, vars, bindings and warnings, through the config reader and the settings
resolver: what `--env`, `--var`, `--keep-vars` and `--binding` make of a real config."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from assetsync.errors import ConfigError, UsageError
from assetsync.project.wrangler import load_config
from assetsync.settings import Settings, resolve_project

from ..helpers import make_tree

# A project as wrangler documents environments: settings at the top level, and two environments
# that repeat what they must (vars, bindings) and inherit the rest.
PROJECT_TOML = """\
name = "shop"
main = "worker/index.js"
compatibility_date = "2024-09-23"
compatibility_flags = ["nodejs_compat"]
keep_vars = true

[assets]
directory = "public"
not_found_handling = "404-page"

[vars]
API = "https://api.example.com"
DEBUG = true

[[kv_namespaces]]
binding = "CACHE"
id = "top-namespace"

[env.production]
compatibility_date = "2025-01-01"

[env.production.vars]
API = "https://api.prod.example.com"

[[env.production.kv_namespaces]]
binding = "CACHE"
id = "prod-namespace"

[env.staging]
name = "shop-preview"
"""

FILES = {"worker/index.js": "export default {}", "public/index.html": "<h1>hi</h1>"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "shop", FILES)
    (root / "wrangler.toml").write_text(PROJECT_TOML)
    return root


def config_at(tmp_path: Path, text: str, name: str = "wrangler.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --------------------------------------------------------------------------------------------------
# Which keys an environment inherits, and which it must repeat


def test_an_environment_inherits_what_it_does_not_set(project: Path) -> None:
    config = load_config(str(project / "wrangler.toml"), env="production")
    assert config.env == "production"
    assert config.compatibility_date == "2025-01-01"  # its own
    assert config.compatibility_flags == ("nodejs_compat",)  # inherited
    assert config.main == str(project / "worker" / "index.js")  # inherited, still from the config's folder
    assert config.assets_directory == str(project / "public")
    assert config.not_found_handling == "404-page"
    assert config.keep_vars  # a top-level-only key, whatever the environment


def test_vars_and_bindings_come_from_the_environment_only(project: Path) -> None:
    production = load_config(str(project / "wrangler.toml"), env="production")
    assert dict(production.vars) == {"API": "https://api.prod.example.com"}
    assert dict(production.json_vars) == {}  # DEBUG is the top level's: not inherited
    assert production.bindings == (
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "prod-namespace"},
    )
    staging = load_config(str(project / "wrangler.toml"), env="staging")
    assert (dict(staging.vars), dict(staging.json_vars), staging.bindings) == ({}, {}, ())
    path = str(project / "wrangler.toml")
    assert staging.warnings == tuple(
        f"{path}: {key} is set at the top level but not in env.staging, and environments do not "
        f"inherit it: env.staging deploys without it (repeat it there if it needs it)"
        for key in ("vars", "kv_namespaces")
    )
    assert production.warnings == ()  # it repeats both


@pytest.mark.parametrize(
    ("env", "name", "declared"),
    [
        (None, "shop", "shop"),
        ("production", "shop-production", "shop"),
        ("staging", "shop-preview", "shop-preview"),
    ],
)
def test_script_name_per_environment(project: Path, env: str | None, name: str, declared: str) -> None:
    # wrangler: an environment's own name as it is, else the top level's followed by -<env>.
    config = load_config(str(project / "wrangler.toml"), env=env)
    assert (config.name, config.declared_name) == (name, declared)
    project_settings = resolve_project(Settings(config_path=str(project / "wrangler.toml"), env=env))
    assert project_settings.options.script == name
    # --name beats the config's name, environment or not (wrangler's getScriptName).
    named = resolve_project(Settings(config_path=str(project / "wrangler.toml"), env=env, name="given"))
    assert named.options.script == "given"


def test_no_name_anywhere_gives_no_name(tmp_path: Path) -> None:
    path = config_at(tmp_path, '[env.production]\nmain = "w.js"\n')
    assert load_config(path, env="production").name is None


def test_null_in_an_environment_inherits_an_inheritable_key_and_empties_the_others(tmp_path: Path) -> None:
    # wrangler: `rawEnv[field] ?? topLevel[field]` for inheritable keys, `rawEnv[field] ?? default` else.
    text = '{"name": "n", "compatibility_date": "2024-01-01", "vars": {"A": "1"}, "env": {"e": '
    path = config_at(tmp_path, text + '{"compatibility_date": null, "vars": null}}}', "wrangler.json")
    config = load_config(path, env="e")
    assert (config.compatibility_date, dict(config.vars), config.warnings) == ("2024-01-01", {}, ())


def test_an_unknown_environment_names_those_that_exist(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(project / "wrangler.toml"), env="prod")
    message = str(info.value)
    assert message.startswith(f'{project / "wrangler.toml"}: no environment "prod"')
    assert "(defined: production, staging)" in message
    assert "[env.prod]" in message
    assert info.value.exit_code == 3


def test_an_empty_env_table_defines_no_environment(tmp_path: Path) -> None:
    path = config_at(tmp_path, '{"name": "x", "env": {}}', "wrangler.json")
    with pytest.raises(ConfigError, match=r"no environment \"prod\" \(defined: none\)"):
        load_config(path, env="prod")


def test_a_config_without_environments_deploys_its_top_level_under_the_environments_name(
    tmp_path: Path,
) -> None:
    # wrangler only warns here, and deploys <name>-<env> with the top level's settings.
    path = config_at(tmp_path, 'name = "site"\n[vars]\nA = "1"\n')
    config = load_config(path, env="production")
    assert config.name == "site-production"
    assert dict(config.vars) == {"A": "1"}
    assert config.warnings == (
        f'{path} defines no environments: --env production deploys the top level as "site-production"',
    )


def test_env_without_any_config_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--env production: no wrangler config in .* or its parents"):
        load_config(search=str(tmp_path), env="production")


def test_a_bad_value_in_an_environment_is_named_with_its_environment_and_line(project: Path) -> None:
    path = project / "wrangler.toml"
    path.write_text(PROJECT_TOML + '\n[env.staging.assets]\nhtml_handling = "trailing"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path), env="staging")
    line = PROJECT_TOML.count("\n") + 3
    assert str(info.value).startswith(f"{path}, line {line}: env.staging.assets.html_handling is ")


def test_a_bad_binding_in_an_environment_is_named_with_its_environment_and_line(tmp_path: Path) -> None:
    text = '[env.production]\nname = "x"\n[[env.production.kv_namespaces]]\nbinding = "K"\nid = 7\n'
    path = config_at(tmp_path, text)
    with pytest.raises(ConfigError, match=r", line 5: env\.production\.kv_namespaces\[0\]\.id "):
        load_config(path, env="production")


def test_environments_in_json_configs(tmp_path: Path) -> None:
    config = {
        "name": "api",
        "vars": {"MODE": "dev"},
        "env": {"production": {"vars": {"MODE": "prod", "LIMIT": 5}, "routes": ["example.com/*"]}},
    }
    path = config_at(tmp_path, json.dumps(config), "wrangler.json")
    production = load_config(path, env="production")
    assert production.name == "api-production"
    assert (dict(production.vars), dict(production.json_vars)) == ({"MODE": "prod"}, {"LIMIT": "5"})
    assert production.warnings == (
        f"{path}: env.production.routes is not used by assetsync "
        "(assetsync does not change a Worker's routes)",
    )


@pytest.mark.parametrize(
    ("text", "env", "error"),
    [
        (
            "legacy_env = false\n[env.production]\n",
            "production",
            r"legacy_env is false \(service environments\)",
        ),
        ('legacy_env = "yes"\n', None, r"legacy_env is the string \"yes\", but must be true or false"),
        ('keep_vars = "yes"\n', None, r"keep_vars is the string \"yes\", but must be true or false"),
        ('env = "production"\n', "production", r"env must be a table of environments"),
        ('[env]\nproduction = "x"\n', "production", r"env\.production must be a table of settings"),
    ],
)
def test_environment_keys_of_the_wrong_kind(tmp_path: Path, text: str, env: str | None, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_config(config_at(tmp_path, text), env=env)


def test_legacy_env_true_is_wranglers_default(tmp_path: Path) -> None:
    path = config_at(tmp_path, 'name = "w"\nlegacy_env = true\n[env.production]\n')
    config = load_config(path, env="production")
    assert (config.name, config.warnings) == ("w-production", ())
    assert load_config(config_at(tmp_path, "legacy_env = false\n")).warnings == ()  # no environment: moot


# --------------------------------------------------------------------------------------------------
# Keys assetsync does not act on: one warning each, naming the key and its environment


def test_every_key_not_acted_on_gets_one_warning(tmp_path: Path) -> None:
    text = """\
"$schema" = "node_modules/wrangler/config-schema.json"
name = "w"
account_id = "abc"
routes = ["example.com/*"]
kv_namespace = [{ binding = "K", id = "1" }]
define = { X = "1" }

[assets]
directory = "public"
serve_directly = true

[observability]
enabled = true

[env.production]
workers_dev = false
keep_vars = true
define = { X = "2" }
"""
    path = config_at(tmp_path, text)
    head = f"{path}: "
    assert load_config(path).warnings == tuple(
        head + line
        for line in (
            "account_id is not used by assetsync (pass --account-id or set CLOUDFLARE_ACCOUNT_ID)",
            "routes is not used by assetsync (assetsync does not change a Worker's routes)",
            "kv_namespace is not a wrangler config key (ignored; did you mean kv_namespaces?)",
            "define is not used by assetsync (ignored)",
            "assets.serve_directly is not a wrangler config key (ignored)",
            "observability is not used by assetsync (ignored)",
        )
    )
    assert load_config(path, env="production").warnings == tuple(
        head + line
        for line in (
            "env.production.keep_vars is read from the top level only (ignored here)",
            "account_id is not used by assetsync (pass --account-id or set CLOUDFLARE_ACCOUNT_ID)",
            "routes is not used by assetsync (assetsync does not change a Worker's routes)",
            "kv_namespace is not a wrangler config key (ignored; did you mean kv_namespaces?)",
            "assets.serve_directly is not a wrangler config key (ignored)",
            "observability is not used by assetsync (ignored)",
            "env.production.workers_dev is not used by assetsync "
            "(assetsync does not change the workers.dev setting)",
            "env.production.define is not used by assetsync (ignored)",
        )
    )


def test_keys_acted_on_give_no_warning(project: Path) -> None:
    assert load_config(str(project / "wrangler.toml")).warnings == ()


# --------------------------------------------------------------------------------------------------
# Vars, --var, keep_vars, and the bindings the settings resolver deploys


def bindings(root: Path, **settings: Any) -> list[dict[str, Any]]:
    project = resolve_project(Settings(config_path=str(root / "wrangler.toml"), **settings))
    return [dict(b) for b in project.options.worker.bindings]


def test_the_deploy_carries_the_environments_vars_and_bindings(project: Path) -> None:
    assert bindings(project) == [
        {"type": "plain_text", "name": "API", "text": "https://api.example.com"},
        {"type": "json", "name": "DEBUG", "json": True},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "top-namespace"},
    ]
    assert bindings(project, env="production") == [
        {"type": "plain_text", "name": "API", "text": "https://api.prod.example.com"},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "prod-namespace"},
    ]


def test_var_flags_beat_the_configs_vars(project: Path) -> None:
    got = bindings(project, vars=("DEBUG:off", "NEW:a:b", "API:first", "API:last"))
    assert got == [
        {"type": "plain_text", "name": "API", "text": "last"},  # the last --var of a name wins
        {"type": "plain_text", "name": "DEBUG", "text": "off"},  # a json var made a string
        {"type": "plain_text", "name": "NEW", "text": "a:b"},  # split at the first colon
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "top-namespace"},
    ]


def test_binding_flags_beat_the_configs_bindings_and_vars_of_their_name(project: Path) -> None:
    got = bindings(project, bindings=("kv:CACHE=from-flag", "text:API=flagged", "kv:MORE=m"))
    assert got == [
        {"type": "json", "name": "DEBUG", "json": True},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "from-flag"},
        {"type": "plain_text", "name": "API", "text": "flagged"},
        {"type": "kv_namespace", "name": "MORE", "namespace_id": "m"},
    ]
    assert bindings(project, vars=("CACHE:now a var",)) == [  # a --var beats a binding too
        {"type": "plain_text", "name": "API", "text": "https://api.example.com"},
        {"type": "plain_text", "name": "CACHE", "text": "now a var"},
        {"type": "json", "name": "DEBUG", "json": True},
    ]


@pytest.mark.parametrize("flag", ["NOCOLON", ":value"])
def test_a_malformed_var_flag_is_a_usage_error(project: Path, flag: str) -> None:
    with pytest.raises(UsageError, match=r"--var .*: use KEY:VALUE"):
        bindings(project, vars=(flag,))


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            {"vars": ("X:1",), "bindings": ("kv:X=2",)},
            UsageError,
            r'--binding X: the name "X" is already given by --var X',
        ),
        ({"bindings": ("kv:X=1", "text:X=2")}, UsageError, r"already given by --binding X"),
        ({"vars": ("ASSETS:1",)}, UsageError, r'"ASSETS" has the assets binding\'s name \(the default\)'),
        (
            {"assets_binding": "CACHE"},
            UsageError,
            r'kv_namespace binding "CACHE" has the assets binding\'s name \(--assets-binding\)',
        ),
    ],
)
def test_binding_names_given_twice_are_refused(
    project: Path, settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        bindings(project, **settings)


def test_binding_names_given_twice_in_the_config_are_a_config_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path, FILES)
    head = 'main = "worker/index.js"\n[assets]\ndirectory = "public"\n'
    text = head + '[vars]\nCACHE = "x"\n[[kv_namespaces]]\nbinding = "CACHE"\nid = "1"\n'
    (root / "wrangler.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        bindings(root)
    assert str(info.value) == (
        f'{root / "wrangler.toml"}, line 7: kv_namespaces[0].binding "CACHE" is also the name of '
        "vars.CACHE. Give each binding its own name: the Worker reaches each one as env.NAME."
    )
    (root / "wrangler.toml").write_text(head + 'binding = "A"\n[vars]\nA = "1"\n')
    with pytest.raises(
        ConfigError, match=r'wrangler.toml, line 4: assets.binding "A" is also the name of vars.A'
    ):
        bindings(root)


def test_keep_vars_from_the_flag_or_the_config(project: Path, tmp_path: Path) -> None:
    def keep(path: str, flag: bool) -> bool:
        settings = Settings(folder=str(tmp_path), config_path=path, keep_vars=flag)
        return resolve_project(settings).options.worker.keep_vars

    plain = config_at(tmp_path, 'main = "w.js"\n')
    (tmp_path / "w.js").write_text("export default {}")
    assert (keep(plain, False), keep(plain, True)) == (False, True)
    assert keep(str(project / "wrangler.toml"), False)  # keep_vars = true in the config


def test_an_assets_only_deploy_names_the_bindings_it_cannot_carry(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"public/index.html": "hi"})
    (root / "wrangler.toml").write_text('[assets]\ndirectory = "public"\n[vars]\nA = "1"\n')
    project = resolve_project(Settings(config_path=str(root / "wrangler.toml"), bindings=("kv:K=1",)))
    assert project.options.worker.bindings == ()
    assert project.warnings == (
        "bindings not deployed: A, K. Without a main module (--main or the config's main) the deploy "
        "is assets-only, and carries no bindings.",
    )


# --------------------------------------------------------------------------------------------------
# Found from a subfolder, resolved the same


def test_a_subfolder_run_resolves_the_parents_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = project / "public" / "deep"
    sub.mkdir()
    monkeypatch.chdir(sub)
    resolved = resolve_project(Settings(env="production"))
    assert resolved.folder == str(project / "public")
    assert resolved.main == str(project / "worker" / "index.js")
    assert resolved.options.script == "shop-production"
    assert resolved.options.worker.compatibility_date == "2025-01-01"
    assert os.path.basename(resolved.config.path or "") == "wrangler.toml"


def test_a_tenants_config_is_looked_for_in_its_folder_only(project: Path) -> None:
    # sync-all's tenants are projects of their own: a config above them is not theirs.
    tenant = project / "public"
    resolved = resolve_project(Settings(project_dir=str(tenant), name="tenant"))
    assert resolved.config.path is None
    assert resolved.folder == str(tenant)
