"""Normalisation with a map back to original offsets.

Matching ignores case and Unicode form: text is NFKC-normalised and lower-cased. Offsets of
anything found in the normalised text are mapped back to the original with :class:`NormalizedText`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Normalised text plus the map back to the original.

    Attributes:
        text: NFKC + lower-cased text.
        orig_start, orig_end: for each normalised character ``i``, the original characters it
            came from are ``original[orig_start[i]:orig_end[i]]``. ``None`` means the identity
            map (the common case: the text was already NFKC and lower-casing kept its length).
    """

    text: str
    orig_start: np.ndarray | None = None
    orig_end: np.ndarray | None = None

    def to_original(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map half-open normalised ranges ``[start, end)`` (non-empty) to original ranges."""
        if self.orig_start is None:
            return start, end
        assert self.orig_end is not None
        return self.orig_start[start], self.orig_end[end - 1]


def normalize(text: str) -> NormalizedText:
    """NFKC-normalise and lower-case ``text``, keeping a map back to original offsets.

    >>> normalize("Ｆｏｏ Ｂａｒ").text
    'foo bar'
    >>> normalize("plain").orig_start is None
    True
    """
    if unicodedata.is_normalized("NFKC", text):
        low = text.lower()
        if len(low) == len(text):  # every character lowered to exactly one character
            return NormalizedText(low)
    return _normalize_slow(text)


def _normalize_slow(text: str) -> NormalizedText:
    # Normalise cluster by cluster (a starter plus its combining marks) so that composition
    # inside a cluster still happens, and each output character maps to its cluster.
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        chunk = unicodedata.normalize("NFKC", text[i:j]).lower()
        out.append(chunk)
        starts.extend([i] * len(chunk))
        ends.extend([j] * len(chunk))
        i = j
    return NormalizedText(
        "".join(out),
        np.asarray(starts, dtype=np.int64),
        np.asarray(ends, dtype=np.int64),
    )
