"""dedupe: text deduplication and boilerplate detection for scraped web text.

>>> import dedupe
>>> r = dedupe.clean("Breaking news today here now. " * 3)
>>> r.text
'Breaking news today here now. '
>>> dedupe.rebuild(r.text, r.spans) == "Breaking news today here now. " * 3
True
"""

from ._version import __version__
from .api import clean, clean_corpus, clean_many, open_index
from .config import Config, CorpusConfig, NearDupConfig, SignatureConfig, TemplateConfig, WithinConfig
from .errors import ConfigError, DedupeError, IndexConfigMismatch, IndexStoreError, InputError, WorkerError
from .models import CleanResult, Document, Span, rebuild

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
