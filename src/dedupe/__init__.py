"""dedupe: text deduplication and boilerplate detection for scraped web text.

>>> import dedupe
>>> r = dedupe.clean("Breaking news today here now. " * 3)
>>> r.text
'Breaking news today here now. '
>>> dedupe.rebuild(r.text, r.spans) == "Breaking news today here now. " * 3
True
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from .api import clean, clean_corpus, clean_many, open_index
    from .config import Config, CorpusConfig, NearDupConfig, SignatureConfig, TemplateConfig, WithinConfig
    from .errors import ConfigError, DedupeError, IndexConfigMismatch, IndexStoreError, InputError, WorkerError
    from .models import CleanResult, Document, Span, rebuild

# The public names load on first use (PEP 562): importing a submodule (the command line's entry
# point first of all) does not import numpy and the engine through this package.
_HOME = {
    **dict.fromkeys(("clean", "clean_corpus", "clean_many", "open_index"), "api"),
    **dict.fromkeys(("Config", "CorpusConfig", "NearDupConfig", "SignatureConfig", "TemplateConfig", "WithinConfig"), "config"),
    **dict.fromkeys(("ConfigError", "DedupeError", "IndexConfigMismatch", "IndexStoreError", "InputError", "WorkerError"), "errors"),
    **dict.fromkeys(("CleanResult", "Document", "Span", "rebuild"), "models"),
}


#: the subpackages and modules reachable as attributes (``dedupe.api.report``), as when this
#: package imported them itself
_SUBMODULES = frozenset({"api", "cli", "config", "core", "engine", "errors", "io", "models", "stores"})


def __getattr__(name: str) -> "_typing.Any":
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CleanResult",
    "Config",
    "ConfigError",
    "CorpusConfig",
    "DedupeError",
    "Document",
    "IndexConfigMismatch",
    "IndexStoreError",
    "InputError",
    "NearDupConfig",
    "SignatureConfig",
    "Span",
    "TemplateConfig",
    "WithinConfig",
    "WorkerError",
    "__version__",
    "clean",
    "clean_corpus",
    "clean_many",
    "open_index",
    "rebuild",
]
