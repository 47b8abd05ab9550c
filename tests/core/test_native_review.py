"""Regressions from the read-only review of the C kernels (session of 2026-11-28); each test failed
(or crashed the interpreter) on the kernels before the fixes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dedupe.core import native


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(native.load("within") is None, reason="kernel not built")
def test_finish_survives_a_piece_getter_that_changes_the_list() -> None:
    # within.c finish read the caller's list items as borrowed references while start/end getters
    # (Python code) ran: a getter that cleared the list made it use freed items (segfault)
    r = _run('''
        from dedupe.core import spans
        lst = []
        class P:
            end = 5
            def __init__(self, s): self._s = s
            @property
            def start(self):
                lst.clear()
                return self._s
        lst.extend(P(i) for i in range(40))
        out = spans.finish_pieces("x" * 100, lst)
        print(len(out))
    ''')
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-500:]}"


@pytest.mark.skipif(native.load("minhash") is None, reason="kernel not built")
def test_shingle_hashes_rejects_offsets_whose_sum_overflows() -> None:
    k = native.load("minhash")
    with pytest.raises(ValueError):
        k.shingle_hashes(np.arange(4, dtype=np.uint64), np.array([2**63 - 2, 4], dtype=np.int64),
                         np.array([2], dtype=np.int64), np.array([0, 1], dtype=np.int64), 3, np.empty(1, dtype=np.uint64))


@pytest.mark.parametrize("name", ["text", "within", "site"])
def test_misaligned_and_wrong_format_buffers_are_refused(name: str) -> None:
    k = native.load(name)
    if k is None:
        pytest.skip("kernel not built")
    unaligned = np.frombuffer(bytearray(88), dtype=np.uint64, offset=1, count=10)
    floats = np.zeros(10, dtype=np.float64)
    if name == "text":
        for bad in (unaligned, floats):
            with pytest.raises(ValueError):
                k.kgram_hashes(bad, 3, 5, np.empty(8, dtype=np.uint64))
    elif name == "within":
        mask = np.zeros(10, dtype=np.uint8)
        for bad in (np.frombuffer(bytearray(88), dtype=np.int64, offset=1, count=10), floats):
            with pytest.raises(ValueError):
                k.mark(mask, bad, np.zeros(10, dtype=np.int64))
    else:
        z = np.zeros(1, dtype=np.int64)
        for bad in (np.frombuffer(bytearray(88), dtype=np.int64, offset=1, count=10), floats):
            with pytest.raises(ValueError, match="u_off"):
                k.main_runs(bad, *[z] * 7, 1, 1, *[z] * 9)


def test_astral_text_costs_one_callback_per_distinct_code_point() -> None:
    from dedupe.core import tokenize as tk

    k = native.load("text")
    if k is None:
        pytest.skip("kernel not built")
    calls: list[int] = []

    def char_class(cp: int) -> int:
        calls.append(cp)
        return tk._char_class(cp)

    text = "\U0001F600\U00020000a" * 5000
    k.tokens(text, tk._bmp_class(), char_class)
    assert len(set(calls)) == 2 and len(calls) <= 4, len(calls)


@pytest.mark.skipif(native.load("minhash") is None, reason="kernel not built")
def test_band_keys_refuses_a_misaligned_signature_buffer() -> None:
    k = native.load("minhash")
    bad = np.frombuffer(bytearray(8 * 16 + 4), dtype=np.uint64, offset=4, count=16)
    with pytest.raises(ValueError, match="aligned"):
        k.band_keys(bad, 16, 4, np.empty(4, dtype=np.uint64))
