import dedupe


def test_public_surface_is_explicit() -> None:
    for name in dedupe.__all__:
        assert hasattr(dedupe, name), name
    public = {n for n in dir(dedupe) if not n.startswith("_")}
    # submodules are reachable but not part of __all__
    modules = {"api", "config", "core", "engine", "errors", "models", "io", "stores", "cli"}
    assert "annotations" not in public
    assert public - modules - set(dedupe.__all__) == set()


def test_names_and_submodules_load_on_first_use() -> None:
    # the package imports its names lazily: in a fresh interpreter, each is there when asked for
    import subprocess
    import sys

    code = (
        "import sys, dedupe\n"
        "assert 'numpy' not in sys.modules\n"
        "assert callable(dedupe.api.report) and dedupe.Config().within is not None\n"
        "assert dedupe.stores.__name__ == 'dedupe.stores'\n"
        "try:\n    dedupe.nope\nexcept AttributeError:\n    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["ok"]
