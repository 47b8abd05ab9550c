"""Run the doctests of every ``dedupe`` module (the examples in docstrings must stay true)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dedupe

# the package itself too: walk_packages lists only what is below it
MODULES = ["dedupe", *sorted(m.name for m in pkgutil.walk_packages(dedupe.__path__, "dedupe."))]

# docstrings that doctest cannot parse yet (module name -> reason); keep empty
KNOWN_BROKEN: dict[str, str] = {}


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    try:
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    except ValueError:  # doctest cannot parse a docstring
        if name in KNOWN_BROKEN:
            pytest.xfail(KNOWN_BROKEN[name])
        raise
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"


def test_the_doctests_exist() -> None:
    # guards against a collection that silently finds nothing
    assert "dedupe" in MODULES and "dedupe.api" in MODULES and "dedupe.engine.within" in MODULES
    finder = doctest.DocTestFinder()
    assert any(t.examples for t in finder.find(importlib.import_module("dedupe.api")))
