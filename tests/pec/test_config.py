"""Every environment variable is read in pec_ext/config.py, from a mapping a test can hand in.

The other modules ask config's accessors; the README's table of variables is config.VARIABLES.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from pec_ext import config
from pec_ext.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pec_ext"


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module reads the process's environment: os.environ/getenv, or click's envvar=."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "getenvb"):
            found.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [(node.lineno, f"from os import {a.name}") for a in node.names if "env" in a.name]
        elif isinstance(node, ast.keyword) and node.arg in ("envvar", "auto_envvar_prefix"):
            found.append((node.value.lineno, f"click {node.arg}="))
    return found


def test_only_config_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT)): reads
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "config.py"
        if (reads := _environment_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert readers == {}


def test_the_scan_sees_each_way_of_reading() -> None:
    source = (
        "import os\nfrom os import getenv\nos.environ.get('X')\nos.getenv('Y')\n"
        "click.option('--x', envvar='X')\n"
    )
    kinds = {kind for _, kind in _environment_reads(ast.parse(source))}
    assert kinds == {"from os import getenv", "os.environ", "os.getenv", "click envvar="}
    assert _environment_reads(ast.parse((PACKAGE / "config.py").read_text(encoding="utf-8")))


def test_the_readme_table_is_configs_list() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert config.readme_table() in readme
    names = {value for name, value in vars(config).items() if name.endswith("_ENV")}
    assert {v.name for v in config.VARIABLES} == names


def test_accessors_read_the_mapping_given() -> None:
    env = {
        config.TOKEN_ENV: " t0ken ",
        config.ENVIRONMENT_ENV: "Production",
        config.BASE_URL_ENV: "http://127.0.0.1:8099",
        config.EMAIL_ENV: "me@example.com",
        config.API_KEY_ENV: "k3y-value",
        config.CACHE_DIR_ENV: "~/tokens",
        config.CALLBACK_SECRET_ENV: "s3cret",
        config.EMBEDDED_ENV: "yes",
        config.EMBEDDED_DB_ENV: "state.sqlite",
    }
    assert config.token(env=env) == "t0ken"
    assert config.environment(env=env) == "production"
    assert config.base_url(None, "production", env=env) == "http://127.0.0.1:8099"
    assert (config.email(env=env), config.api_key(env=env)) == ("me@example.com", "k3y-value")
    assert config.has_account_credentials(env=env)
    assert config.token_cache_dir(env=env) == Path("~/tokens").expanduser()
    assert (config.embedded(env=env), config.embedded_db(env=env)) == (True, "state.sqlite")
    assert config.secrets(env=env) == ["t0ken", "k3y-value", "s3cret"]
    # An argument wins over its variable.
    assert config.environment("sandbox", env=env) == "sandbox"
    assert config.token("given", env=env) == "given"


def test_unset_variables_give_the_defaults() -> None:
    assert config.environment(env={}) == "sandbox"
    assert config.base_url(None, "sandbox", env={}) == "https://test.pec.openapi.it"
    assert not config.token_is_set(env={})
    assert not config.has_account_credentials(env={config.EMAIL_ENV: "me@example.com"})
    assert (config.token_cache_dir(env={}), config.callback_secret(env={})) == (None, None)
    assert (config.embedded(env={}), config.embedded_db(env={})) == (False, None)
    with pytest.raises(ValidationError, match=config.API_KEY_ENV):
        config.api_key(env={})
    assert config.worker_settings(env={}) == config.WorkerSettings("pec-journal.sqlite", None, None, None)


def test_worker_settings_from_a_mapping() -> None:
    settings = config.worker_settings(
        env={
            config.JOURNAL_URL_ENV: "redis://127.0.0.1:6379/0",
            config.JOURNAL_LEASE_ENV: "120",
            config.TIMEOUT_ENV: "12.5",
            config.RATE_LIMIT_ENV: "5/10",
            config.REDIS_URL_ENV: "redis://127.0.0.1:6379/1",
        }
    )
    assert settings == config.WorkerSettings(
        "redis://127.0.0.1:6379/0",
        120.0,
        12.5,
        config.RateLimit(5.0, 10, "redis://127.0.0.1:6379/1", "default"),
    )


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({config.JOURNAL_LEASE_ENV: "soon"}, config.JOURNAL_LEASE_ENV),
        ({config.TIMEOUT_ENV: "-1"}, config.TIMEOUT_ENV),
        ({config.RATE_LIMIT_ENV: "fast", config.REDIS_URL_ENV: "redis://x"}, config.RATE_LIMIT_ENV),
        ({config.RATE_LIMIT_ENV: "5"}, config.REDIS_URL_ENV),
    ],
)
def test_a_wrong_worker_variable_is_named(env: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        config.worker_settings(env=env)
    assert caught.value.field == field


def test_the_cli_takes_its_variables_through_config() -> None:
    from pec_ext.cli import cli

    runner = CliRunner()
    # OPENAPI_PEC_EMBEDDED: no token needed, the embedded sandbox answers.
    embedded = runner.invoke(cli, ["--json", "boxes", "list"], env={config.EMBEDDED_ENV: "1"})
    assert embedded.exit_code == 0, embedded.output
    assert embedded.stdout.strip() == "[]"
    sign = ["callbacks", "sign", "http://127.0.0.1/x"]
    missing = runner.invoke(cli, sign, env={config.CALLBACK_SECRET_ENV: ""})
    assert missing.exit_code != 0
    assert "--secret" in missing.output
    signed = runner.invoke(cli, sign, env={config.CALLBACK_SECRET_ENV: "s3cret-value-of-32-bytes-at-least"})
    assert signed.exit_code == 0, signed.output
    assert "s3cret-value-of-32-bytes-at-least" not in signed.output
