"""Imported by the corpus pool's forkserver only (``dedupe.engine.pool.pool_context`` adds it
to the server's preload list): builds the normalisation tables and the tokeniser's class table
there once, so every worker forked from the server shares them instead of building its own on its
first page (~0.05 CPU-s a worker), and loads rapidfuzz, which the within-page pass imports
lazily. Importing it anywhere else only does this early; it changes no result."""

from __future__ import annotations

from .tokenize import tokenize

# a no-break space is not NFKC and ß folds to two characters: the fold table, the slow path's
# tables and its kernel arguments, and the tokeniser's class table are all built by this one call
tokenize("\u00a0\u00df")

# the within-page verification's comparer, loaded lazily elsewhere (dedupe.engine.within): here
# once, for every worker forked from the server
import rapidfuzz.fuzz  # noqa: E402,F401
