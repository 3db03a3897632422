"""Principal names in the settings: ``local`` is reserved and ``jwt:`` belongs to JWTs."""

from __future__ import annotations

from typing import Any

import pytest

from letta_mcp.config import ConfigError, load_settings

DIGEST = "ab" * 32


def auth(**values: Any) -> None:
    load_settings(overrides={"auth": values}, environ={})


@pytest.mark.parametrize("principal", ["local", "jwt:https://issuer.example:carol"])
def test_a_static_token_may_not_name_a_reserved_principal(principal: str) -> None:
    with pytest.raises(ConfigError, match=r"auth\.tokens") as raised:
        auth(tokens={DIGEST: principal})
    assert "reserved" in str(raised.value) or "namespace" in str(raised.value)


def test_the_subject_map_takes_jwt_principals() -> None:
    with pytest.raises(ConfigError, match=r"auth\.jwt_subject_map.*'jwt:<iss>:<subject>'"):
        auth(jwt_subject_map={"carol": "alice"})


def test_the_subject_map_may_not_hand_out_the_local_user() -> None:
    with pytest.raises(ConfigError, match=r"auth\.jwt_subject_map.*reserved for the local user"):
        auth(jwt_subject_map={"jwt::carol": "local"})


def test_a_subject_map_onto_an_existing_owner_is_accepted() -> None:
    settings = load_settings(overrides={"auth": {"jwt_subject_map": {"jwt::carol": "carol"}}}, environ={})
    assert settings.auth.jwt_subject_map == {"jwt::carol": "carol"}
