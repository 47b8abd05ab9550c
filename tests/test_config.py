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


@pytest.mark.parametrize("kw", [{"seed": 1.0}, {"seed": True}, {"seed": "1"}, {"num_perm": 64.0}, {"num_perm": False}])
def test_signature_seed_and_num_perm_must_be_integers_in_code_too(kw: dict) -> None:
    """Built in code (not read from a file), a float or bool seed or permutation count is refused
    at once: it had reached the permutations' own checks, differently with and without workers."""
    from dedupe.config import SignatureConfig

    with pytest.raises(ConfigError, match="signature." + next(iter(kw)) + " must be an integer"):
        SignatureConfig(**kw)


def test_signature_seed_may_be_a_numpy_integer() -> None:
    import numpy as np

    from dedupe.config import SignatureConfig
    from dedupe.core.minhash import permutations

    cfg = SignatureConfig(seed=np.uint32(7), num_perm=np.int64(64))
    assert type(cfg.seed) is int and type(cfg.num_perm) is int  # stored as plain ints
    assert Config(signature=cfg).fingerprint() == Config(signature=SignatureConfig(seed=7, num_perm=64)).fingerprint()
    a, b = permutations(cfg.num_perm, cfg.seed)
    assert len(a) == 64 and np.array_equal(a, permutations(64, 7)[0])
