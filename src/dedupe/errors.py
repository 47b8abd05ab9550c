"""The one exception tree of dedupe.

::

    DedupeError                 base of everything dedupe raises on purpose
    ├── ConfigError             a config value is out of range or inconsistent
    ├── InputError              input that cannot be processed (bad bytes, empty, too large, bad JSONL…)
    ├── IndexStoreError         a persistent index cannot be opened or used
    │   └── IndexConfigMismatch the index was built with other shingle/hash settings
    └── WorkerError             a worker process died (killed, out of memory, could not start)

The CLI maps each class to one error line on stderr and a documented exit code.
"""

from __future__ import annotations


class DedupeError(Exception):
    """Base class of all errors raised on purpose by dedupe."""


class ConfigError(DedupeError, ValueError):
    """A configuration value is invalid. The message names the field and what is allowed."""


class InputError(DedupeError, ValueError):
    """Input cannot be processed: invalid UTF-8, binary data, empty, too large, malformed rows."""


class IndexStoreError(DedupeError):
    """A persistent index cannot be opened, read or written."""


class IndexConfigMismatch(IndexStoreError):
    """The index was built with different shingle/hash settings than the ones in use."""


class WorkerError(DedupeError):
    """A worker process of a multi-process run died (killed, out of memory, or it could not
    start); the run stops with this error instead of waiting forever."""
