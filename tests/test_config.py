"""Config read from a file: unknown keys and values of the wrong type are refused."""

from __future__ import annotations

import pytest

from dedupe.config import Config
from dedupe.errors import ConfigError


@pytest.mark.parametrize("data, field", [
    ({"within": {"enabled": "false"}}, "within.enabled"),  # a truthy string must not mean "on"
    ({"templates": {"enabled": 0}}, "templates.enabled"),
    ({"within": {"min_repeat_tokens": 8.5}}, "within.min_repeat_tokens"),
    ({"templates": {"min_fraction": True}}, "templates.min_fraction"),
    ({"neardup": {"canonical": 1}}, "neardup.canonical"),
    ({"within": {"bogus": 1}}, "bogus"),
])
def test_wrong_types_and_unknown_keys_are_refused(data: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Config.from_dict(data)


def test_right_types_are_accepted() -> None:
    cfg = Config.from_dict({"within": {"enabled": False, "min_repeat_tokens": 10}, "neardup": {"threshold": 1}, "templates": {"min_fraction": 0.1}})
    assert cfg.within.enabled is False and cfg.within.min_repeat_tokens == 10 and cfg.neardup.threshold == 1
