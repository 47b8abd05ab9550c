import dedupe


def test_public_surface_is_explicit() -> None:
    for name in dedupe.__all__:
        assert hasattr(dedupe, name), name
    public = {n for n in dir(dedupe) if not n.startswith("_")}
    # submodules are reachable but not part of __all__
    modules = {"api", "config", "core", "engine", "errors", "models", "io", "stores", "cli"}
    assert "annotations" not in public
    assert public - modules - set(dedupe.__all__) == set()
