"""Settings loading: precedence, nested env vars, the OpenAI variables, errors, and the documented defaults.

Every test passes its own ``environ``: the real environment never leaks in.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from letta_mcp.config import ConfigError, ProviderSettings, Settings, default_data_dir, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOML = ROOT / "configs" / "default.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "letta.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env() -> None:
    s = load_settings(environ={})
    assert s.data_dir == default_data_dir()
    assert s.default_model == "openai/gpt-4o-mini"
    assert s.max_steps == 50
    assert s.log_level == "INFO"
    assert list(s.providers) == ["openai"]
    assert s.providers["openai"] == ProviderSettings()
    assert s.api_key("openai") is None


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    config = write(
        tmp_path, 'default_model = "openai/from-file"\nmax_steps = 7\nlog_level = "DEBUG"\ndefault_block_limit = 123\n'
    )
    env = {"LETTA_MCP_MAX_STEPS": "8", "LETTA_MCP_LOG_LEVEL": "WARNING"}
    s = load_settings(config_file=config, environ=env, overrides={"log_level": "ERROR", "data_dir": None})
    assert s.default_model == "openai/from-file"  # file beats default
    assert s.default_block_limit == 123
    assert s.max_steps == 8  # env beats file
    assert s.log_level == "ERROR"  # override beats env
    assert s.data_dir == default_data_dir()  # a None override means "not given"


def test_config_file_from_env_var(tmp_path: Path) -> None:
    config = write(tmp_path, "max_steps = 3\n")
    assert load_settings(environ={"LETTA_MCP_CONFIG": str(config)}).max_steps == 3
    # --config (config_file) wins over LETTA_MCP_CONFIG.
    other = tmp_path / "other.toml"
    other.write_text("max_steps = 4\n", encoding="utf-8")
    assert load_settings(config_file=other, environ={"LETTA_MCP_CONFIG": str(config)}).max_steps == 4


def test_data_dir_from_env_and_override(tmp_path: Path) -> None:
    env = {"LETTA_MCP_DATA_DIR": str(tmp_path / "env")}
    assert load_settings(environ=env).data_dir == tmp_path / "env"
    assert load_settings(environ=env, overrides={"data_dir": str(tmp_path / "flag")}).data_dir == tmp_path / "flag"


def test_data_dir_tilde_is_expanded_and_empty_env_is_unset() -> None:
    assert load_settings(environ={"LETTA_MCP_DATA_DIR": "~/agents"}).data_dir == Path.home() / "agents"
    assert load_settings(environ={"LETTA_MCP_DATA_DIR": ""}).data_dir == default_data_dir()


def test_nested_env_adds_a_provider_and_keeps_openai() -> None:
    env = {
        "LETTA_MCP_PROVIDERS__OLLAMA__BASE_URL": "http://localhost:11434/v1",
        "LETTA_MCP_PROVIDERS__OLLAMA__TIMEOUT_S": "300",
        "LETTA_MCP_DEFAULT_MODEL": "ollama/llama3.1",
        "OPENAI_API_KEY": "sk-env",
    }
    s = load_settings(environ=env)
    assert s.providers["ollama"].base_url == "http://localhost:11434/v1"
    assert s.providers["ollama"].timeout_s == 300.0
    assert s.default_model == "ollama/llama3.1"
    assert s.api_key("ollama") is None  # OPENAI_API_KEY belongs to the openai provider only
    assert s.api_key("openai") == "sk-env"  # configuring ollama did not remove openai


def test_env_var_merges_into_a_file_section(tmp_path: Path) -> None:
    config = write(tmp_path, '[providers.ollama]\nbase_url = "http://localhost:11434/v1"\nmax_retries = 1\n')
    s = load_settings(config_file=config, environ={"LETTA_MCP_PROVIDERS__OLLAMA__MAX_RETRIES": "2"})
    assert s.providers["ollama"].base_url == "http://localhost:11434/v1"
    assert s.providers["ollama"].max_retries == 2
    assert "openai" in s.providers


def test_openai_variables_configure_the_openai_provider() -> None:
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://localhost:8000/v1"}
    s = load_settings(environ=env)
    assert s.api_key("openai") == "sk-env"
    assert s.providers["openai"].base_url == "http://localhost:8000/v1"


def test_openai_provider_settings_beat_the_openai_variables(tmp_path: Path) -> None:
    config = write(tmp_path, '[providers.openai]\napi_key = "sk-file"\nbase_url = "http://file/v1"\n')
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://env/v1"}
    s = load_settings(config_file=config, environ=env)
    assert s.api_key("openai") == "sk-file"
    assert s.providers["openai"].base_url == "http://file/v1"


def test_api_key_env_names_the_variable(tmp_path: Path) -> None:
    config = write(tmp_path, '[providers.router]\nbase_url = "https://router.example/v1"\napi_key_env = "ROUTER_KEY"\n')
    s = load_settings(config_file=config, environ={"ROUTER_KEY": "rk-1", "OPENAI_API_KEY": "sk-env"})
    assert s.api_key("router") == "rk-1"
    assert load_settings(config_file=config, environ={}).api_key("router") is None


def test_api_key_is_hidden_in_dumps() -> None:
    s = load_settings(environ={"OPENAI_API_KEY": "sk-secret-test"})
    assert "sk-secret-test" not in s.model_dump_json()
    assert "sk-secret-test" not in repr(s)


def test_missing_key_is_not_an_error_at_load() -> None:
    s = load_settings(environ={})
    assert s.api_key("openai") is None


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"LETTA_MCP_MAX_STEPS": "many"}, "max_steps"),
        ({"LETTA_MCP_MAX_STEPS": "0"}, "max_steps"),
        ({"LETTA_MCP_DEFAULT_BLOCK_LIMIT": "-5"}, "default_block_limit"),
        ({"LETTA_MCP_LOG_LEVEL": "LOUD"}, "log_level"),
        ({"LETTA_MCP_DEFAULT_MODEL": "gpt-4o-mini"}, "default_model"),
        ({"LETTA_MCP_PROVIDERS__OPENAI__TIMEOUT_S": "soon"}, "providers.openai.timeout_s"),
        ({"LETTA_MCP_PROVIDERS__OPENAI__MAX_RETRIES": "99"}, "providers.openai.max_retries"),
        ({"LETTA_MCP_PROVIDERS__OLLAMA__BASEURL": "x"}, "LETTA_MCP_PROVIDERS__OLLAMA__BASEURL"),
        ({"LETTA_MCP_NO_SUCH_SETTING": "1"}, "LETTA_MCP_NO_SUCH_SETTING"),
        ({"LETTA_MCP_COMPACTION_TRIGGER": "1.5"}, "compaction_trigger"),
        ({"LETTA_MCP_COMPACTION_TARGET": "0.95"}, "compaction_target"),  # not below the trigger
        ({"LETTA_MCP_SUMMARY_MAX_WORDS": "10"}, "summary_max_words"),
    ],
)
def test_invalid_values_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError, match=rf"\b{setting}\b"):
        load_settings(environ=env)


def test_invalid_value_in_file_names_the_setting(tmp_path: Path) -> None:
    config = write(tmp_path, 'max_steps = "lots"\n')
    with pytest.raises(ConfigError, match="max_steps"):
        load_settings(config_file=config, environ={})


# --- typos: the name as typed, where it was typed, and the closest valid name ---------------------


def test_env_var_typo_is_named_as_typed_with_the_closest_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"LETTA_MCP_DEFAULT_MODLE": "openai/gpt-4o"})
    assert str(err.value) == (
        "Invalid settings: LETTA_MCP_DEFAULT_MODLE is not a setting (did you mean LETTA_MCP_DEFAULT_MODEL?)"
    )


def test_nested_env_var_typo_suggests_within_its_table() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"LETTA_MCP_PROVIDERS__OLLAMA__BASEURL": "http://localhost:11434/v1"})
    assert "LETTA_MCP_PROVIDERS__OLLAMA__BASEURL is not a setting" in str(err.value)
    assert "did you mean LETTA_MCP_PROVIDERS__OLLAMA__BASE_URL?" in str(err.value)


def test_file_typo_names_the_file_and_the_closest_setting(tmp_path: Path) -> None:
    config = write(tmp_path, 'defualt_model = "openai/gpt-4o"\n[http]\nprot = 8001\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=config, environ={})
    message = str(err.value)
    assert f"defualt_model in {config} is not a setting (did you mean default_model?)" in message
    assert f"http.prot in {config} is not a setting (did you mean http.port?)" in message


def test_bad_value_names_the_variable_and_the_setting() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"LETTA_MCP_MAX_STEPS": "many"})
    assert str(err.value).startswith("Invalid settings: LETTA_MCP_MAX_STEPS (max_steps): ")


def test_bad_value_in_a_file_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, 'max_steps = "lots"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=config, environ={})
    assert str(err.value).startswith(f"Invalid settings: max_steps in {config}: ")


def test_a_name_far_from_every_setting_gets_no_guess() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"LETTA_MCP_XYZZY": "1"})
    assert "LETTA_MCP_XYZZY is not a setting (`letta-mcp config` prints them all)" in str(err.value)


def test_errors_never_quote_the_value_back() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"LETTA_MCP_PROVIDERS__OPENAI__API_KEYS": "sk-secret-value"})
    assert "did you mean LETTA_MCP_PROVIDERS__OPENAI__API_KEY?" in str(err.value)
    assert "sk-secret-value" not in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as err:
        load_settings(config_file=missing, environ={})
    assert str(missing) in str(err.value)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(environ={"LETTA_MCP_CONFIG": str(missing)})


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=write(tmp_path, "max_steps = [\n"), environ={})


# --- configs/default.toml is the documentation: it must load and equal the code defaults --------


def test_default_toml_loads_and_equals_code_defaults() -> None:
    from_file = load_settings(config_file=DEFAULT_TOML, environ={})
    from_code = Settings()
    assert from_file == from_code
    for name in Settings.model_fields:
        assert getattr(from_file, name) == getattr(from_code, name), name


def section_models() -> dict[str, type[BaseModel]]:
    """Settings fields that are tables of their own ([http], [auth], …), by name."""
    return {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def check_table(text: str, table: dict[str, Any], model: type[BaseModel], prefix: str) -> None:
    """Every field of ``model`` appears in ``table`` with its default value; fields unset by default
    (None, an empty mapping, a platform-specific path) appear commented out instead."""
    defaults = model().model_dump(mode="json")
    for name in model.model_fields:
        if defaults[name] is None or (model is Settings and name == "data_dir"):
            assert f"\n# {name} = " in text, f"{prefix}{name}"
        elif defaults[name] == {} and name not in table:
            assert f"\n# [{prefix}{name}]\n" in text, f"{prefix}{name}"
        elif model is Settings and name == "providers":
            assert set(table["providers"]) == {"openai"}
            check_table(text, table["providers"]["openai"], ProviderSettings, "providers.openai.")
        elif model is Settings and name in section_models():
            check_table(text, table[name], section_models()[name], f"{name}.")
        else:
            assert table[name] == defaults[name], f"{prefix}{name}"


def test_default_toml_sets_every_setting() -> None:
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    check_table(text, tomllib.loads(text), Settings, "")


def test_default_toml_commented_examples_are_valid() -> None:
    """Uncommenting the examples of settings that are unset by default gives valid settings."""
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    start = text.index("# [context_windows]")
    block = text[start : text.index("\n\n", start)]
    windows = tomllib.loads("\n".join(line.removeprefix("# ") for line in block.splitlines()))
    s = Settings.model_validate({**windows, "summarizer_model": "openai/gpt-4o-mini"})
    assert s.context_windows["ollama/llama3.1"] == 8192


def test_default_toml_ollama_example_works_when_uncommented() -> None:
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    start = text.index("# [providers.ollama]")
    example = "\n".join(line.removeprefix("# ") for line in text[start:].splitlines())
    data = tomllib.loads(example)
    s = Settings.model_validate({**data, "default_model": "ollama/llama3.1"})
    assert s.providers["ollama"].base_url == "http://localhost:11434/v1"
