"""Imports point one way: core <- engine <- (io, stores) <- api <- cli. Nothing imports cli."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "dedupe"

# for each layer: which of our layers it may import
ALLOWED = {
    "_version": set(),
    "core": {"core", "models", "config", "errors"},
    "engine": {"core", "engine", "models", "config", "errors"},
    "io": {"core", "engine", "io", "models", "config", "errors"},
    "stores": {"core", "engine", "stores", "io", "models", "config", "errors"},
    "api": {"core", "engine", "io", "stores", "models", "config", "errors", "api"},
    "cli": {"core", "engine", "io", "stores", "models", "config", "errors", "api", "cli", "__init__"},
    "models": {"models"},
    "config": {"config", "errors"},
    "errors": {"errors"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(PKG)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel.parts[:-1])
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = base + (node.module.split(".") if node.module else [])
                if not target and node.module is None:
                    target = [alias.name for alias in node.names]
                if target:
                    out.add(target[0] if target[0] != "__init__" else "__init__")
                else:
                    out.add("__init__")
            elif node.module and node.module.split(".")[0] == "dedupe":
                parts = node.module.split(".")
                out.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dedupe":
                    out.add(parts[1] if len(parts) > 1 else "__init__")
    return out


def test_imports_point_one_way() -> None:
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        layer = _layer(path)
        if layer == "__init__":
            continue
        allowed = ALLOWED.get(layer)
        assert allowed is not None, f"{path}: module outside the known layers; add it to ALLOWED"
        bad = _imported_layers(path) - allowed - {"_version"}
        # `from .. import __version__` inside api is fine
        if bad:
            problems.append(f"{path.relative_to(PKG)} imports {sorted(bad)}")
    assert not problems, "\n".join(problems)


def test_nothing_imports_cli() -> None:
    for path in sorted(PKG.rglob("*.py")):
        if _layer(path) == "cli":
            continue
        assert "cli" not in _imported_layers(path), f"{path} imports the CLI layer"
