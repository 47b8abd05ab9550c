"""Site-template fingerprints: what a page contributes to its site's evidence.

Contract (called by the corpus driver and by every :class:`~dedupe.engine.index.IndexStore`
user; keep stable)::

    doc_fingerprints(text: str, toks: Tokens, cfg: TemplateConfig) -> np.ndarray  # unique uint64

A page's fingerprints are the union of two families, each salted so they never collide:

* **span k-grams** — every run of ``k = cfg.span_tokens`` consecutive tokens, over the whole
  text (across line breaks), so template text glued mid-line into flattened text (the seed's
  navigation) is still counted;
* **short whole lines** — every line with ``1 <= tokens < k`` as one unit («PUBLICITÉ»,
  «Commentaires», «Suivre»): strings shorter than k tokens have no k-gram of their own, but
  recur as whole lines.

With ``cfg.mask_digits`` every token holding a digit is replaced by one placeholder before
hashing, so «Publié le : 19/06/2024 - 01:54» and «Publié le : 02/07/2024 - 18:10» give the same
fingerprints. Fingerprints depend only on the text (stable hashes, no salted ``hash()``), not on
token order in the result (they are returned sorted and unique).

:func:`masked_hashes`, :func:`span_fingerprints` and :func:`line_units` expose the same pieces
position by position, for :mod:`dedupe.engine.site`, which looks each position up in the index.
:func:`page_features_many` and :func:`fingerprints_many` run through the compiled kernel
``dedupe/core/_native/site.c`` when it is built (one call per chunk; the numpy code is the
fallback and the reference, equal results).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import TemplateConfig
from ..core import native
from ..core.hashing import TOKEN_BASE, fmix64, kgram_hashes, range_hashes, sorted_unique
from ..core.tokenize import Tokens, codepoints

#: the compiled kernel (``dedupe/core/_native/site.c``) or None: the numpy code below
_K = native.load("site")

#: salts that keep the two fingerprint families apart
SPAN_SALT = np.uint64(0x5BD1E9955BD1E995)
LINE_SALT = np.uint64(0xC2B2AE3D27D4EB4F)
#: the hash every digit-bearing token is replaced by
DIGIT_TOKEN = np.uint64(0x6A09E667F3BCC909)


def _build_digit_table() -> np.ndarray:
    table = np.zeros(0x10000, dtype=bool)
    for cp in range(0x10000):
        if unicodedata.category(chr(cp)) == "Nd":
            table[cp] = True
    return table


_DIGIT = _build_digit_table()  # constant lookup table (BMP decimal digits), built once at import


def digit_tokens(toks: Tokens) -> np.ndarray:
    """Boolean mask of tokens holding at least one decimal digit."""
    n = len(toks)
    if not n:
        return np.zeros(0, dtype=bool)
    cp = codepoints(toks.norm.text)
    isd = _DIGIT.take(cp, mode="clip") & (cp <= 0xFFFF)
    cs = np.concatenate(([0], np.cumsum(isd, dtype=np.int64)))
    return (cs[toks.nend] - cs[toks.nstart]) > 0


def masked_hashes(toks: Tokens, cfg: TemplateConfig) -> np.ndarray:
    """Token hashes with digit-bearing tokens replaced by one placeholder (when ``mask_digits``)."""
    h = np.asarray(toks.hashes, dtype=np.uint64)
    if not cfg.mask_digits or not len(h):
        return h
    d = digit_tokens(toks)
    if not d.any():
        return h
    h = h.copy()
    h[d] = DIGIT_TOKEN
    return h


def span_fingerprints(masked: np.ndarray, k: int) -> np.ndarray:
    """Fingerprint of the k-gram starting at each token position (``len == max(0, n-k+1)``)."""
    kg = kgram_hashes(masked, k)
    if not len(kg):
        return kg
    return fmix64(kg ^ SPAN_SALT)


def line_ids(text: str, toks: Tokens) -> tuple[np.ndarray, np.ndarray]:
    """(line index of every token, start offset of every line)."""
    nl = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 10
    line_starts = np.concatenate(([0], np.flatnonzero(nl) + 1)).astype(np.int64)
    lid = np.searchsorted(line_starts, toks.start, side="right") - 1
    return lid.astype(np.int64), line_starts


def line_units(text: str, toks: Tokens, masked: np.ndarray, max_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines with ``1 <= tokens < max_tokens``: (first token, end token (exclusive), fingerprint)."""
    n = len(toks)
    if not n:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0, dtype=np.uint64)
    lid, _ = line_ids(text, toks)
    brk = np.flatnonzero(np.diff(lid) != 0) + 1
    first = np.concatenate(([0], brk)).astype(np.int64)
    end = np.concatenate((brk, [n])).astype(np.int64)
    short = (end - first) < max_tokens
    first, end = first[short], end[short]
    if not len(first):
        return first, end, np.empty(0, dtype=np.uint64)
    fps = fmix64(range_hashes(masked, first, end, base=TOKEN_BASE) ^ LINE_SALT)
    return first, end, fps


@dataclass(frozen=True, slots=True)
class PageFeatures:
    """What the template level computes of one page before it looks anything up.

    Attributes:
        masked: token hashes, digit-bearing ones replaced (:func:`masked_hashes`).
        lid: line index of every token (:func:`line_ids`).
        kfp: fingerprint of the span k-gram starting at each token (:func:`span_fingerprints`).
        lf, le, lfp: short whole lines: first token, end token, fingerprint (:func:`line_units`).
    """

    masked: np.ndarray
    lid: np.ndarray
    kfp: np.ndarray
    lf: np.ndarray
    le: np.ndarray
    lfp: np.ndarray

    def fingerprints(self) -> np.ndarray:
        """The page's sorted unique fingerprints (what :func:`doc_fingerprints` returns)."""
        return sorted_unique(np.concatenate((self.kfp, self.lfp)))


def page_features(text: str, toks: Tokens, cfg: TemplateConfig) -> PageFeatures:
    """:class:`PageFeatures` of one page (the same as :func:`page_features_many` of one)."""
    if _K is not None:
        return _features_kernel([text], [toks], cfg)[0]
    masked = masked_hashes(toks, cfg)
    lid, _ = line_ids(text, toks)
    lf, le, lfp = line_units(text, toks, masked, cfg.span_tokens)
    return PageFeatures(masked, lid, span_fingerprints(masked, cfg.span_tokens), lf, le, lfp)


def page_features_many(texts: Sequence[str], toks_list: Sequence[Tokens], cfg: TemplateConfig) -> list[PageFeatures]:
    r""":func:`page_features` of many pages, equal results, with the digit, line, k-gram and line
    hashing passes run once over all pages (texts joined by ``"\n"``: a line break, so no line
    and no token crosses two pages; hashes do not depend on position).

    >>> from dedupe.core.tokenize import tokenize_batch
    >>> texts = ["Menu | Home\nPublié le 19/06/2024\nBody text here", "", "PUBLICITÉ\nx y z w v u t s r q p"]
    >>> toks = tokenize_batch(texts)
    >>> cfg = TemplateConfig()
    >>> all(bool((a.fingerprints() == page_features(t, tk, cfg).fingerprints()).all())
    ...     for a, t, tk in zip(page_features_many(texts, toks, cfg), texts, toks))
    True
    """
    m = len(texts)
    if not m:
        return []
    if _K is not None:
        return _features_kernel(texts, toks_list, cfg)
    k = cfg.span_tokens
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m), out=tok_off[1:])
    n = int(tok_off[-1])
    hashes = np.concatenate([np.asarray(t.hashes, dtype=np.uint64) for t in toks_list])
    if cfg.mask_digits and n:
        # digits: one code point pass over the normalised texts joined by "\n"
        nchar = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.fromiter((len(t.norm.text) + 1 for t in toks_list), dtype=np.int64, count=m), out=nchar[1:])
        cp = codepoints("\n".join(t.norm.text for t in toks_list))
        isd = _DIGIT.take(cp, mode="clip") & (cp <= 0xFFFF)
        cs = np.zeros(len(cp) + 1, dtype=np.int64)
        np.cumsum(isd, out=cs[1:])
        shift = np.repeat(nchar[:-1], np.diff(tok_off))
        ns = np.concatenate([t.nstart for t in toks_list]) + shift
        ne = np.concatenate([t.nend for t in toks_list]) + shift
        d = (cs[ne] - cs[ns]) > 0
        if d.any():
            hashes = hashes.copy()
            hashes[d] = DIGIT_TOKEN
    # lines: one newline pass over the original texts joined by "\n"
    char_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=m), out=char_off[1:])
    nl = codepoints("\n".join(texts)) == 10
    line_starts = np.concatenate(([0], np.flatnonzero(nl) + 1)).astype(np.int64)
    gstart = np.concatenate([t.start for t in toks_list]).astype(np.int64) + np.repeat(char_off[:-1], np.diff(tok_off))
    glid = np.searchsorted(line_starts, gstart, side="right") - 1
    page_line0 = np.searchsorted(line_starts, char_off[:-1], side="right") - 1
    # span k-grams of each page: a slice of the k-grams of the concatenation
    all_kg = span_fingerprints(hashes, k)
    # short whole lines of all pages (pages start on a new line, so a line never crosses pages)
    if n:
        brk = np.flatnonzero(np.diff(glid) != 0) + 1
        first = np.concatenate(([0], brk)).astype(np.int64)
        end = np.concatenate((brk, [n])).astype(np.int64)
        short = (end - first) < k
        first, end = first[short], end[short]
        lfp = fmix64(range_hashes(hashes, first, end, base=TOKEN_BASE) ^ LINE_SALT) if len(first) else np.empty(0, np.uint64)
    else:
        first = end = np.empty(0, dtype=np.int64)
        lfp = np.empty(0, dtype=np.uint64)
    l_off = np.searchsorted(first, tok_off).tolist()
    t_off = tok_off.tolist()
    p0 = page_line0.tolist()
    out: list[PageFeatures] = []
    for i in range(m):
        a, b = t_off[i], t_off[i + 1]
        la, lb = l_off[i], l_off[i + 1]
        out.append(PageFeatures(
            hashes[a:b], glid[a:b] - p0[i], all_kg[a : max(a, b - k + 1)],
            first[la:lb] - a, end[la:lb] - a, lfp[la:lb],
        ))
    return out


def _cat_i64(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.empty(0, dtype=np.int64)


def _feature_arrays(texts: Sequence[str], toks_list: Sequence[Tokens], cfg: TemplateConfig) -> tuple[np.ndarray, ...]:
    """The compiled kernel's page features of a chunk, concatenated: ``(tok_off, masked, lid,
    kfp, lf, le, lfp, l_off)``; page ``i`` owns tokens ``tok_off[i]:tok_off[i + 1]`` (its span
    k-grams start at the same positions of ``kfp``) and short lines ``l_off[i]:l_off[i + 1]``."""
    m = len(texts)
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m), out=tok_off[1:])
    n = int(tok_off[-1])
    start = _cat_i64([t.start for t in toks_list])
    if cfg.mask_digits:
        nstart, nend = _cat_i64([t.nstart for t in toks_list]), _cat_i64([t.nend for t in toks_list])
    else:  # not read
        nstart = nend = np.zeros(n, dtype=np.int64)
    hashes = np.concatenate([np.asarray(t.hashes, dtype=np.uint64) for t in toks_list]) if m else np.empty(0, np.uint64)
    masked = np.empty(n, dtype=np.uint64)
    lid = np.empty(n, dtype=np.int64)
    kfp = np.empty(n, dtype=np.uint64)
    lf = np.empty(n, dtype=np.int64)
    le = np.empty(n, dtype=np.int64)
    lfp = np.empty(n, dtype=np.uint64)
    l_off = np.empty(m + 1, dtype=np.int64)
    _K.features(
        list(texts), [t.norm.text for t in toks_list], tok_off, start, nstart, nend, hashes, _DIGIT, cfg.span_tokens,
        int(bool(cfg.mask_digits)), masked, lid, kfp, lf, le, lfp, l_off,
    )
    return tok_off, masked, lid, kfp, lf, le, lfp, l_off


def _features_kernel(texts: Sequence[str], toks_list: Sequence[Tokens], cfg: TemplateConfig) -> list[PageFeatures]:
    """:func:`page_features_many` through the compiled kernel (one call for the chunk)."""
    k = cfg.span_tokens
    tok_off, masked, lid, kfp, lf, le, lfp, l_off = _feature_arrays(texts, toks_list, cfg)
    t_off, lo = tok_off.tolist(), l_off.tolist()
    return [
        PageFeatures(masked[a:b], lid[a:b], kfp[a : max(a, b - k + 1)], lf[la:lb], le[la:lb], lfp[la:lb])
        for a, b, la, lb in zip(t_off[:-1], t_off[1:], lo[:-1], lo[1:])
    ]


def fingerprints_many(texts: Sequence[str], toks_list: Sequence[Tokens], cfg: TemplateConfig) -> list[np.ndarray]:
    """:func:`doc_fingerprints` of many pages (equal results): ``page_features_many`` then each
    page's sorted unique fingerprints (the compiled kernel sorts every page of the chunk in one
    call)."""
    return fingerprints_and_lines(texts, toks_list, cfg)[0]


def fingerprints_and_lines(
    texts: Sequence[str], toks_list: Sequence[Tokens], cfg: TemplateConfig
) -> tuple[list[np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]:
    """:func:`fingerprints_many` and, from the same compiled-kernel pass, ``(tok_off, lid)``: where
    each page's tokens start in the concatenation and each token's line within its page (the
    newlines before it: :attr:`PageFeatures.lid`), for
    :func:`dedupe.engine.crosspage.block_fingerprints_lines`; ``None`` for the lines without the
    kernel (or pages)."""
    if _K is None or not len(texts):
        return [f.fingerprints() for f in page_features_many(texts, toks_list, cfg)], None
    tok_off, _, lid, kfp, _, _, lfp, l_off = _feature_arrays(texts, toks_list, cfg)
    out = np.empty(len(kfp) + len(lfp), dtype=np.uint64)
    out_off = np.empty(len(texts) + 1, dtype=np.int64)
    _K.fingerprints(cfg.span_tokens, tok_off, kfp, l_off, lfp, out, out_off)
    o = out_off.tolist()
    return [out[a:b] for a, b in zip(o[:-1], o[1:])], (tok_off, lid)


def doc_fingerprints(text: str, toks: Tokens, cfg: TemplateConfig) -> np.ndarray:
    """Unique, sorted uint64 fingerprints of one page (span k-grams + short whole lines).

    Args:
        text: the page text (original).
        toks: ``tokenize(text)``.
        cfg: template settings (``span_tokens``, ``mask_digits``).

    Returns:
        sorted unique uint64 array, to pass to ``IndexStore.observe(site, doc_id, fps)``.

    >>> from dedupe.core.tokenize import tokenize
    >>> from dedupe.config import TemplateConfig
    >>> a, b = "Publié le : 19/06/2024 - 01:54", "Publié le : 02/07/2025 - 18:10"
    >>> cfg = TemplateConfig()
    >>> bool((doc_fingerprints(a, tokenize(a), cfg) == doc_fingerprints(b, tokenize(b), cfg)).all())
    True
    """
    masked = masked_hashes(toks, cfg)
    k = cfg.span_tokens
    spans = span_fingerprints(masked, k)
    _, _, lines = line_units(text, toks, masked, k)
    return sorted_unique(np.concatenate((spans, lines)))
